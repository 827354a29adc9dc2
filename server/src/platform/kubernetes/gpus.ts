/**
 * What the GPU index keeps of a node and of a pod, and how it reads them. Only GPU resources are
 * kept: whole GPUs (nvidia.com/gpu) and MIG slices (nvidia.com/mig-<profile>, the "mixed" MIG
 * strategy of NVIDIA's device plugin). Labels are those of GPU feature discovery.
 */
import type { IKubeObject } from './informer.js';

export const GPU = 'nvidia.com/gpu';
export const MIG_PREFIX = 'nvidia.com/mig-';
const isGpuResource = (name: string) => name === GPU || name.startsWith(MIG_PREFIX);

/** The mark of nodes whose GPUs are simulated (the local platform's kwok fleet and real node). */
export const SIMULATED_LABEL = 'hotstepper.dev/gpu-simulated';

export interface INodeRecord {
  name: string;
  /** nvidia.com/gpu.product, e.g. NVIDIA-A100-SXM4-80GB; null when the label is missing. */
  product: string | null;
  /** nvidia.com/gpu.memory: MiB per GPU. */
  memoryMiB: number | null;
  /** nvidia.com/mig.strategy: none, single or mixed. */
  migStrategy: string | null;
  /** Labelled hotstepper.dev/gpu-simulated=true: capacity advertised with no device behind it. */
  simulated: boolean;
  /** Not cordoned (spec.unschedulable) and condition Ready=True. */
  available: boolean;
  /** GPU resources only. */
  allocatable: Record<string, number>;
}

export interface IPodRecord {
  node: string;
  /** GPU resources only, as the scheduler counts them (see podRequests). */
  requests: Record<string, number>;
}

interface INode extends IKubeObject {
  metadata?: IKubeObject['metadata'] & { labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: {
    allocatable?: Record<string, string>;
    conditions?: { type?: string; status?: string }[];
  };
}

interface IContainer {
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface IPod extends IKubeObject {
  spec?: {
    nodeName?: string;
    containers?: IContainer[];
    initContainers?: (IContainer & { restartPolicy?: string })[];
    overhead?: Record<string, string>;
  };
  status?: { phase?: string };
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40
};

/** A Kubernetes quantity as a number ("2", "500m", "1k"); 0 when it cannot be read. */
export function parseQuantity(value: string | undefined): number {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(value?.trim() ?? '');
  if (!match || !(match[2] in SUFFIXES)) return 0;
  return Number(match[1]) * SUFFIXES[match[2]];
}

function gpuResources(list: Record<string, string> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(list ?? {})) {
    if (isGpuResource(name)) {
      const n = parseQuantity(value);
      if (n > 0) out[name] = n;
    }
  }
  return out;
}

/** The node as the index keeps it; undefined for a node without GPU resources. */
export function trimNode(obj: IKubeObject): INodeRecord | undefined {
  const node = obj as INode;
  const allocatable = gpuResources(node.status?.allocatable);
  if (Object.keys(allocatable).length === 0) return undefined;
  const labels = node.metadata?.labels ?? {};
  const ready = (node.status?.conditions ?? []).some(
    c => c.type === 'Ready' && c.status === 'True'
  );
  const memory = Number(labels['nvidia.com/gpu.memory']);
  return {
    name: node.metadata?.name ?? '',
    product: labels['nvidia.com/gpu.product'] ?? null,
    memoryMiB: Number.isFinite(memory) && memory > 0 ? memory : null,
    migStrategy: labels['nvidia.com/mig.strategy'] ?? null,
    simulated: labels[SIMULATED_LABEL] === 'true',
    available: ready && node.spec?.unschedulable !== true,
    allocatable
  };
}

/**
 * GPU requests as the scheduler counts them: the larger of the containers' sum and any single
 * init container, plus pod overhead. Extended resources default their request to the limit.
 */
export function podRequests(pod: IPod): Record<string, number> {
  const of = (c: IContainer) => gpuResources({ ...c.resources?.limits, ...c.resources?.requests });
  const total: Record<string, number> = {};
  const add = (into: Record<string, number>, r: Record<string, number>) => {
    for (const [k, v] of Object.entries(r)) into[k] = (into[k] ?? 0) + v;
  };
  for (const c of pod.spec?.containers ?? []) add(total, of(c));
  // Sidecars (init containers that keep running) add to the sum; the others run before it.
  const sidecars = (pod.spec?.initContainers ?? []).filter(c => c.restartPolicy === 'Always');
  for (const c of sidecars) add(total, of(c));
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') continue;
    for (const [k, v] of Object.entries(of(c))) total[k] = Math.max(total[k] ?? 0, v);
  }
  add(total, gpuResources(pod.spec?.overhead));
  return total;
}

/** The pod as the index keeps it; undefined unless it holds GPUs on a node now. */
export function trimPod(obj: IKubeObject): IPodRecord | undefined {
  const pod = obj as IPod;
  const node = pod.spec?.nodeName;
  const phase = pod.status?.phase;
  // The field selector already drops these; a relist or an old server may not.
  if (!node || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const requests = podRequests(pod);
  return Object.keys(requests).length ? { node, requests } : undefined;
}
