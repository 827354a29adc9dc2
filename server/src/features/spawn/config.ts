import type { SpawnRequest } from '@hotstepper/schema';

/**
 * The `spawn` section of the companion's configuration: what users may choose when they start a
 * server, per hub group where it differs. It lives here, beside the feature, and
 * platform/config.ts folds it into the one validated schema.
 */

export interface ISpawnImageConfig {
  /** The repository without a tag, e.g. registry.example.org/notebook. */
  name: string;
  description: string;
  category: string;
  keywords: string[];
  /** Immutable tags, newest first. */
  tags: { tag: string; date?: string }[];
}

export interface ISpawnRangeConfig {
  min: number;
  max: number;
  step: number;
  default: number;
}

export interface ISpawnGpuConfig {
  model: string;
  label: string;
  /** Whole GPUs of the model may be asked for (nvidia.com/gpu). */
  whole: boolean;
  migProfiles: string[];
  simulated: boolean;
}

export type SpawnAccess = 'none' | 'ro' | 'rw';

export interface ISpawnVolumeConfig {
  name: string;
  label: string;
  mountPath: string;
  /** The PersistentVolumeClaim in each user's namespace. */
  claimName: string;
  /** For users in no group that says otherwise. */
  access: SpawnAccess;
  /**
   * Where one volume shared by every namespace lives. With it the companion makes, in each user's
   * namespace that mounts it, the claim and a PersistentVolume of its own bound to it (a claim
   * binds one volume, and claims cannot cross namespaces). Without it the claim is the
   * operator's to provide.
   */
  source?: ISpawnVolumeSource;
  /** The size the claim and its volume state (nothing enforces it on hostPath or NFS). */
  size: string;
}

/** The PersistentVolume sources a shared volume may use: a folder on the node, or NFS. */
export type ISpawnVolumeSource =
  { hostPath: { path: string } } | { nfs: { server: string; path: string } };

/** What a hub group changes; every key is optional and the most permissive group wins. */
export interface ISpawnGroupConfig {
  images?: ISpawnImageConfig[];
  customImages?: Partial<ISpawnConfig['customImages']>;
  cpu?: Partial<ISpawnRangeConfig>;
  memory?: Partial<ISpawnRangeConfig>;
  gpus?: ISpawnGpuConfig[];
  /** Access to volumes of spawn.volumes, by name. */
  volumes?: Record<string, SpawnAccess>;
  maxServers?: number;
}

/** A named set of choices the spawn page offers to fill the form with. */
export interface ISpawnPresetConfig {
  name: string;
  label: string;
  description: string;
  /** Hub groups that see it; empty: everyone. */
  groups: string[];
  /** SpawnRequest's choice fields; the rest take the defaults. */
  request: Pick<SpawnRequest, 'image' | 'cpu' | 'memory' | 'gpu' | 'volumes'>;
}

export interface ISpawnConfig {
  /** The platform's notebook image (repository:tag): the catalogue when `images` is empty. */
  notebookImage?: string;
  images: ISpawnImageConfig[];
  customImages: { allowed: boolean; pattern: string };
  cpu: ISpawnRangeConfig;
  memory: ISpawnRangeConfig;
  gpus: ISpawnGpuConfig[];
  volumes: ISpawnVolumeConfig[];
  maxServers: number;
  presets: ISpawnPresetConfig[];
  /** Each user's own images (the image builder's), read from a registry; registry '' is off. */
  userImages: { registry: string; repository: string; refreshSeconds: number };
  groups: Record<string, ISpawnGroupConfig>;
}

