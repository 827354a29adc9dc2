/**
 * The spawn options schema as pure functions: the operator's configuration resolved for a user's
 * hub groups, and a spawn request checked against it. No I/O here, so every rule is testable and
 * service.ts only adds what the cluster and the hub know (quota headroom, running servers).
 */
import type { SpawnCheck, SpawnOptions, SpawnRequest } from '@hotstepper/schema';
import type {
  ISpawnConfig,
  ISpawnGpuConfig,
  ISpawnImageConfig,
  ISpawnRangeConfig,
  SpawnAccess
} from './config.js';

export interface IFieldError {
  path: string;
  message: string;
}

/** What options.ts cannot know by itself: the cluster's and the hub's view of the user. */
export interface ISpawnContext {
  user: string;
  /** Names of the user's servers that run or are starting, '' for the default server. */
  activeServers?: string[];
  /** What the namespace quota leaves, in cores and GiB, and per extended resource. */
  headroom?: { cpu?: number; memory?: number; resources?: Record<string, number> };
}

/** The resolved options plus what the pod needs of each volume (not shown to users). */
export interface IResolvedOptions extends Omit<SpawnOptions, 'defaults' | 'quota'> {
  claims: Record<string, string>;
}

const RANK: Record<SpawnAccess, number> = { none: 0, ro: 1, rw: 2 };
export const GIB = 1024 ** 3;

