/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
/**
 * The spawn page's rules as pure functions: what the hub embedded, the choices made from it,
 * search, validation, the cost estimate and the permalink. No DOM here.
 */
import type {
  GpuAvailability,
  RateCard,
  SpawnLast,
  SpawnOptions,
  SpawnRange,
  SpawnRequest
} from '@hotstepper/schema';

/** What the hub's spawner embeds in the form (jupyter/hotstepper/spawnform.py). */
export interface ISpawnData {
  user: string;
  /** The named server being started, '' for the default server. */
  server: string;
  /** True when the companion could not be asked: `options` are the spawner's own defaults. */
  companionDown: boolean;
  options: SpawnOptions;
  last: SpawnLast | null;
  rateCard: RateCard | null;
  gpus: GpuAvailability | null;
  /** What the companion could not tell right now, as sentences. */
  notices: string[];
  /** The pod's requests below the chosen limits, from the spawner (cores, GiB). */
  guarantees?: IGuarantees | null;
}

/** Everything the form shows as chosen. */
export interface IChoice {
  /** The catalogue image (repository without a tag), '' for a custom image. */
  imageName: string;
  tag: string;
  /** The custom image reference, when `imageName` is ''. */
  custom: string;
  cpu: number;
  memory: number;
  /** '' (none), 'model:<model>' or 'mig:<profile>', as the form posts it. */
  gpu: string;
  home: 'keep' | 'fresh';
  confirmHome: string;
  volumes: string[];
}

/** Where the pre-filled choices came from. */
export type ChoiceSource = 'defaults' | 'last' | 'link';

export type Field = 'image' | 'cpu' | 'memory' | 'gpu' | 'confirmHome' | 'volumes';

/** The form's fields that go to the hub: SpawnRequest's, as spawnoptions.py reads a form. */
export const FORM_FIELDS = ['image', 'cpu', 'memory', 'gpu', 'home', 'confirmHome', 'volumes'];

type Image = SpawnOptions['images'][number];