const positive = { type: 'number', exclusiveMinimum: 0 };
/** A group's range: any of the four keys. */
const partialRange = {
  type: 'object',
  additionalProperties: false,
  properties: { min: positive, max: positive, step: positive, default: positive }
};
const range = (min: number, max: number, step: number, value: number) => ({
  ...partialRange,
  default: { min, max, step, default: value },
  required: ['min', 'max', 'step', 'default']
});
const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
const access = { enum: ['none', 'ro', 'rw'] };
const images = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'tags'],
    properties: {
      name: { type: 'string', pattern: '^[^\\s:@]+(:[0-9]+)?(/[^\\s:@]+)*$' },
      description: { type: 'string', default: '' },
      category: { type: 'string', default: 'Other' },
      keywords: { type: 'array', items: { type: 'string' }, default: [] },
      tags: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['tag'],
          properties: {
            tag: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' },
            date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }
          }
        }
      }
    }
  }
};
const gpus = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['model'],
    properties: {
      model: { type: 'string', minLength: 1 },
      label: { type: 'string', default: '' },
      whole: { type: 'boolean', default: true },
      migProfiles: {
        type: 'array',
        items: { type: 'string', pattern: '^[0-9]+g\\.[0-9]+gb$' },
        default: []
      },
      simulated: { type: 'boolean', default: false }
    }
  }
};
const customImages = (defaults: boolean) => ({
  type: 'object',
  additionalProperties: false,
  ...(defaults ? { default: {} } : {}),
  properties: {
    allowed: { type: 'boolean', ...(defaults ? { default: false } : {}) },
    // Matched against the whole reference; the default matches nothing.
    pattern: { type: 'string', minLength: 1, ...(defaults ? { default: '(?!)' } : {}) }
  }
});

export const spawnConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    notebookImage: { type: 'string', pattern: '^[^\\s]+:[A-Za-z0-9_][A-Za-z0-9_.-]*$' },
    images: { ...images, default: [] },
    customImages: customImages(true),
    cpu: range(0.5, 2, 0.5, 1),
    memory: range(1, 4, 0.5, 1),
    gpus: {
      ...gpus,
      // The local platform's real node: simulated A100s, whole or as 1g.10gb MIG slices.
      default: [
        {
          model: 'NVIDIA-A100-SXM4-80GB',
          label: 'NVIDIA A100 80 GB (simulated)',
          whole: true,
          migProfiles: ['1g.10gb'],
          simulated: true
        }
      ]
    },
    volumes: {
      type: 'array',
      // The seeds' restricted/full-access example: students read, teachers write.
      default: [
        {
          name: 'shared',
          label: 'Shared course files',
          mountPath: '/home/jovyan/shared',
          claimName: 'shared',
          access: 'none'
        }
      ],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'mountPath'],
        properties: {
          name,
          label: { type: 'string', default: '' },
          mountPath: { type: 'string', pattern: '^/' },
          claimName: name,
          access: { ...access, default: 'none' },
          source: {
            type: 'object',
            minProperties: 1,
            maxProperties: 1,
            additionalProperties: false,
            properties: {
              hostPath: {
                type: 'object',
                additionalProperties: false,
                required: ['path'],
                properties: { path: { type: 'string', pattern: '^/' } }
              },
              nfs: {
                type: 'object',
                additionalProperties: false,
                required: ['server', 'path'],
                properties: {
                  server: { type: 'string', minLength: 1 },
                  path: { type: 'string', pattern: '^/' }
                }
              }
            }
          },
          size: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?([KMGTPE]i?)?$', default: '1Gi' }
        }
      }
    },
    maxServers: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
    userImages: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        registry: { type: 'string', pattern: '^(https?://[^\\s/]+/?)?$', default: '' },
        repository: {
          type: 'string',
          pattern: '^[a-z0-9._/-]*\\{namespace\\}[a-z0-9._/-]*$',
          default: 'hotstepper/users/{namespace}'
        },
        refreshSeconds: { type: 'number', minimum: 1, maximum: 3600, default: 30 }
      }
    },
    presets: {
      type: 'array',
      // For the default GPUs: a light server, and one with a slice of the simulated A100. A preset
      // the user's options do not allow (say, once gpus is changed) is left out, not offered.
      default: [
        {
          name: 'light',
          label: 'Light',
          description: 'Half a core and 1 GiB: reading and small exercises',
          request: { cpu: 0.5, memory: 1 }
        },
        {
          name: 'gpu-slice',
          label: 'GPU slice',
          description: 'Two cores, 4 GiB and a 1g.10gb MIG slice of an A100 (simulated here)',
          request: { cpu: 2, memory: 4, gpu: { mig: '1g.10gb' } }
        }
      ],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'label', 'request'],
        properties: {
          name,
          label: { type: 'string', minLength: 1, maxLength: 60 },
          description: { type: 'string', maxLength: 200, default: '' },
          groups: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
          request: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              image: { type: 'string', pattern: '^[^\\s]+$' },
              cpu: positive,
              memory: positive,
              gpu: {
                type: 'object',
                minProperties: 1,
                maxProperties: 1,
                additionalProperties: false,
                properties: {
                  model: { type: 'string', minLength: 1 },
                  mig: { type: 'string', minLength: 1 }
                }
              },
              volumes: { type: 'array', uniqueItems: true, items: name }
            }
          }
        }
      }
    },
    groups: {
      type: 'object',
      default: { students: { volumes: { shared: 'ro' } }, teachers: { volumes: { shared: 'rw' } } },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          images,
          customImages: customImages(false),
          cpu: partialRange,
          memory: partialRange,
          gpus,
          volumes: { type: 'object', additionalProperties: access },
          maxServers: { type: 'integer', minimum: 1, maximum: 100 }
        }
      }
    }
  }
};

