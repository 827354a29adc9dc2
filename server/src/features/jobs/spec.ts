/**
 * One job spec, checked and resolved the same way for preview and create: template, then the
 * executor's defaults (the user's notebook server), then the operator's defaults. Every problem
 * names its field (body.<field>) so the form can put the message next to it.
 */
import type { GpuAvailability, JobSpec } from '@hotstepper/schema';
import { HttpProblem } from '../../platform/problem.js';
import type { IJobsConfig } from './config.js';
import { notebookPath } from './paths.js';

interface IFieldError {
  path: string;
  message: string;
}

export interface IResolved {
  spec: JobSpec;
  secretEnv: Record<string, string>;
  defaultsFrom: string[];
}

const invalid = (errors: IFieldError[]) =>
  new HttpProblem(
    400,
    'validation_failed',
    `The request is not valid: ${errors.map(e => `${e.path} ${e.message}`).join('; ')}.`,
    errors
  );

/** An argument that names a file (train.py, data/run.sh), not an option, a number or code. */
const FILE_ARG = /^[\w~.][\w~./+@-]*\.[A-Za-z][A-Za-z0-9]*$/;

/**
 * A name for the list when none is given, made list-safe: the notebook, else the script a command
 * runs (`python train.py --epochs 3` -> train.py; the interpreter says nothing of the job), else
 * the program.
 */
