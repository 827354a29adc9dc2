/**
 * The `grader` section of the companion's configuration. It lives beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */
import { tolerationsSchema, type IToleration } from '../../platform/kubernetes/placement.js';

export interface IGraderConfig {
  /** The course environment's python, with nbgrader from PyPI (dev/grader/venv.sh prints it). Unset: grader off. */
  python?: string;
  /** Course directories are <coursesRoot>/<course> (nbgrader's CourseDirectory.root). */
  coursesRoot: string;
  /** nbgrader's exchange root (Exchange.root), shared by all courses. */
  exchangeRoot: string;
  /**
   * A student's home as the companion sees it, where fetch puts assignments: `{user}` is the hub
   * name, `{namespace}` the user's namespace (kubernetes.tenancy.namespacePrefix): a home volume
   * that local-path-provisioner made with pathPattern `{{ .PVC.Namespace }}/{{ .PVC.Name }}` is
   * `<its path>/{namespace}/claim-{user}`. Unset: no student fetch/submit.
   */
  homes?: string;
  /**
   * Who owns what fetch and submit create in a home (the user's server's uid and gid, e.g. 1000:100
   * under KubeSpawner), so the student's server can edit it; files already there keep their owner.
   * Set, a missing home means the server never started (it makes the volume): home_not_ready.
   * Unset: the companion's own user. `"uid:gid"` too, as HOTSTEPPER_GRADER_HOMES_OWNER gives it.
   */
  homesOwner?: IOwner | string;
  /** Autograde units that run at once. */
  concurrency: number;
  /** nbgrader's ExecutePreprocessor.timeout: one cell's limit (an infinite loop is interrupted). */
  cellTimeoutSeconds: number;
  /** Wall-clock limit of one autograde unit, kernel included; then it is killed and marked failed. */
  unitTimeoutSeconds: number;
  /** Address-space limit (RLIMIT_AS) of one unit and its kernel. */
  unitMemoryMb: number;
  /** nbgrader's LateSubmissionPlugin.penalty_method: none, or zero points when late. */
  latePenalty: 'none' | 'zero';
  /** A submit through the companion after the due date (plus extension): allowed and flagged, or refused. */
  lateSubmissions: 'flag' | 'block';
  /**
   * kubernetes (the default): a batch/v1 Job per unit. local: a forked process per unit on the
   * companion's machine, for a single-machine hub only (units.ts): the companion must run as
   * root, and each unit runs as local.account, in a mount namespace of its own that shows only the
   * unit's own course folders.
   */
  executor: 'local' | 'kubernetes';
  local: IGraderLocalConfig;
  kubernetes: IGraderKubernetesConfig;
}

/** Autograde units as sandboxed processes on the companion's machine (executor local). */
export interface IGraderLocalConfig {
  /**
   * The Unix account units run as: never root nor the companion's own, and not a person's (one
   * account for every course's units). The companion (root) switches to it in each unit, after
   * laying a mount namespace over the machine that shows the unit only its own course folders
   * (units-objects.ts, unitMounts), no other course, no exchange and nothing of the companion.
   */
  account: string;
}

export interface IOwner {
  uid: number;
  gid: number;
}