export const spawnEnvKeys: Record<string, [path: string, kind: 'string' | 'list' | 'json']> = {
  HOTSTEPPER_NOTEBOOK_IMAGE: ['spawn.notebookImage', 'string'],
  // Lists of objects: JSON, as in the configuration file (the local platform sets them).
  HOTSTEPPER_SPAWN_VOLUMES: ['spawn.volumes', 'json'],
  HOTSTEPPER_SPAWN_GROUPS: ['spawn.groups', 'json'],
  HOTSTEPPER_SPAWN_PRESETS: ['spawn.presets', 'json'],
  HOTSTEPPER_SPAWN_USER_IMAGES_REGISTRY: ['spawn.userImages.registry', 'string']
};

/** What the schema cannot say: ranges in order, patterns that compile, volumes that exist. */
export function spawnConfigProblems(config: ISpawnConfig): [key: string, why: string][] {
  const out: [string, string][] = [];
  const ranges = (base: string, r: Partial<ISpawnRangeConfig>) => {
    if (r.min !== undefined && r.max !== undefined && r.min > r.max) {
      out.push([`${base}.min`, `must not be above ${base}.max`]);
    }
  };
  const pattern = (key: string, p?: string) => {
    if (p === undefined) return;
    try {
      new RegExp(p);
    } catch (err) {
      out.push([key, `is not a regular expression: ${(err as Error).message}`]);
    }
  };
  ranges('spawn.cpu', config.cpu);
  ranges('spawn.memory', config.memory);
  pattern('spawn.customImages.pattern', config.customImages.pattern);
  const volumes = new Set(config.volumes.map(v => v.name));
  for (const [group, over] of Object.entries(config.groups)) {
    const base = `spawn.groups["${group}"]`;
    ranges(`${base}.cpu`, over.cpu ?? {});
    ranges(`${base}.memory`, over.memory ?? {});
    pattern(`${base}.customImages.pattern`, over.customImages?.pattern);
    for (const v of Object.keys(over.volumes ?? {})) {
      if (!volumes.has(v)) out.push([`${base}.volumes.${v}`, 'names no volume of spawn.volumes']);
    }
  }
  const presets = new Set<string>();
  config.presets.forEach((preset, i) => {
    if (presets.has(preset.name)) out.push([`spawn.presets[${i}].name`, 'is used twice']);
    presets.add(preset.name);
    for (const v of preset.request.volumes ?? []) {
      if (!volumes.has(v))
        out.push([`spawn.presets[${i}].request.volumes`, `names no volume ${v}`]);
    }
  });
  return out;
}
