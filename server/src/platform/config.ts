/**
 * The companion's configuration: a documented file (YAML or JSON, see hotstepper.example.yaml) plus
 * environment variables, which win. Validated once at start; a wrong key stops the process with a
 * message naming the key and where it came from.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import fp from 'fastify-plugin';
import { parse as parseYaml } from 'yaml';
import { flareConfigSchema, flareEnvKeys, type IFlareConfig } from '../features/flare/config.js';
import {
  graderConfigSchema,
  graderEnvKeys,
  type IGraderConfig
} from '../features/grader/config.js';
import { jobsConfigSchema, jobsEnvKeys, type IJobsConfig } from '../features/jobs/config.js';
import {
  spawnConfigProblems,
  spawnConfigSchema,
  spawnEnvKeys,
  type ISpawnConfig
} from '../features/spawn/config.js';
import { usageConfigSchema, usageEnvKeys, type IUsageConfig } from '../features/usage/config.js';
import { welcomeConfigSchema, type IWelcomeConfig } from '../features/welcome/config.js';
import {
  idleConfigProblems,
  idleConfigSchema,
  idleEnvKeys,
  type IIdleConfig
} from '../features/idle/config.js';
import { mailConfigSchema, mailEnvKeys, type IMailConfig } from './mail.js';
import { quantityProblem, quotaProblems } from './kubernetes/resources.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface IConfig {
  server: { host: string; port: number };
  log: { level: LogLevel };
  jupyterhub: {
    apiUrl: string;
    apiToken?: string;
    timeoutSeconds: number;
    serviceName: string;
    /** A user's server report (platform/server-reports.ts) older than this counts as none. */
    serverReportMaxAgeSeconds: number;
  };
  identity: { cacheSeconds: number; adminGroups: string[] };
  database: { path: string; url?: string };
  connections: { refreshSeconds: number; timeoutSeconds: number };
  kubernetes: {
    enabled: boolean;
    kubeconfig?: string;
    // Watches and leases (informer.ts, leader.ts):
    leaseNamespace?: string;
    staleSeconds: number;
    relistSeconds: number;
    // Per-user namespaces (kubernetes/tenancy.ts):
    tenancy: ITenancyConfig;
  };
  prometheus: { url?: string };
  llm: ILlmConfig;
  flare: IFlareConfig;
  grader: IGraderConfig;
  jobs: IJobsConfig;
  spawn: ISpawnConfig;
  usage: IUsageConfig;
  welcome: IWelcomeConfig;
  idle: IIdleConfig;
  mail: IMailConfig;
}

/** The OpenAI-compatible endpoint (platform/llm.ts). */
export interface ILlmConfig {
  baseUrl?: string;
  apiKey?: string;
  /** A file holding the key, e.g. a mounted Kubernetes secret; read at start, wins over apiKey. */
  apiKeyFile?: string;
  model?: string;
  /** One whole answer, retries included; below the companion's 30 s request timeout. */
  timeoutSeconds: number;
  maxRetries: number;
  /** A 429 asking to wait longer than this is not retried. */
  maxRetryAfterSeconds: number;
}

/** How each user's namespace is named and what it gets (kubernetes/tenancy.ts). */
export interface ITenancyConfig {
  namespacePrefix: string;
  userClusterRole: string;
  /** ResourceQuota spec.hard: resource name -> quantity. Empty: no ResourceQuota. */
  quota: Record<string, string>;
  /** The container defaults of the LimitRange. Both empty: no LimitRange. */
  limitRange: { default: IComputeDefaults; defaultRequest: IComputeDefaults };
}

export interface IComputeDefaults {
  cpu?: string;
  memory?: string;
}

const httpUrl = { type: 'string', pattern: '^https?://' };
const section = (properties: Record<string, object>) => ({
  type: 'object',
  default: {},
  additionalProperties: false,
  properties
});

// YAML reads `pods: 20` as a number; a quantity may be written either way and is kept as a string.
const quantity = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'number', minimum: 0 }
  ]
};
const computeDefaults = {
  type: 'object',
  additionalProperties: false,
  properties: { cpu: quantity, memory: quantity }
};
const tenancySchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    // Short, so a user's name keeps most of the 63 characters; no "--", which marks hashed names.
    namespacePrefix: {
      type: 'string',
      pattern: '^[a-z0-9]+(-[a-z0-9]+)*-?$',
      maxLength: 20,
      default: 'hs-'
    },
    userClusterRole: { type: 'string', pattern: '^[^/%]+$', default: 'hotstepper-user' },
    quota: {
      type: 'object',
      additionalProperties: quantity,
      default: {
        'requests.cpu': '8',
        'requests.memory': '32Gi',
        'requests.nvidia.com/gpu': '1',
        // MIG slices are resources of their own: without these a user could take them all.
        'requests.nvidia.com/mig-1g.10gb': '2',
        'requests.nvidia.com/mig-2g.20gb': '1',
        'requests.nvidia.com/mig-3g.40gb': '1',
        pods: '20',
        'count/jobs.batch': '20'
      }
    },
    limitRange: {
      type: 'object',
      additionalProperties: false,
      default: {
        default: { cpu: '1', memory: '2Gi' },
        defaultRequest: { cpu: '250m', memory: '1Gi' }
      },
      properties: {
        default: { ...computeDefaults, default: {} },
        defaultRequest: { ...computeDefaults, default: {} }
      }
    }
  }
};

