/**
 * The jobs of every user: the database row is the source of truth of the list, the executor does
 * the running and reports back through update(). No HTTP here: routes.ts adapts.
 */
import { randomBytes } from 'node:crypto';
import type { Job, JobList, JobOptions, JobPreview, JobSpec, JobState } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { IClusterIndex } from '../../platform/kubernetes/cluster-index.js';
import { HttpProblem } from '../../platform/problem.js';
import type { IJobsConfig } from './config.js';
import type {
  IJobExecutor,
  IJobRun,
  IJobUpdate,
  ILogEvent,
  ILogOptions
} from './executors/types.js';
import type { JobsTable, JobsTables } from './migrations.js';
import {
  checkParametersSize,
  checkSpec,
  gpuResource,
  resolveSpec,
  type IResolved
} from './spec.js';

type Row = Selectable<JobsTable>;
export const FINISHED: JobState[] = ['succeeded', 'failed', 'cancelled'];
const isFinished = (state: string) => FINISHED.includes(state as JobState);

export interface IJobsServiceDeps {
  db: Kysely<object>;
  config: IJobsConfig;
  executor: IJobExecutor;
  clusterIndex: IClusterIndex | null;
  log: FastifyBaseLogger;
}

/** Sortable by creation time, unguessable. */
export const newJobId = () => `j${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;

const notFound = (id: string) =>
  new HttpProblem(404, 'not_found', `You have no job "${id}" (it may have been deleted).`);

/** Room beyond the log cap for the line the local executor writes where it cut the log. */
const LOG_NOTE_ROOM = 1024;

const round = (n: number) => Math.round(n * 10000) / 10000;

export function toJob(row: Row, now = Date.now()): Job {
  const spec = JSON.parse(row.spec) as JobSpec;
  const runtime = JSON.parse(row.runtime) as Record<string, unknown>;
  const started = row.started_at ? Date.parse(row.started_at) : undefined;
  const ended = row.finished_at ? Date.parse(row.finished_at) : now;
  const seconds = started === undefined ? null : Math.max(0, (ended - started) / 1000);
  const hours = (seconds ?? 0) / 3600;
  return {
    id: row.id,
    name: row.name,
    state: row.state as JobState,
    executor: row.executor as Job['executor'],
    spec,
    secretEnvNames: JSON.parse(row.secret_env_names) as string[],
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationSeconds: seconds === null ? null : round(seconds),
    exitCode: row.exit_code,
    message: row.message,
    output: row.output,
    usage: {
      cpuHours: round((spec.cpu ?? 0) * hours),
      memoryGiBHours: round(((spec.memoryMiB ?? 0) / 1024) * hours),
      gpuHours: round((spec.gpu ? (spec.gpu.count ?? 1) : 0) * hours)
    },
    unseen: row.unseen === 1,
    kubernetes:
      typeof runtime.jobName === 'string' && typeof runtime.namespace === 'string'
        ? { namespace: runtime.namespace, jobName: runtime.jobName }
        : null
  };
}

const toRun = (row: Row, secretEnv?: Record<string, string>): IJobRun => ({
  id: row.id,
  user: row.user_name,
  spec: JSON.parse(row.spec) as JobSpec,
  secretEnv,
  runtime: JSON.parse(row.runtime) as Record<string, unknown>,
  state: row.state as JobState,
  createdAt: row.created_at
});

function encodeCursor(row: Row) {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}
function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(value) && value.length === 2 && value.every(v => typeof v === 'string')) {
      return value as [string, string];
    }
  } catch {
    // answered below
  }
  throw new HttpProblem(
    400,
    'validation_failed',
    'The request is not valid: query.cursor is not a cursor this API gave out.',
    [{ path: 'query.cursor', message: 'is not a cursor this API gave out' }]
  );
}

export function createJobsService(deps: IJobsServiceDeps) {
  const { config, executor, clusterIndex, log } = deps;
  const tables = deps.db.withTables<JobsTables>();

  async function row(user: string, id: string): Promise<Row> {
    const found = await tables
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .where('user_name', '=', user)
      .executeTakeFirst();
    if (!found) throw notFound(id);
    return found;
  }

  async function update(id: string, patch: IJobUpdate): Promise<void> {
    const values: Partial<Row> = {};
    if (patch.state !== undefined) values.state = patch.state;
    // The first start counts: a later report (a pod's terminated state) must not move it.
    if (patch.startedAt)
      values.started_at =
        sql<string>`coalesce(started_at, ${patch.startedAt})` as unknown as string;
    if (patch.finishedAt !== undefined) values.finished_at = patch.finishedAt;
    if (patch.exitCode !== undefined) values.exit_code = patch.exitCode;
    if (patch.message !== undefined) values.message = patch.message;
    if (patch.output !== undefined) values.output = patch.output;
    if (patch.runtime !== undefined) values.runtime = JSON.stringify(patch.runtime);
    if (patch.state && isFinished(patch.state)) values.unseen = 1;
    let query = tables.updateTable('jobs').set(values).where('id', '=', id);
    // A finished job stays finished: a late event of the executor cannot revive it.
    if (patch.state) query = query.where('state', 'not in', FINISHED);
    await query.execute();
  }

  async function prepare(user: string, input: JobSpec): Promise<IResolved> {
    checkParametersSize(config, input);
    const defaults = await executor.defaults(user);
    const resolved = resolveSpec(config, input, defaults);
    checkSpec(
      config,
      resolved.spec,
      {
        executor: executor.kind,
        defaultImage: defaults.spec.image,
        gpus: clusterIndex?.synced() ? clusterIndex.gpus() : null
      },
      resolved.secretEnv
    );
    await executor.check(user, resolved.spec);
    return resolved;
  }

  /** 429 when the user already has as many pending and running jobs as one user may have. */
  async function checkActive(user: string): Promise<void> {
    const cap = config.caps.activeJobsPerUser;
    const found = await tables
      .selectFrom('jobs')
      .select(eb => eb.fn.countAll<number>().as('n'))
      .where('user_name', '=', user)
      .where('state', 'not in', FINISHED)
      .executeTakeFirst();
    const active = Number(found?.n ?? 0);
    if (active >= cap) {
      throw new HttpProblem(
        429,
        'too_many_jobs',
        `You have ${active} jobs pending or running, and one user may have at most ${cap} at ` +
          'once. Wait for one to finish or cancel one, then submit again.',
        undefined,
        { headers: { 'retry-after': '60' } }
      );
    }
  }

  async function start(user: string, resolved: IResolved): Promise<Job> {
    await checkActive(user);
    const id = newJobId();
    const record: Row = {
      id,
      user_name: user,
      name: resolved.spec.name ?? id,
      state: 'pending',
      executor: executor.kind,
      spec: JSON.stringify(resolved.spec),
      secret_env_names: JSON.stringify(Object.keys(resolved.secretEnv)),
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      exit_code: null,
      message: null,
      output: null,
      unseen: 0,
      runtime: '{}'
    };
    await tables.insertInto('jobs').values(record).execute();
    let patch: IJobUpdate;
    try {
      patch = await executor.start(toRun(record, resolved.secretEnv));
    } catch (err) {
      // Nothing half-made: the executor cleans up its side, the row goes.
      await tables.deleteFrom('jobs').where('id', '=', id).execute();
      throw err;
    }
    await update(id, patch);
    return toJob(await row(user, id));
  }

  return {
    update,

    /** Whose job `id` is; undefined when there is none. */
    async owner(id: string): Promise<string | undefined> {
      const found = await tables
        .selectFrom('jobs')
        .select('user_name')
        .where('id', '=', id)
        .executeTakeFirst();
      return found?.user_name;
    },

    options(): JobOptions {
      return {
        executor: executor.kind,
        images: config.images,
        // What a template runs, never the secrets the operator gave it: every user reads this.
        templates: config.templates.map(t => {
          const spec = { ...t.spec };
          delete spec.secretEnv;
          return { ...t, spec };
        }),
        limits: config.limits,
        defaults: {
          cpu: config.defaults.cpu,
          memoryMiB: config.defaults.memoryMiB,
          timeLimitSeconds: config.defaults.timeLimitSeconds,
          ...(config.defaults.image ? { image: config.defaults.image } : {})
        }
      };
    },

    async preview(user: string, input: JobSpec): Promise<JobPreview> {
      const resolved = await prepare(user, input);
      const quota = await executor.quota(user, resolved.spec);
      const notes: string[] = [];
      let gpus: JobPreview['gpus'] = null;
      const gpu = resolved.spec.gpu;
      if (gpu && clusterIndex?.synced()) {
        const all = clusterIndex.gpus();
        const rows = gpu.migProfile
          ? all.migProfiles.filter(
              m => m.profile === gpu.migProfile && (!gpu.model || m.product === gpu.model)
            )
          : all.models.filter(m => m.product === gpu.model);
        const free = rows.reduce((n, r) => n + r.free, 0);
        gpus = {
          resource: gpuResource(gpu),
          label: gpu.migProfile
            ? `MIG ${gpu.migProfile}${gpu.model ? ` on ${gpu.model}` : ''}`
            : String(gpu.model),
          free,
          total: rows.reduce((n, r) => n + r.total, 0)
        };
        if (free < (gpu.count ?? 1))
          notes.push('No such GPU is free right now: the job will wait for one.');
      }
      if (executor.kind === 'local')
        notes.push('Runs on the hub machine as a process in your home directory.');
      return {
        spec: resolved.spec,
        executor: executor.kind,
        defaultsFrom: resolved.defaultsFrom,
        quota,
        gpus,
        fits: quota.every(q => q.fits),
        notes
      };
    },

    async create(user: string, input: JobSpec): Promise<Job> {
      return start(user, await prepare(user, input));
    },

    async rerun(user: string, id: string): Promise<Job> {
      const old = toJob(await row(user, id));
      if (old.secretEnvNames.length) {
        throw new HttpProblem(
          400,
          'rerun_needs_secrets',
          `This job had secret environment variables (${old.secretEnvNames.join(', ')}), which the companion does not keep: submit it again from the form with them.`
        );
      }
      const spec = { ...old.spec };
      return start(user, await prepare(user, spec));
    },

    async list(
      user: string,
      query: { state?: JobState; unseen?: boolean; limit?: number; cursor?: string }
    ): Promise<JobList> {
      const limit = query.limit ?? 50;
      let q = tables.selectFrom('jobs').selectAll().where('user_name', '=', user);
      if (query.state) q = q.where('state', '=', query.state);
      if (query.unseen) q = q.where('unseen', '=', 1);
      if (query.cursor) {
        const [created, id] = decodeCursor(query.cursor);
        q = q.where(eb =>
          eb.or([
            eb('created_at', '<', created),
            eb.and([eb('created_at', '=', created), eb('id', '<', id)])
          ])
        );
      }
      const rows = await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const unseen = await tables
        .selectFrom('jobs')
        .select(eb => eb.fn.countAll<number>().as('n'))
        .where('user_name', '=', user)
        .where('unseen', '=', 1)
        .executeTakeFirst();
      const now = Date.now();
      return {
        items: page.map(r => toJob(r, now)),
        next: rows.length > limit ? encodeCursor(page[page.length - 1]) : null,
        unseen: Number(unseen?.n ?? 0)
      };
    },

    async get(user: string, id: string): Promise<Job> {
      return toJob(await row(user, id));
    },

    /** For the log route: the job's run and a way to ask whether it has ended. */
    async run(user: string, id: string): Promise<IJobRun> {
      return toRun(await row(user, id));
    },

    /**
     * The job's log, at most jobs.caps.logBytesPerJob (and the local executor's note that it was
     * cut) in one stream: past that a notice says so and the stream ends; the job goes on.
     */
    async logs(
      run: IJobRun,
      options: ILogOptions,
      emit: (event: ILogEvent) => void
    ): Promise<void> {
      const cap = config.caps.logBytesPerJob + LOG_NOTE_ROOM;
      const cut = new AbortController();
      let served = 0;
      await executor.logs(
        run,
        { ...options, signal: AbortSignal.any([options.signal, cut.signal]) },
        event => {
          if (cut.signal.aborted) return;
          served += Buffer.byteLength(event.data) + 1;
          if (served > cap) {
            cut.abort();
            emit({
              event: 'notice',
              data:
                `The log is cut here: the companion serves at most ${config.caps.logBytesPerJob} ` +
                "bytes of a job's log (jobs.caps.logBytesPerJob). The job itself goes on."
            });
            return;
          }
          emit(event);
        }
      );
    },

    async finished(id: string): Promise<boolean> {
      const found = await tables
        .selectFrom('jobs')
        .select('state')
        .where('id', '=', id)
        .executeTakeFirst();
      return !found || isFinished(found.state);
    },

    async state(id: string): Promise<{ state: JobState; exitCode: number | null } | undefined> {
      const found = await tables
        .selectFrom('jobs')
        .select(['state', 'exit_code'])
        .where('id', '=', id)
        .executeTakeFirst();
      return found ? { state: found.state as JobState, exitCode: found.exit_code } : undefined;
    },

    async cancel(user: string, id: string): Promise<Job> {
      const current = await row(user, id);
      if (!isFinished(current.state)) {
        await executor.cancel(toRun(current));
        // The executor reports the end; wait briefly so the answer usually shows it.
        for (let i = 0; i < 50 && !(await this.finished(id)); i++) {
          await new Promise(r => setTimeout(r, 100));
        }
      }
      return toJob(await row(user, id));
    },

    async remove(user: string, id: string): Promise<void> {
      const current = await row(user, id);
      await executor.remove(toRun(current));
      await tables.deleteFrom('jobs').where('id', '=', id).execute();
    },

    async markSeen(user: string, ids: string[]): Promise<string[]> {
      if (!ids.length) return [];
      await tables
        .updateTable('jobs')
        .set({ unseen: 0 })
        .where('user_name', '=', user)
        .where('id', 'in', ids)
        .execute();
      return ids;
    },

    /** After a restart: everything that was pending or running goes back to its executor. */
    async resume(): Promise<void> {
      const rows = await tables
        .selectFrom('jobs')
        .selectAll()
        .where('state', 'in', ['pending', 'running'])
        .where('executor', '=', executor.kind)
        .execute();
      if (rows.length) log.info({ jobs: rows.length }, 'resuming jobs after a start');
      await executor.resume(rows.map(r => toRun(r)));
    }
  };
}

export type JobsService = ReturnType<typeof createJobsService>;