function defaultName(spec: JobSpec): string {
  const command = spec.command ?? [];
  const script = command.slice(1).find(arg => FILE_ARG.test(arg));
  const source = spec.notebook?.path ?? (spec.shell ? 'shell' : (script ?? command[0] ?? 'job'));
  const base = source.split('/').pop() ?? 'job';
  const name = base.replace(/[^A-Za-z0-9 ._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (name || 'job').slice(0, 63);
}

/** The byte size cap of notebook parameters: 413, naming the field, before anything else. */
export function checkParametersSize(config: IJobsConfig, input: JobSpec): void {
  const parameters = input.notebook?.parameters;
  if (parameters === undefined) return;
  const bytes = Buffer.byteLength(JSON.stringify(parameters));
  const max = config.limits.maxParametersBytes;
  if (bytes > max) {
    const message = `is ${bytes} bytes as JSON; at most ${max} bytes are allowed (pass large data as a file in your home instead)`;
    throw new HttpProblem(413, 'parameters_too_large', `body.notebook.parameters ${message}.`, [
      { path: 'body.notebook.parameters', message }
    ]);
  }
}

export function resolveSpec(
  config: IJobsConfig,
  input: JobSpec,
  executorDefaults: { spec: Partial<JobSpec>; from?: string }
): IResolved {
  const from: string[] = [];
  let base: Partial<JobSpec> = {};
  let baseSecrets: Record<string, string> = {};
  if (input.template !== undefined) {
    const template = config.templates.find(t => t.name === input.template);
    if (!template) {
      const known = config.templates.map(t => t.name).join(', ') || 'none are configured';
      throw invalid([{ path: 'body.template', message: `is not a template here (${known})` }]);
    }
    // The template's secrets go with the other secrets, never into the spec (stored and shown).
    const { secretEnv: templateSecrets, ...spec } = template.spec;
    base = spec;
    baseSecrets = (templateSecrets ?? {}) as Record<string, string>;
    from.push(`template:${template.name}`);
  }
  if (executorDefaults.from) from.push(executorDefaults.from);
  from.push('configuration');
  const { secretEnv, ...rest } = input;
  const spec: JobSpec = {
    ...executorDefaults.spec,
    cpu: config.defaults.cpu,
    memoryMiB: config.defaults.memoryMiB,
    timeLimitSeconds: config.defaults.timeLimitSeconds,
    ...(config.defaults.image && !executorDefaults.spec.image
      ? { image: config.defaults.image }
      : {}),
    ...withoutUndefined(base),
    ...withoutUndefined(rest),
    env: { ...executorDefaults.spec.env, ...base.env, ...input.env }
  };
  // A template that runs a command does not stop a notebook being chosen, and the reverse.
  if (input.notebook) delete spec.command;
  if (input.command) delete spec.notebook;
  spec.name = input.name ?? defaultName(spec);
  const secrets = { ...baseSecrets, ...secretEnv } as Record<string, string>;
  return { spec, secretEnv: secrets, defaultsFrom: from };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface ICheckContext {
  executor: 'local' | 'kubernetes';
  /** Allowed without being on the list: the user's own notebook server image. */
  defaultImage?: string;
  gpus: GpuAvailability | null;
}

/** Every rule the JSON Schema cannot say, all reported at once. */
export function checkSpec(
  config: IJobsConfig,
  spec: JobSpec,
  ctx: ICheckContext,
  secretEnv: Record<string, string> = {}
): void {
  const errors: IFieldError[] = [];
  const add = (path: string, message: string) => errors.push({ path: `body.${path}`, message });
  const { limits } = config;

  if (!spec.command === !spec.notebook) {
    add('command', 'or body.notebook: give exactly one of them');
  }
  if (spec.shell && spec.command && spec.command.length !== 1) {
    add('command', 'must be one string (the shell line) when shell is true');
  }
  if (spec.command && !spec.shell && spec.command[0] === '')
    add('command', 'must name a program first');
  if (spec.notebook) {
    try {
      notebookPath(spec.notebook.path);
    } catch (err) {
      errors.push(...((err as HttpProblem).errors ?? []));
    }
  }
  if (ctx.executor === 'local') {
    if (spec.image !== undefined)
      add('image', 'cannot be chosen: local jobs run on the hub machine itself');
  } else if (spec.image === undefined) {
    add(
      'image',
      'is needed: there is no notebook server to take it from and no default is configured'
    );
  } else if (spec.image !== ctx.defaultImage && !config.images.includes(spec.image)) {
    const list = config.images.join(', ') || 'none';
    add('image', `"${spec.image}" is not on the platform's list of images (${list})`);
  }
  if ((spec.cpu ?? 0) > limits.maxCpu) add('cpu', `must be at most ${limits.maxCpu} cores`);
  if ((spec.memoryMiB ?? 0) > limits.maxMemoryMiB) {
    add('memoryMiB', `must be at most ${limits.maxMemoryMiB} MiB`);
  }
  if ((spec.timeLimitSeconds ?? 0) > limits.maxTimeLimitSeconds) {
    add('timeLimitSeconds', `must be at most ${limits.maxTimeLimitSeconds} s`);
  }
  if (spec.gpu) checkGpu(spec.gpu, ctx, limits.maxGpus, add);
  for (const name of Object.keys(secretEnv)) {
    if (spec.env?.[name] !== undefined) add(`secretEnv.${name}`, 'is also in env: give it once');
  }
  if (errors.length) throw invalid(errors);
}

function checkGpu(
  gpu: NonNullable<JobSpec['gpu']>,
  ctx: ICheckContext,
  maxGpus: number,
  add: (path: string, message: string) => void
) {
  const count = gpu.count ?? 1;
  if (count > maxGpus) add('gpu.count', `must be at most ${maxGpus}`);
  if (!gpu.model && !gpu.migProfile) {
    add('gpu', 'needs a model or a migProfile');
    return;
  }
  if (ctx.executor === 'local' || !ctx.gpus) {
    add('gpu', 'cannot be had here: local jobs run without GPUs');
    return;
  }
  const { models, migProfiles } = ctx.gpus;
  if (gpu.migProfile) {
    const known = migProfiles.filter(m => m.profile === gpu.migProfile);
    if (!known.length) {
      const list = [...new Set(migProfiles.map(m => m.profile))].join(', ') || 'none';
      add('gpu.migProfile', `"${gpu.migProfile}" is not a MIG profile of this cluster (${list})`);
    } else if (gpu.model && !known.some(m => m.product === gpu.model)) {
      add('gpu.model', `"${gpu.model}" has no ${gpu.migProfile} MIG slices in this cluster`);
    }
  } else if (gpu.model && !models.some(m => m.product === gpu.model)) {
    const list = models.map(m => m.product).join(', ') || 'none';
    add('gpu.model', `"${gpu.model}" is not a GPU model of this cluster (${list})`);
  }
}

/** The Kubernetes resource a GPU spec requests. */
export function gpuResource(gpu: NonNullable<JobSpec['gpu']>): string {
  return gpu.migProfile ? `nvidia.com/mig-${gpu.migProfile}` : 'nvidia.com/gpu';
}
