/**
 * The `idle` section of the companion's configuration: the idle guard's policy per server profile.
 * It lives beside the feature; platform/config.ts folds it into the one validated schema and calls
 * idleConfigProblems for what a schema cannot say (stop before warn, an unknown profile).
 * Defaults follow CERIT-SC's hubresguard: a GPU server idle 2 days is stopped, a CPU-only one 4.
 */

export interface IIdleThresholds {
  /** Busiest segment's CPU use at or above this many cores is use. */
  cpuCores?: number;
  /** Busiest segment's GPU engine utilisation at or above this percentage is use. */
  gpuPercent?: number;
  /** Working-set growth over the window at or above this many MiB is use. */
  memoryGrowthMiB?: number;
}

export interface IIdleProfile {
  /** Which servers this profile judges; the first matching profile (in file order) wins. */
  match: { gpu?: boolean; serverName?: string };
  /** How often the guard looks at this profile's servers. */
  intervalSeconds: number;
  /** One judged stretch of time: a window with no use counts one idle window. */
  windowSeconds: number;
  /** Utilisation is averaged per segment; the busiest segment of the window decides. */
  segmentSeconds: number;
  thresholds: IIdleThresholds;
  /** Consecutive idle windows before the owner is warned, and before the server is stopped. */
  warnAfter: number;
  stopAfter: number;
  /** Jupyter activity that counts as use besides utilisation. */
  activityCountsAsUse: { hubActivity: boolean; kernelBusy: boolean };
  /** "Keep running": how many times in a row, each for how long. */
  snooze: { count: number; seconds: number };
}

export interface IIdleConfig {
  enabled: boolean;
  /** Only report: decisions are recorded and shown, nothing is stopped and no mail is sent. */
  dryRun: boolean;
  /** Users whose servers are never judged. */
  exempt: string[];
  profiles: Record<string, IIdleProfile>;
  /** The profile of a server no profile's match selects. */
  defaultProfile: string;
  /** JupyterHub as browsers reach it: the link in mails (never used to reach a user's server). */
  hubUrl: string;
  /** The pod name of a server in the metrics: {username}, {servername}, {user_server}. */
  podTemplate: string;
  /** No mail between these local times (HH:MM, in timeZone); it goes out after. */
  quietHours?: { from: string; to: string; timeZone: string };
  /** The Lease the guard holds while it acts (the chart names it <fullname>-idle-guard). */
  leaseName: string;
  /** A refused stop is retried after 1, 2, 4... times this, at most maxStopAttempts times. */
  retrySeconds: number;
  maxStopAttempts: number;
}

const seconds = { type: 'number', exclusiveMinimum: 0 };
const count = { type: 'integer', minimum: 1, maximum: 1000 };
const hhmm = { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' };

const profileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['thresholds', 'warnAfter', 'stopAfter'],
  properties: {
    match: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { gpu: { type: 'boolean' }, serverName: { type: 'string', minLength: 1 } }
    },
    intervalSeconds: { ...seconds, default: 3600 },
    windowSeconds: { ...seconds, default: 86400 },
    segmentSeconds: { ...seconds, default: 300 },
    thresholds: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        cpuCores: { type: 'number', minimum: 0 },
        gpuPercent: { type: 'number', minimum: 0, maximum: 100 },
        memoryGrowthMiB: { type: 'number', minimum: 0 }
      }
    },
    warnAfter: count,
    stopAfter: count,
    activityCountsAsUse: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        hubActivity: { type: 'boolean', default: true },
        kernelBusy: { type: 'boolean', default: true }
      }
    },
    snooze: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 0, maximum: 100, default: 1 },
        seconds: { ...seconds, default: 86400 }
      }
    }
  }
};

export const DEFAULT_IDLE_PROFILES = {
  gpu: {
    match: { gpu: true },
    thresholds: { gpuPercent: 0.5 },
    warnAfter: 1,
    stopAfter: 2
  },
  cpu: {
    match: {},
    thresholds: { cpuCores: 0.1 },
    warnAfter: 3,
    stopAfter: 4
  }
};

export const idleConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: true },
    dryRun: { type: 'boolean', default: false },
    exempt: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    profiles: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z0-9][-a-z0-9]*$' },
      additionalProperties: profileSchema,
      default: DEFAULT_IDLE_PROFILES
    },
    defaultProfile: { type: 'string', minLength: 1, default: 'cpu' },
    hubUrl: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:8000' },
    podTemplate: { type: 'string', minLength: 1, default: 'jupyter-{user_server}' },
    quietHours: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: { from: hhmm, to: hhmm, timeZone: { type: 'string', default: 'UTC' } }
    },
    leaseName: {
      type: 'string',
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      default: 'hotstepper-idle-guard'
    },
    retrySeconds: { ...seconds, default: 60 },
    maxStopAttempts: { type: 'integer', minimum: 1, maximum: 20, default: 5 }
  }
};

export const idleEnvKeys: Record<string, [path: string, kind: 'string' | 'integer' | 'list']> = {
  HOTSTEPPER_IDLE_HUB_URL: ['idle.hubUrl', 'string'],
  HOTSTEPPER_IDLE_EXEMPT: ['idle.exempt', 'list']
};

/** What the schema cannot check; each entry names its key. */
export function idleConfigProblems(idle: IIdleConfig): [key: string, why: string][] {
  const out: [string, string][] = [];
  if (!idle.profiles[idle.defaultProfile]) {
    const known = Object.keys(idle.profiles).join(', ');
    out.push(['idle.defaultProfile', `names no profile in idle.profiles (known: ${known})`]);
  }
  for (const [name, p] of Object.entries(idle.profiles)) {
    const key = `idle.profiles.${name}`;
    if (p.stopAfter < p.warnAfter) {
      out.push([
        `${key}.stopAfter`,
        `is ${p.stopAfter}, before warnAfter (${p.warnAfter}): the owner would never be warned`
      ]);
    }
    if (p.segmentSeconds > p.windowSeconds) {
      out.push([`${key}.segmentSeconds`, `is longer than windowSeconds (${p.windowSeconds})`]);
    }
    if (p.match.serverName !== undefined) {
      try {
        new RegExp(p.match.serverName);
      } catch {
        out.push([`${key}.match.serverName`, 'is not a valid regular expression']);
      }
    }
  }
  if (idle.quietHours) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: idle.quietHours.timeZone });
    } catch {
      out.push(['idle.quietHours.timeZone', 'is not a time zone this system knows']);
    }
  }
  return out;
}