/** The JSON Schema every configuration is checked against; the example file documents each key. */
export const configSchema = {
  ...section({
    server: section({
      host: { type: 'string', minLength: 1, default: '127.0.0.1' },
      port: { type: 'integer', minimum: 0, maximum: 65535, default: 9100 }
    }),
    log: section({
      level: {
        enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
        default: 'info'
      }
    }),
    jupyterhub: section({
      apiUrl: { ...httpUrl, default: 'http://127.0.0.1:8081/hub/api' },
      apiToken: { type: 'string', minLength: 1 },
      timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 5 },
      serviceName: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', default: 'hotstepper' },
      serverReportMaxAgeSeconds: { type: 'number', minimum: 1, maximum: 3600, default: 90 }
    }),
    identity: section({
      cacheSeconds: { type: 'number', minimum: 0, maximum: 60, default: 30 },
      adminGroups: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        default: ['hotstepper-admins']
      }
    }),
    database: section({
      path: { type: 'string', minLength: 1, default: 'hotstepper.sqlite' },
      url: { type: 'string', pattern: '^postgres(ql)?://' }
    }),
    connections: section({
      refreshSeconds: { type: 'number', minimum: 1, default: 15 },
      timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 30, default: 2 }
    }),
    kubernetes: section({
      enabled: { type: 'boolean', default: false },
      kubeconfig: { type: 'string', minLength: 1 },
      // Watches and leases (informer.ts, leader.ts):
      leaseNamespace: { type: 'string', minLength: 1 },
      staleSeconds: { type: 'number', minimum: 1, default: 30 },
      relistSeconds: { type: 'number', minimum: 10, default: 600 },
      // Per-user namespaces (kubernetes/tenancy.ts):
      tenancy: tenancySchema
    }),
    prometheus: section({ url: httpUrl }),
    llm: section({
      baseUrl: httpUrl,
      apiKey: { type: 'string', minLength: 1 },
      apiKeyFile: { type: 'string', minLength: 1 },
      model: { type: 'string', minLength: 1 },
      timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 25, default: 20 },
      maxRetries: { type: 'integer', minimum: 0, maximum: 5, default: 1 },
      maxRetryAfterSeconds: { type: 'number', minimum: 0, maximum: 20, default: 5 }
    }),
    flare: flareConfigSchema,
    grader: graderConfigSchema,
    jobs: jobsConfigSchema,
    spawn: spawnConfigSchema,
    usage: usageConfigSchema,
    welcome: welcomeConfigSchema,
    idle: idleConfigSchema,
    mail: mailConfigSchema
  }),
  default: undefined
};

type EnvKind = 'string' | 'integer' | 'list' | 'json';

/** Environment variable -> config key. Environment wins over the file. */
export const envKeys: Record<string, [path: string, kind: EnvKind]> = {
  JUPYTERHUB_API_URL: ['jupyterhub.apiUrl', 'string'],
  JUPYTERHUB_API_TOKEN: ['jupyterhub.apiToken', 'string'],
  JUPYTERHUB_SERVICE_NAME: ['jupyterhub.serviceName', 'string'],
  DATABASE_URL: ['database.url', 'string'],
  HOTSTEPPER_HOST: ['server.host', 'string'],
  HOTSTEPPER_PORT: ['server.port', 'integer'],
  HOTSTEPPER_DATABASE_PATH: ['database.path', 'string'],
  HOTSTEPPER_LOG_LEVEL: ['log.level', 'string'],
  HOTSTEPPER_ADMIN_GROUPS: ['identity.adminGroups', 'list'],
  HOTSTEPPER_PROMETHEUS_URL: ['prometheus.url', 'string'],
  HOTSTEPPER_LLM_BASE_URL: ['llm.baseUrl', 'string'],
  HOTSTEPPER_LLM_API_KEY: ['llm.apiKey', 'string'],
  HOTSTEPPER_LLM_MODEL: ['llm.model', 'string'],
  HOTSTEPPER_LLM_API_KEY_FILE: ['llm.apiKeyFile', 'string'],
  HOTSTEPPER_LLM_TIMEOUT_SECONDS: ['llm.timeoutSeconds', 'integer'],
  KUBECONFIG: ['kubernetes.kubeconfig', 'string'],
  ...flareEnvKeys,
  ...graderEnvKeys,
  ...jobsEnvKeys,
  ...spawnEnvKeys,
  ...usageEnvKeys,
  ...idleEnvKeys,
  ...mailEnvKeys
};

/** A configuration the companion cannot start with. main.ts prints it and exits with code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(problems: string[]) {
    super(problems.map(p => `config error: ${p}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile(configSchema);

/**
 * Check a raw configuration object and fill in defaults. `sources` says where each key came from
 * (dotted path -> file path or env variable); `file` is where all other keys came from.
 */
