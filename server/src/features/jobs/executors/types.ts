/**
 * What an executor is to the jobs service: it starts, stops and forgets a job and streams its
 * output; it reports state changes through `update`. The service owns the database row.
 */
import type { JobPreview, JobSpec, JobState } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';

/** A job as an executor sees it: the resolved spec, plus the secrets at start only. */
export interface IJobRun {
  id: string;
  user: string;
  spec: JobSpec;
  /** Only when starting; never stored by the companion. */
  secretEnv?: Record<string, string>;
  /** What the executor recorded to find the job again (pid, Kubernetes Job name...). */
  runtime: Record<string, unknown>;
  state: JobState;
  createdAt: string;
}

export interface IJobUpdate {
  state?: JobState;
  startedAt?: string | null;
  finishedAt?: string | null;
  exitCode?: number | null;
  message?: string | null;
  output?: string | null;
  runtime?: Record<string, unknown>;
}

export interface ILogEvent {
  event: 'line' | 'notice';
  /** Where the next line starts: a byte offset (local) or a line count (Kubernetes). */
  id?: string;
  data: string;
}

export interface ILogOptions {
  /** Resume after this event id. */
  after?: string;
  /** Start this many lines before the end. */
  tail?: number;
  follow: boolean;
  signal: AbortSignal;
  /** True once the job has ended (read from the database). */
  finished(): Promise<boolean>;
}

export interface IDefaults {
  spec: Partial<JobSpec>;
  /** e.g. notebook-server:jupyter-alice */
  from?: string;
}

export interface IExecutorContext {
  update(id: string, patch: IJobUpdate): Promise<void>;
  /** The user a job belongs to (from the database), or undefined when there is no such job. */
  owner(id: string): Promise<string | undefined>;
  log: FastifyBaseLogger;
}

export interface IJobExecutor {
  readonly kind: 'local' | 'kubernetes';
  /** What the user's own environment says a job should get (Kubernetes: their notebook pod). */
  defaults(user: string): Promise<IDefaults>;
  /** Checks only the executor can make (the notebook exists; quota). Throws an HttpProblem. */
  check(user: string, spec: JobSpec): Promise<void>;
  /** The quota headroom for the preview; empty when there is no quota. */
  quota(user: string, spec: JobSpec): Promise<JobPreview['quota']>;
  /** Start it; resolves once it has been handed over (state pending or running). */
  start(job: IJobRun): Promise<IJobUpdate>;
  cancel(job: IJobRun): Promise<void>;
  /** Forget it: stop it if it runs, remove logs and objects. */
  remove(job: IJobRun): Promise<void>;
  logs(job: IJobRun, options: ILogOptions, emit: (event: ILogEvent) => void): Promise<void>;
  /** After a restart: follow again what was pending or running. */
  resume(jobs: IJobRun[]): Promise<void>;
  close(): Promise<void>;
}