/** Autograde units as Jobs (grader/units-kubernetes.ts). */
export interface IGraderKubernetesConfig {
  /** Where the unit Jobs run: the course's namespace (labelled as Hotstepper's under the admission policy). */
  namespace?: string;
  /** The course image: the course environment, nbgrader and driver.py at driverPath. */
  image?: string;
  python: string;
  driverPath: string;
  /**
   * The claim holding coursesRoot (at coursesSubPath in it). A unit mounts only what grading needs
   * of its own course from it (units-objects.ts, unitMounts), each at the companion's own path.
   */
  coursesClaim?: string;
  coursesSubPath: string;
  /** The claim holding exchangeRoot. Accepted for the chart's sake: units do not mount the exchange. */
  exchangeClaim?: string;
  exchangeSubPath: string;
  /** CPU request and limit of a unit; memory is unitMemoryMb. */
  cpu: number;
  /**
   * The uid a unit runs as (never root): the companion's, so it writes the course directory the
   * companion made, or any uid when the companion runs as root, which then hands each unit's two
   * writable folders to runAsUser (and fsGroup) before its Job (units-kubernetes.ts).
   */
  runAsUser: number;
  fsGroup?: number;
  backoffLimit: number;
  ttlSecondsAfterFinished: number;
  podAnnotations: Record<string, string>;
  /** Also `key=value` strings, as HOTSTEPPER_GRADER_NODE_SELECTOR gives them (placementOf). */
  nodeSelector: Record<string, string> | string[];
  /** Also `key[=value][:effect]` strings, as HOTSTEPPER_GRADER_TOLERATIONS gives them. */
  tolerations: (IToleration | string)[];
  /** For a private course image's imagePullSecrets; its token is never mounted. */
  serviceAccountName?: string;
}

const stringMap = { type: 'object', additionalProperties: { type: 'string' }, default: {} };
const dnsName = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 };
const kubernetesSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    image: { type: 'string', minLength: 1 },
    python: { type: 'string', minLength: 1, default: 'python3' },
    driverPath: {
      type: 'string',
      pattern: '^/',
      default: '/usr/local/share/hotstepper/grader/driver.py'
    },
    coursesClaim: dnsName,
    coursesSubPath: { type: 'string', pattern: '^([^/].*)?$', default: '' },
    exchangeClaim: dnsName,
    exchangeSubPath: { type: 'string', pattern: '^([^/].*)?$', default: '' },
    cpu: { type: 'number', minimum: 0.01, maximum: 64, default: 1 },
    runAsUser: { type: 'integer', minimum: 1, default: 1000 },
    fsGroup: { type: 'integer', minimum: 0 },
    backoffLimit: { type: 'integer', minimum: 0, maximum: 10, default: 0 },
    ttlSecondsAfterFinished: { type: 'integer', minimum: 0, maximum: 2592000, default: 3600 },
    podAnnotations: stringMap,
    // An environment variable holds strings (platform/config.ts maps strings, integers, lists).
    nodeSelector: {
      default: {},
      anyOf: [
        { type: 'object', additionalProperties: { type: 'string' } },
        { type: 'array', items: { type: 'string', pattern: '^[^=]+=' } }
      ]
    },
    tolerations: {
      ...tolerationsSchema,
      items: { anyOf: [tolerationsSchema.items, { type: 'string', pattern: '^[^=:]+' }] }
    },
    serviceAccountName: dnsName
  }
};

/** What kubernetes mode cannot start without, as one sentence an operator can act on. */
export function missingForKubernetes(config: IGraderConfig): string | undefined {
  const k = config.kubernetes;
  const missing = (['namespace', 'image', 'coursesClaim'] as const).filter(key => !k[key]);
  if (!missing.length) return undefined;
  return `grader.executor is kubernetes, but grader.kubernetes has no ${missing.join(', ')}`;
}

/** A unit's nodeSelector and tolerations as objects, whichever form they were given in. */
export function placementOf(k: IGraderKubernetesConfig): {
  nodeSelector: Record<string, string>;
  tolerations: IToleration[];
} {
  const pairs = Array.isArray(k.nodeSelector)
    ? k.nodeSelector.map(entry => [
        entry.slice(0, entry.indexOf('=')),
        entry.slice(entry.indexOf('=') + 1)
      ])
    : Object.entries(k.nodeSelector);
  const tolerations = k.tolerations.map((t): IToleration => {
    if (typeof t !== 'string') return t;
    // kubectl taint's form: key[=value][:effect]; without a value it tolerates any (Exists).
    const [pair, effect] = t.split(':') as [string, IToleration['effect'] | undefined];
    const [key, value] = pair.split('=');
    return value === undefined
      ? { key, operator: 'Exists', ...(effect ? { effect } : {}) }
      : { key, operator: 'Equal', value, ...(effect ? { effect } : {}) };
  });
  return { nodeSelector: Object.fromEntries(pairs), tolerations };
}