/** `repository:tag`, split at the tag's colon (not a registry port's). */
export function splitImage(ref: string): { name: string; tag?: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { name: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { name: ref };
}

/** The catalogue: spawn.images, or the platform's notebook image when there are none. */
function catalogue(config: ISpawnConfig): ISpawnImageConfig[] {
  if (config.images.length || !config.notebookImage) return config.images;
  const { name, tag } = splitImage(config.notebookImage);
  return [
    {
      name,
      description: "The platform's notebook image: JupyterLab with the Hotstepper extensions",
      category: 'Python',
      keywords: ['python', 'jupyterlab'],
      tags: [{ tag: tag ?? 'latest' }]
    }
  ];
}

function widest(a: ISpawnRangeConfig, b: Partial<ISpawnRangeConfig>): ISpawnRangeConfig {
  return {
    min: Math.min(a.min, b.min ?? a.min),
    max: Math.max(a.max, b.max ?? a.max),
    step: Math.min(a.step, b.step ?? a.step),
    default: Math.max(a.default, b.default ?? a.default)
  };
}

function mergeGpus(into: ISpawnGpuConfig[], more: ISpawnGpuConfig[]): ISpawnGpuConfig[] {
  const out = into.map(g => ({ ...g, migProfiles: [...g.migProfiles] }));
  for (const g of more) {
    const had = out.find(o => o.model === g.model);
    if (!had) out.push({ ...g, migProfiles: [...g.migProfiles] });
    else {
      had.whole ||= g.whole;
      for (const p of g.migProfiles) if (!had.migProfiles.includes(p)) had.migProfiles.push(p);
    }
  }
  return out;
}

/**
 * The options of a user in `groups`, with `own` images of theirs. Where groups differ, the most permissive wins key by key
 * (images and GPUs are united, ranges widened, read-write beats read-only, the larger server
 * count), so being in one more group never takes a choice away.
 */
export function resolveOptions(
  config: ISpawnConfig,
  groups: string[],
  own: ISpawnImageConfig[] = []
): IResolvedOptions {
  const overrides = groups.filter(g => config.groups[g]).map(g => config.groups[g]);
  const images = [...catalogue(config)];
  let cpu = { ...config.cpu };
  let memory = { ...config.memory };
  let gpus = mergeGpus([], config.gpus);
  const patterns = config.customImages.allowed ? [config.customImages.pattern] : [];
  const access = new Map(config.volumes.map(v => [v.name, v.access]));
  let maxServers = config.maxServers;
  for (const over of overrides) {
    for (const image of over.images ?? []) {
      if (!images.some(i => i.name === image.name)) images.push(image);
    }
    if (over.customImages?.allowed) {
      patterns.push(over.customImages.pattern ?? config.customImages.pattern);
    }
    cpu = widest(cpu, over.cpu ?? {});
    memory = widest(memory, over.memory ?? {});
    gpus = mergeGpus(gpus, over.gpus ?? []);
    for (const [name, a] of Object.entries(over.volumes ?? {})) {
      if (RANK[a] > RANK[access.get(name) ?? 'none']) access.set(name, a);
    }
    maxServers = Math.max(maxServers, over.maxServers ?? maxServers);
  }
  // The user's own images last, so a plain spawn still gets the catalogue's first.
  for (const image of own) if (!images.some(i => i.name === image.name)) images.push(image);
  const volumes = config.volumes.filter(v => access.get(v.name) !== 'none');
  const resolved: IResolvedOptions = {
    images: images.map(i => ({ ...i, tags: i.tags.map(t => ({ ...t })) })),
    customImages: {
      allowed: patterns.length > 0,
      // One pattern for all: a custom image matching any allowing group's is allowed.
      pattern:
        patterns.length === 1 ? patterns[0] : patterns.map(p => `(?:${p})`).join('|') || '(?!)'
    },
    cpu,
    memory,
    gpus: gpus
      .filter(g => g.whole || g.migProfiles.length)
      .map(g => ({
        model: g.model,
        label: g.label || g.model,
        migProfiles: g.migProfiles,
        whole: !!g.whole,
        simulated: g.simulated
      })),
    storage: {
      home: ['keep', 'fresh'],
      volumes: volumes.map(v => ({
        name: v.name,
        label: v.label || v.name,
        mountPath: v.mountPath,
        access: access.get(v.name) as 'ro' | 'rw'
      }))
    },
    maxServers,
    presets: [],
    claims: Object.fromEntries(volumes.map(v => [v.name, v.claimName || v.name]))
  };
  resolved.presets = presetsFor(config, groups, resolved);
  return resolved;
}

/**
 * The presets shown to a user in `groups`: those meant for one of their groups whose choices
 * their options allow (a preset naming a GPU or volume the user may not have is left out rather
 * than offered and refused). Quota is not asked here: it changes, and the page shows it.
 */
function presetsFor(
  config: ISpawnConfig,
  groups: string[],
  options: IResolvedOptions
): SpawnOptions['presets'] {
  const whole = wholeGpuModels(config, groups);
  return config.presets
    .filter(p => !p.groups.length || p.groups.some(g => groups.includes(g)))
    .filter(p => 'check' in checkRequest(options, whole, { ...p.request }, { user: '' }))
    .map(p => ({
      name: p.name,
      label: p.label,
      description: p.description,
      request: structuredClone(p.request)
    }));
}

/** Whole GPUs of a model may be asked for: resolveOptions keeps the flag out of the wire. */
export function wholeGpuModels(config: ISpawnConfig, groups: string[]): Set<string> {
  const all = [...config.gpus, ...groups.flatMap(g => config.groups[g]?.gpus ?? [])];
  return new Set(all.filter(g => g.whole).map(g => g.model));
}

/** What a plain spawn gets. */
export function defaultsOf(options: IResolvedOptions): SpawnRequest {
  const first = options.images[0];
  return {
    ...(first ? { image: `${first.name}:${first.tags[0].tag}` } : {}),
    cpu: options.cpu.default,
    memory: options.memory.default,
    home: 'keep',
    // Opt-in: a claim the operators have not made yet must not keep a plain spawn pending.
    volumes: []
  };
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);

/** An amount within its range and steps, then within what the namespace quota has left. */
function checkAmount(
  path: string,
  value: number,
  range: Parameters<typeof rangeError>[1],
  unit: string,
  label: string,
  headroom: number | undefined,
  fail: (path: string, message: string) => void
): void {
  const why = rangeError(value, range, unit, label);
  if (why) fail(path, why);
  else if (headroom !== undefined && value > headroom + 1e-9) {
    fail(
      path,
      `${fmt(value)} ${unit} is more than your namespace quota has left (${fmt(
        Math.max(0, headroom)
      )} ${unit}); stop another server or job, or ask for less.`
    );
  }
}

function rangeError(value: number, r: ISpawnRangeConfig, unit: string, what: string) {
  if (value < r.min || value > r.max) {
    return `${what} must be between ${fmt(r.min)} and ${fmt(r.max)} ${unit}; ${fmt(value)} is outside.`;
  }
  const steps = (value - r.min) / r.step;
  if (Math.abs(steps - Math.round(steps)) > 1e-6) {
    const below = r.min + Math.floor(steps) * r.step;
    return (
      `${what} goes in steps of ${fmt(r.step)} ${unit} from ${fmt(r.min)}; ` +
      `choose ${fmt(below)} or ${fmt(below + r.step)} instead of ${fmt(value)}.`
    );
  }
  return undefined;
}

/**
 * `request` checked against `options`: every bad field with a sentence, or the request with its
 * defaults filled in and the pod settings that follow from it.
 */
export function checkRequest(
  options: IResolvedOptions,
  whole: Set<string>,
  raw: SpawnRequest,
  context: ISpawnContext
): { errors: IFieldError[] } | { check: SpawnCheck } {
  const errors: IFieldError[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message });
  const server = raw.server === '-' ? '' : (raw.server ?? '');
  const request: SpawnRequest = { ...defaultsOf(options), ...raw, server };
  const serverText = server ? `server "${server}"` : 'your default server';

  const image = request.image;
  if (image === undefined) {
    if (!options.customImages.allowed)
      fail('/image', 'The platform offers no image; tell its operators.');
    else fail('/image', 'Choose an image: the catalogue is empty, give your own.');
  } else {
    const { name, tag } = splitImage(image);
    const entry = options.images.find(i => i.name === name);
    const listed = !!entry && !!tag && entry.tags.some(t => t.tag === tag);
    if (!listed) {
      if (!options.customImages.allowed) {
        fail(
          '/image',
          entry
            ? `The image ${name} has no tag "${tag ?? ''}" in the catalogue; choose one of ` +
                `${entry.tags.map(t => t.tag).join(', ')}.`
            : `The image ${image} is not in the catalogue, and this platform does not allow ` +
                'custom images; choose one from the list.'
        );
      } else if (!new RegExp(`^(?:${options.customImages.pattern})$`).test(image)) {
        fail(
          '/image',
          `The custom image ${image} does not match what the operators allow ` +
            `(${options.customImages.pattern}); use an image from an allowed registry.`
        );
      } else if (!tag) {
        fail('/image', `Give the custom image ${image} a tag, e.g. ${image}:2026-12-01.`);
      }
    }
  }

  const cpu = request.cpu as number;
  const memory = request.memory as number;
  checkAmount('/cpu', cpu, options.cpu, 'cores', 'CPU', context.headroom?.cpu, fail);
  checkAmount('/memory', memory, options.memory, 'GiB', 'Memory', context.headroom?.memory, fail);

  const extraResourceLimits: Record<string, string> = {};
  const nodeSelector: Record<string, string> = {};
  const gpu = request.gpu;
  if (gpu && 'model' in gpu) {
    const known = options.gpus.find(g => g.model === gpu.model);
    if (!known || !whole.has(gpu.model)) {
      const offered = options.gpus.filter(g => whole.has(g.model)).map(g => g.model);
      fail(
        '/gpu/model',
        `There is no GPU model "${gpu.model}" to choose here; ` +
          (offered.length ? `choose one of ${offered.join(', ')}.` : 'this platform offers none.')
      );
    } else {
      extraResourceLimits['nvidia.com/gpu'] = '1';
      nodeSelector['nvidia.com/gpu.product'] = gpu.model;
    }
  } else if (gpu && 'mig' in gpu) {
    const owner = options.gpus.find(g => g.migProfiles.includes(gpu.mig));
    if (!owner) {
      const offered = [...new Set(options.gpus.flatMap(g => g.migProfiles))];
      fail(
        '/gpu/mig',
        `There is no MIG profile "${gpu.mig}" to choose here; ` +
          (offered.length ? `choose one of ${offered.join(', ')}.` : 'this platform offers none.')
      );
    } else {
      extraResourceLimits[`nvidia.com/mig-${gpu.mig}`] = '1';
      nodeSelector['nvidia.com/gpu.product'] = owner.model;
    }
  }
  for (const [resource, n] of Object.entries(extraResourceLimits)) {
    const left = context.headroom?.resources?.[resource];
    if (left !== undefined && Number(n) > left) {
      fail('/gpu', `Your namespace quota has no ${resource} left; stop what uses it first.`);
    }
  }

  if (request.home === 'fresh') {
    const expected = server || context.user;
    if (request.confirmHome !== expected) {
      fail(
        '/confirmHome',
        `A fresh home deletes everything in the home of ${serverText}. To confirm, type ` +
          `"${expected}" as the confirmation.`
      );
    }
  }

  const volumes = [];
  for (const name of request.volumes ?? []) {
    const v = options.storage.volumes.find(o => o.name === name);
    if (!v) {
      fail('/volumes', `There is no volume "${name}" you may mount.`);
      continue;
    }
    volumes.push({
      name: v.name,
      claimName: options.claims[v.name],
      mountPath: v.mountPath,
      readOnly: v.access === 'ro'
    });
  }

  const others = (context.activeServers ?? []).filter(s => s !== server);
  if (others.length >= options.maxServers) {
    fail(
      '/server',
      `You run ${others.length} server${others.length === 1 ? '' : 's'} already, the most ` +
        `you may run at once (${options.maxServers}); stop one before starting ${serverText}.`
    );
  }

  if (errors.length) return { errors };
  return {
    check: {
      ok: true,
      request,
      pod: {
        image: image as string,
        cpu,
        memoryBytes: Math.round(memory * GIB),
        extraResourceLimits,
        nodeSelector,
        volumes,
        freshHome: request.home === 'fresh'
      }
    }
  };
}