/** `repository:tag`, split at the tag's colon (not a registry port's). */
export function splitImage(ref: string): { name: string; tag?: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { name: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { name: ref };
}

/** The image reference the choice posts. */
export function imageRef(choice: IChoice): string {
  return choice.imageName ? `${choice.imageName}:${choice.tag}` : choice.custom.trim();
}

export function gpuValue(gpu: SpawnRequest['gpu']): string {
  if (!gpu) return '';
  return 'mig' in gpu ? `mig:${gpu.mig}` : `model:${gpu.model}`;
}

/** A request's fields applied to a choice, where they name something the options offer. */
function apply(choice: IChoice, request: SpawnRequest, options: SpawnOptions): IChoice {
  const out = { ...choice };
  if (request.image) {
    const { name, tag } = splitImage(request.image);
    const image = options.images.find(i => i.name === name);
    if (image && tag && image.tags.some(t => t.tag === tag)) {
      out.imageName = name;
      out.tag = tag;
    } else if (options.customImages.allowed) {
      out.imageName = '';
      out.custom = request.image;
    }
  }
  if (typeof request.cpu === 'number' && Number.isFinite(request.cpu)) out.cpu = request.cpu;
  if (typeof request.memory === 'number' && Number.isFinite(request.memory)) {
    out.memory = request.memory;
  }
  if ('gpu' in request) out.gpu = gpuValue(request.gpu);
  if (request.volumes) {
    out.volumes = request.volumes.filter(v => options.storage.volumes.some(o => o.name === v));
  }
  return out;
}

/** A permalink's fragment (or a query the hub handed back) as a partial request. */
export function requestFromParams(params: URLSearchParams): SpawnRequest | undefined {
  const keys = ['image', 'cpu', 'memory', 'gpu', 'volumes'];
  if (!keys.some(k => params.has(k))) return undefined;
  const request: SpawnRequest = {};
  const image = params.get('image');
  if (image) request.image = image;
  for (const key of ['cpu', 'memory'] as const) {
    const value = Number(params.get(key));
    if (params.get(key) && Number.isFinite(value)) request[key] = value;
  }
  const gpu = params.get('gpu');
  if (gpu !== null) {
    const [kind, ...rest] = gpu.split(':');
    const value = rest.join(':');
    if (kind === 'mig' && value) request.gpu = { mig: value };
    else if (kind === 'model' && value) request.gpu = { model: value };
    else request.gpu = undefined;
  }
  if (params.has('volumes')) request.volumes = params.getAll('volumes').filter(Boolean);
  return request;
}

/**
 * The choices the form starts with: the defaults, then this server's last options, then a
 * permalink's (which wins). A fresh home is never pre-filled: it deletes one.
 */
export function initialChoice(
  data: ISpawnData,
  link: SpawnRequest | undefined
): { choice: IChoice; source: ChoiceSource } {
  const { options } = data;
  let choice = defaultChoice(options);
  let source: ChoiceSource = 'defaults';
  if (data.last && !data.companionDown) {
    choice = apply(choice, data.last.request, options);
    source = 'last';
  }
  if (link && !data.companionDown) {
    choice = apply(choice, link, options);
    source = 'link';
  }
  return { choice, source };
}

/** What a plain spawn gets, as the form's choice. */
function defaultChoice(options: SpawnOptions): IChoice {
  const first = options.images[0];
  const choice: IChoice = {
    imageName: first?.name ?? '',
    tag: first?.tags[0]?.tag ?? '',
    custom: '',
    cpu: options.cpu.default,
    memory: options.memory.default,
    gpu: '',
    home: 'keep',
    confirmHome: '',
    volumes: []
  };
  return apply(choice, options.defaults, options);
}

export type Preset = SpawnOptions['presets'][number];

/**
 * The choice a preset makes. CPU, memory and GPU are a preset's bundle: the defaults with its
 * values, so one preset after another leaves nothing of the first behind. The image and volumes
 * stay as chosen unless the preset names them, and the home is always the user's own decision.
 */
export function applyPreset(choice: IChoice, preset: Preset, options: SpawnOptions): IChoice {
  const { cpu, memory, gpu } = defaultChoice(options);
  return apply({ ...choice, cpu, memory, gpu }, preset.request, options);
}

/** The preset whose choices the form holds now, if any. */
export function presetOf(choice: IChoice, options: SpawnOptions): Preset | undefined {
  const key = (c: IChoice) =>
    JSON.stringify([imageRef(c), c.cpu, c.memory, c.gpu, [...c.volumes].sort()]);
  const now = key(choice);
  return (options.presets ?? []).find(p => key(applyPreset(choice, p, options)) === now);
}

/** Whether an image matches every word typed: name, tag, description, category, packages. */
export function matches(image: Image, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const text = [
    image.name,
    image.description,
    image.category,
    ...image.keywords,
    ...image.tags.map(t => t.tag)
  ]
    .join(' ')
    .toLowerCase();
  return words.every(w => text.includes(w));
}

/** Images by category, categories and images in the catalogue's order. */
export function byCategory(images: Image[]): [string, Image[]][] {
  const out = new Map<string, Image[]>();
  for (const image of images) {
    const list = out.get(image.category) ?? [];
    list.push(image);
    out.set(image.category, list);
  }
  return [...out];
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);

/** Why a number is not allowed (the companion's own rule: min..max in steps from min). */
export function rangeError(
  value: number,
  range: SpawnRange,
  unit: string,
  what: string
): string | undefined {
  if (!Number.isFinite(value)) return `${what}: enter a number of ${unit}.`;
  if (value < range.min || value > range.max) {
    return `${what} must be between ${fmt(range.min)} and ${fmt(range.max)} ${unit}; ${fmt(value)} is outside.`;
  }
  if (range.step > 0) {
    const steps = (value - range.min) / range.step;
    if (Math.abs(steps - Math.round(steps)) > 1e-6) {
      const below = range.min + Math.floor(steps) * range.step;
      return (
        `${what} goes in steps of ${fmt(range.step)} ${unit} from ${fmt(range.min)}; ` +
        `choose ${fmt(below)} or ${fmt(below + range.step)} instead of ${fmt(value)}.`
      );
    }
  }
  return undefined;
}

/** The name to type before a home is deleted: the server's, or the user's for the default. */
export function confirmationWord(data: ISpawnData): string {
  return data.server || data.user;
}

/** Every problem of the choice, by field, in the companion's words where it has them. */
export function validate(choice: IChoice, data: ISpawnData): Partial<Record<Field, string>> {
  const { options } = data;
  const errors: Partial<Record<Field, string>> = {};
  if (!choice.imageName) {
    const ref = choice.custom.trim();
    if (!options.customImages.allowed) errors.image = 'Choose an image from the list.';
    else if (!ref) errors.image = 'Give the custom image, e.g. registry.example.org/notebook:1.0.';
    else if (/\s/.test(ref)) errors.image = 'An image reference has no spaces.';
    else if (!patternMatches(options.customImages.pattern, ref)) {
      errors.image = `The custom image ${ref} does not match what the operators allow (${options.customImages.pattern}).`;
    } else if (!splitImage(ref).tag) {
      errors.image = `Give the custom image ${ref} a tag, e.g. ${ref}:2026-12-01.`;
    }
  }
  const cpu = rangeError(choice.cpu, options.cpu, 'cores', 'CPU');
  if (cpu) errors.cpu = cpu;
  else if (options.quota?.cpu !== undefined && choice.cpu > options.quota.cpu + 1e-9) {
    errors.cpu = `${fmt(choice.cpu)} cores is more than your quota has left (${fmt(options.quota.cpu)} cores).`;
  }
  const memory = rangeError(choice.memory, options.memory, 'GiB', 'Memory');
  if (memory) errors.memory = memory;
  else if (options.quota?.memory !== undefined && choice.memory > options.quota.memory + 1e-9) {
    errors.memory = `${fmt(choice.memory)} GiB is more than your quota has left (${fmt(options.quota.memory)} GiB).`;
  }
  const gpu = gpuError(choice.gpu, options);
  if (gpu) errors.gpu = gpu;
  if (choice.home === 'fresh' && choice.confirmHome !== confirmationWord(data)) {
    errors.confirmHome = `Type "${confirmationWord(data)}" to confirm deleting everything in the home.`;
  }
  return errors;
}

/** The extended resource a GPU choice asks for: a whole GPU, or a MIG slice. */
export function gpuResource(value: string): string | undefined {
  if (value.startsWith('model:')) return 'nvidia.com/gpu';
  if (value.startsWith('mig:')) return `nvidia.com/mig-${value.slice('mig:'.length)}`;
  return undefined;
}

/** What the namespace quota leaves of a GPU choice's resource, in words; '' where it sets none. */
export function quotaHint(options: SpawnOptions, value: string): string {
  const resource = gpuResource(value);
  const left = resource === undefined ? undefined : options.quota?.gpus?.[resource];
  return left === undefined ? '' : ` · your quota has ${fmt(left)} left`;
}

function gpuError(value: string, options: SpawnOptions): string | undefined {
  if (value.startsWith('model:')) {
    const model = value.slice('model:'.length);
    const g = options.gpus.find(x => x.model === model);
    if (g && g.whole === false) {
      return `A whole ${g.label} is not offered here; choose one of its MIG slices.`;
    }
  }
  const resource = gpuResource(value);
  const left = resource === undefined ? undefined : options.quota?.gpus?.[resource];
  if (left !== undefined && left < 1) {
    return `Your quota has no ${resource} left; stop a server or job that uses one first.`;
  }
  return undefined;
}

function patternMatches(pattern: string, ref: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(ref);
  } catch {
    return true; // the companion decides
  }
}

