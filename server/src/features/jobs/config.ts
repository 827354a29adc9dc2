/**
 * The `jobs` section of the companion's configuration. It lives here, beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */
import type { JobSpec } from '@hotstepper/schema';
import { tolerationsSchema, type IToleration } from '../../platform/kubernetes/placement.js';

export interface IJobTemplateConfig {
  name: string;
  title: string;
  description: string;
  spec: JobSpec;
}

export interface IJobsConfig {
  /**
   * kubernetes (the default): a batch/v1 Job in the user's namespace. local: a supervised process
   * per job, only for a single-machine hub whose users are Unix accounts: each job runs as its
   * owner's account (local.account), and the executor refuses to start unless the companion is
   * root and its state is closed to other accounts.
   */
  executor: 'local' | 'kubernetes';
  /** Images a job may use (Kubernetes). The notebook server's image is allowed when it is on it. */
  images: string[];
  templates: IJobTemplateConfig[];
  defaults: { cpu: number; memoryMiB: number; timeLimitSeconds: number; image?: string };
  limits: {
    maxCpu: number;
    maxMemoryMiB: number;
    maxGpus: number;
    maxTimeLimitSeconds: number;
    maxParametersBytes: number;
  };
  /** Per user and per job, so one user cannot take the companion for themselves (429 over them). */
  caps: {
    /** Pending and running jobs one user may have at once; one more submit answers 429. */
    activeJobsPerUser: number;
    /** Live log streams (SSE) one user may hold open at once, on one companion replica. */
    logStreamsPerUser: number;
    /** A job's log is cut after this many bytes (the job goes on); one stream serves no more. */
    logBytesPerJob: number;
  };
  local: {
    /** The Unix account a user's jobs run as, `{username}` replaced: never root nor the companion's. */
    account: string;
    /** Each user's home, `{username}` replaced: the working directory and notebook root. */
    homeRoot: string;
    /** The papermill executable that runs notebook jobs. */
    papermill: string;
    /** Where job logs and exit files go; default: jobs/ beside the SQLite database. */
    logDir?: string;
    /** Between SIGTERM and SIGKILL when a job is cancelled or over its time limit. */
    killGraceSeconds: number;
  };
  kubernetes: {
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    /** Added to every job pod, e.g. cluster-autoscaler or kwok stage annotations. */
    podAnnotations: Record<string, string>;
    /** Where the job's command runs when the notebook server says nothing. */
    workingDir: string;
    /** Where job pods may run when the notebook pod does not say: e.g. the nodes for user code. */
    nodeSelector: Record<string, string>;
    tolerations: IToleration[];
  };
}

const num = (minimum: number, maximum: number, value: number) => ({
  type: 'number',
  minimum,
  maximum,
  default: value
});
const int = (minimum: number, maximum: number, value: number) => ({
  type: 'integer',
  minimum,
  maximum,
  default: value
});
const section = (properties: Record<string, object>, required: string[] = []) => ({
  type: 'object',
  default: {},
  additionalProperties: false,
  required,
  properties
});

export const jobsConfigSchema = section({
  executor: { enum: ['local', 'kubernetes'], default: 'kubernetes' },
  images: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
  templates: {
    type: 'array',
    default: [],
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'title', 'spec'],
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 63 },
        title: { type: 'string', minLength: 1 },
        description: { type: 'string', default: '' },
        // Checked against the JobSpec resource when the feature starts (jobs/spec.ts).
        spec: { type: 'object', default: {} }
      }
    }
  },
  defaults: section({
    cpu: num(0.01, 1024, 1),
    memoryMiB: int(64, 4194304, 2048),
    timeLimitSeconds: int(10, 2592000, 3600),
    image: { type: 'string', minLength: 1 }
  }),
  limits: section({
    maxCpu: num(0.01, 1024, 16),
    maxMemoryMiB: int(64, 4194304, 65536),
    maxGpus: int(0, 16, 4),
    maxTimeLimitSeconds: int(10, 2592000, 604800),
    maxParametersBytes: int(0, 1048576, 65536)
  }),
  caps: section({
    activeJobsPerUser: int(1, 1000, 10),
    logStreamsPerUser: int(1, 1000, 8),
    logBytesPerJob: int(1024, 17179869184, 67108864)
  }),
  local: section({
    account: { type: 'string', minLength: 1, default: '{username}' },
    homeRoot: { type: 'string', minLength: 1, default: '/home/{username}' },
    papermill: { type: 'string', minLength: 1, default: 'papermill' },
    logDir: { type: 'string', minLength: 1 },
    killGraceSeconds: num(0, 300, 10)
  }),
  kubernetes: section({
    backoffLimit: int(0, 10, 0),
    ttlSecondsAfterFinished: int(0, 2592000, 3600),
    podAnnotations: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    workingDir: { type: 'string', pattern: '^/', default: '/home/jovyan' },
    nodeSelector: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    tolerations: tolerationsSchema
  })
});

export const jobsEnvKeys: Record<string, [path: string, kind: 'string' | 'list']> = {
  HOTSTEPPER_JOBS_EXECUTOR: ['jobs.executor', 'string'],
  HOTSTEPPER_JOBS_IMAGES: ['jobs.images', 'list'],
  HOTSTEPPER_JOBS_ACCOUNT: ['jobs.local.account', 'string'],
  HOTSTEPPER_JOBS_HOME_ROOT: ['jobs.local.homeRoot', 'string'],
  HOTSTEPPER_JOBS_PAPERMILL: ['jobs.local.papermill', 'string']
};