/** grader.homesOwner as numbers, whichever form it was given in. */
export function homesOwnerOf(config: IGraderConfig): IOwner | undefined {
  if (typeof config.homesOwner !== 'string') return config.homesOwner;
  const [uid, gid] = config.homesOwner.split(':').map(Number);
  return { uid, gid };
}

const id = { type: 'integer', minimum: 0, maximum: 4294967294 };
export const graderConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    python: { type: 'string', minLength: 1 },
    coursesRoot: { type: 'string', minLength: 1, default: 'courses' },
    exchangeRoot: { type: 'string', minLength: 1, default: 'exchange' },
    homes: { type: 'string', pattern: '\\{(user|namespace)\\}' },
    homesOwner: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['uid', 'gid'],
          properties: { uid: id, gid: id }
        },
        // An environment variable holds one string (platform/config.ts maps strings, integers, lists).
        { type: 'string', pattern: '^\\d{1,10}:\\d{1,10}$' }
      ]
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    cellTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    unitTimeoutSeconds: { type: 'integer', minimum: 5, maximum: 7200, default: 300 },
    unitMemoryMb: { type: 'integer', minimum: 256, maximum: 262144, default: 4096 },
    latePenalty: { enum: ['none', 'zero'], default: 'none' },
    lateSubmissions: { enum: ['flag', 'block'], default: 'flag' },
    executor: { enum: ['local', 'kubernetes'], default: 'kubernetes' },
    local: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { account: { type: 'string', minLength: 1, default: 'hotstepper-grader' } }
    },
    kubernetes: kubernetesSchema
  }
};

/** Environment variables of the grader section (platform/config.ts merges them). */
export const graderEnvKeys: Record<string, [path: string, kind: 'string' | 'integer' | 'list']> = {
  HOTSTEPPER_GRADER_PYTHON: ['grader.python', 'string'],
  HOTSTEPPER_GRADER_COURSES: ['grader.coursesRoot', 'string'],
  HOTSTEPPER_GRADER_EXCHANGE: ['grader.exchangeRoot', 'string'],
  HOTSTEPPER_GRADER_HOMES: ['grader.homes', 'string'],
  HOTSTEPPER_GRADER_HOMES_OWNER: ['grader.homesOwner', 'string'],
  HOTSTEPPER_GRADER_CONCURRENCY: ['grader.concurrency', 'integer'],
  HOTSTEPPER_GRADER_EXECUTOR: ['grader.executor', 'string'],
  HOTSTEPPER_GRADER_LOCAL_ACCOUNT: ['grader.local.account', 'string'],
  HOTSTEPPER_GRADER_IMAGE: ['grader.kubernetes.image', 'string'],
  HOTSTEPPER_GRADER_NAMESPACE: ['grader.kubernetes.namespace', 'string'],
  HOTSTEPPER_GRADER_IMAGE_PYTHON: ['grader.kubernetes.python', 'string'],
  HOTSTEPPER_GRADER_DRIVER_PATH: ['grader.kubernetes.driverPath', 'string'],
  HOTSTEPPER_GRADER_COURSES_CLAIM: ['grader.kubernetes.coursesClaim', 'string'],
  HOTSTEPPER_GRADER_RUN_AS_USER: ['grader.kubernetes.runAsUser', 'integer'],
  HOTSTEPPER_GRADER_FS_GROUP: ['grader.kubernetes.fsGroup', 'integer'],
  HOTSTEPPER_GRADER_NODE_SELECTOR: ['grader.kubernetes.nodeSelector', 'list'],
  HOTSTEPPER_GRADER_TOLERATIONS: ['grader.kubernetes.tolerations', 'list']
};