/** Free GPUs now for a choice's gpu value, and whether they are simulated. */
export function freeNow(
  gpus: GpuAvailability | null,
  value: string,
  model: string
): { free: number; simulated: boolean } | undefined {
  if (!gpus || !value) return undefined;
  const [kind, ...rest] = value.split(':');
  const name = rest.join(':');
  const rows =
    kind === 'mig'
      ? gpus.migProfiles.filter(p => p.profile === name && p.product === model)
      : gpus.models.filter(m => m.product === name);
  return {
    free: rows.reduce((n, r) => n + r.free, 0),
    simulated: rows.some(r => r.simulated)
  };
}

/** What the pod requests below the chosen limits: the operator's guarantees (none: the choice). */
export interface IGuarantees {
  cpu: number | null;
  memory: number | null;
}

/**
 * What an hour of the choice costs by the rate card, or undefined without one. Where the card
 * charges requests, CPU and memory are billed at the pod's requests (the guarantees, capped at the
 * choice); otherwise at most the choice.
 */
export function costPerHour(
  choice: IChoice,
  card: RateCard | null,
  guarantees?: IGuarantees | null
): number | undefined {
  if (!card) return undefined;
  const requested = (chosen: number, guarantee: number | null | undefined) =>
    card.charge === 'requests' && guarantee ? Math.min(guarantee, chosen) : chosen;
  let cost =
    requested(choice.cpu, guarantees?.cpu) * card.cpuCoreHour +
    requested(choice.memory, guarantees?.memory) * card.memoryGibHour;
  const [kind, ...rest] = choice.gpu.split(':');
  const name = rest.join(':');
  if (kind === 'model') cost += card.gpuHour[name] ?? card.gpuHour.default;
  if (kind === 'mig') cost += card.migHour[name] ?? card.migHour.default;
  return Number.isFinite(cost) ? cost : undefined;
}

/** The choice as a permalink's fragment (never a fresh home: a link must not delete one). */
export function linkParams(choice: IChoice): URLSearchParams {
  const params = new URLSearchParams();
  params.set('image', imageRef(choice));
  params.set('cpu', String(choice.cpu));
  params.set('memory', String(choice.memory));
  params.set('gpu', choice.gpu || 'none');
  for (const v of choice.volumes) params.append('volumes', v);
  return params;
}