export function validateConfig(
  raw: unknown,
  origin: { file?: string; sources?: Record<string, string> } = {}
): IConfig {
  const data = structuredClone(raw ?? {}) as Record<string, unknown>;
  // A section whose keys are all commented out reads as null in YAML; that means "defaults".
  for (const [key, value] of Object.entries(data)) if (value === null) data[key] = {};
  const k8s = data.kubernetes as Record<string, unknown> | undefined;
  if (k8s?.tenancy === null) k8s.tenancy = {};
  if (!validate(data)) {
    throw new ConfigError((validate.errors ?? []).map(e => describe(e, origin)));
  }
  const config = data as unknown as IConfig;
  config.jupyterhub.apiUrl = config.jupyterhub.apiUrl.replace(/\/+$/, '');
  const tenancy = [
    ...checkTenancy(config.kubernetes.tenancy),
    ...idleConfigProblems(config.idle),
    ...spawnConfigProblems(config.spawn)
  ];
  if (tenancy.length) {
    throw new ConfigError(tenancy.map(([key, why]) => `${key}: ${why} (${where(key, origin)})`));
  }
  return config;
}

/**
 * What the schema cannot say about the tenancy keys: quota names Kubernetes knows (a misspelt
 * one would be accepted by the API server and never enforced) and quantities it can parse.
 * Numbers become strings here, as Kubernetes quantities are.
 */
function checkTenancy(tenancy: ITenancyConfig): [key: string, why: string][] {
  const base = 'kubernetes.tenancy';
  const text = (v: string | number) => String(v);
  tenancy.quota = Object.fromEntries(Object.entries(tenancy.quota).map(([k, v]) => [k, text(v)]));
  const out = quotaProblems(tenancy.quota).map(
    ([name, why]) => [`${base}.quota["${name}"]`, why] as [string, string]
  );
  for (const part of ['default', 'defaultRequest'] as const) {
    const values = tenancy.limitRange[part];
    for (const key of ['cpu', 'memory'] as const) {
      if (values[key] === undefined) continue;
      values[key] = text(values[key]);
      const why = quantityProblem(values[key]);
      if (why) out.push([`${base}.limitRange.${part}.${key}`, why]);
    }
  }
  return out;
}

function where(key: string, origin: { file?: string; sources?: Record<string, string> }) {
  const env = Object.entries(origin.sources ?? {}).find(
    ([p]) => key === p || key.startsWith(`${p}.`)
  );
  if (env) return `from ${env[1]}`;
  return origin.file ? `in ${origin.file}` : 'in the configuration';
}

function describe(e: ErrorObject, origin: { file?: string; sources?: Record<string, string> }) {
  const path = e.instancePath.split('/').slice(1).join('.');
  if (e.keyword === 'additionalProperties') {
    const key = [path, String(e.params.additionalProperty)].filter(Boolean).join('.');
    return `unknown key "${key}" ${where(key, origin)}`;
  }
  const name = path || 'the configuration';
  const message =
    e.keyword === 'enum'
      ? `must be one of ${(e.params.allowedValues as string[]).join(', ')}`
      : e.keyword === 'pattern' && e.params.pattern === httpUrl.pattern
        ? 'must be an http:// or https:// URL'
        : e.message;
  return `${name} ${message} (${where(path, origin)})`;
}

/** Which config file to read: `--config <file>` (or `--config=<file>`), else HOTSTEPPER_CONFIG. */
export function configPath(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--config') {
      if (!argv[i + 1]) throw new ConfigError(['--config needs a file name']);
      return argv[i + 1];
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
    throw new ConfigError([
      `unknown argument "${arg}" (usage: hotstepper-companion [--config <file>])`
    ]);
  }
  return env.HOTSTEPPER_CONFIG || undefined;
}

/** Read the file (if any), lay the environment over it, validate. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): IConfig {
  const given = configPath(argv, env);
  const file = given ? resolve(cwd, given) : undefined;
  const raw = file ? readConfigFile(file) : {};
  const sources: Record<string, string> = {};
  for (const [name, [path, kind]] of Object.entries(envKeys)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, fromEnv(value, kind));
    sources[path] = name;
  }
  const config = validateConfig(raw, { file, sources });
  config.database.path = resolve(cwd, config.database.path);
  return config;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`]);
  }
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both kinds of file.
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file} is not valid YAML or JSON: ${(err as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`${file} must hold a mapping of keys (see hotstepper.example.yaml)`]);
  }
  return parsed as Record<string, unknown>;
}

function fromEnv(value: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'integer':
      // Left as a string when it is not a number, so validation names the variable.
      return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    case 'list':
      return value
        .split(',')
        .map(s => s.trim())
        .filter(Boolean);
    case 'json':
      // Left as the string when it is not JSON, so validation names the variable.
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    case 'string':
      return value;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    config: IConfig;
  }
}

/** Makes the validated configuration available as `app.config`. */
export const configPlugin = fp<{ config: IConfig }>(
  async (app, { config }) => {
    app.decorate('config', config);
  },
  { name: 'config' }
);
