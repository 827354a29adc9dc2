/**
 * What the usage feature keeps of a pod, a node and a namespace, and how it reads them from the
 * API objects. Requests are summed the way the scheduler counts them (platform/kubernetes/gpus.ts
 * does the same for GPUs); GPU resources are keyed for the rollups as gpu:<model> (the node's
 * nvidia.com/gpu.product) or mig:<profile>.
 */
import type { IKubeObject } from '../../platform/kubernetes/informer.js';
import { GPU, MIG_PREFIX, parseQuantity } from '../../platform/kubernetes/gpus.js';
import { USER_ANNOTATION } from '../../platform/kubernetes/namespaces.js';

export interface IUsagePod {
  uid: string;
  namespace: string;
  name: string;
  kind: 'server' | 'job' | 'other';
  phase: string;
  node: string | null;
  /** Epoch ms the pod started running (status.startTime), null before. */
  startedAt: number | null;
  /** Epoch ms its last container finished, for pods that have ended. */
  endedAt: number | null;
  /** Cores and bytes requested, and the limits (null when some container has none). */
  cpu: { request: number; limit: number | null };
  memory: { request: number; limit: number | null };
  /** nvidia.com/gpu and nvidia.com/mig-<profile> counts, as requested. */
  gpus: Record<string, number>;
}

interface IResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}
interface IContainer {
  resources?: IResources;
  restartPolicy?: string;
}
interface IPod extends IKubeObject {
  metadata?: IKubeObject['metadata'] & {
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind?: string }[];
  };
  spec?: {
    nodeName?: string;
    containers?: IContainer[];
    initContainers?: IContainer[];
    overhead?: Record<string, string>;
  };
  status?: {
    phase?: string;
    startTime?: string;
    containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[];
  };
}

const time = (s: string | undefined) => {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t : null;
};

/** Requests as the scheduler sums them: containers and sidecars, or the largest init container. */
function effective(pod: IPod, read: (c: IContainer) => Record<string, number>) {
  const total: Record<string, number> = {};
  const add = (r: Record<string, number>) => {
    for (const [k, v] of Object.entries(r)) total[k] = (total[k] ?? 0) + v;
  };
  for (const c of pod.spec?.containers ?? []) add(read(c));
  for (const c of pod.spec?.initContainers ?? []) if (c.restartPolicy === 'Always') add(read(c));
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') continue;
    for (const [k, v] of Object.entries(read(c))) total[k] = Math.max(total[k] ?? 0, v);
  }
  for (const [k, v] of Object.entries(pod.spec?.overhead ?? {})) {
    total[k] = (total[k] ?? 0) + parseQuantity(v);
  }
  return total;
}

const quantities = (list: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(list ?? {}).map(([k, v]) => [k, parseQuantity(v)]));

function limitOf(pod: IPod, name: string): number | null {
  const containers = pod.spec?.containers ?? [];
  if (!containers.length || containers.some(c => !c.resources?.limits?.[name])) return null;
  return containers.reduce((sum, c) => sum + parseQuantity(c.resources?.limits?.[name]), 0);
}

function kindOf(pod: IPod): IUsagePod['kind'] {
  const labels = pod.metadata?.labels ?? {};
  if (labels.component === 'singleuser-server' || labels['hub.jupyter.org/username']) {
    return 'server';
  }
  const owners = pod.metadata?.ownerReferences ?? [];
  if (labels['job-name'] || owners.some(o => o.kind === 'Job')) return 'job';
  return 'other';
}

/** The pod as the usage index keeps it; only pods in namespaces with `prefix` are kept. */
export function trimUsagePod(obj: IKubeObject, prefix: string): IUsagePod | undefined {
  const pod = obj as IPod;
  const namespace = pod.metadata?.namespace ?? '';
  if (!namespace.startsWith(prefix)) return undefined;
  // Extended resources (GPUs) take their request from the limit when only that is set.
  const requests = effective(pod, c => ({
    ...quantities(c.resources?.limits),
    ...quantities(c.resources?.requests)
  }));
  const gpus: Record<string, number> = {};
  for (const [k, v] of Object.entries(requests)) {
    if ((k === GPU || k.startsWith(MIG_PREFIX)) && v > 0) gpus[k] = v;
  }
  const finished = (pod.status?.containerStatuses ?? [])
    .map(s => time(s.state?.terminated?.finishedAt))
    .filter((t): t is number => t !== null);
  const phase = pod.status?.phase ?? 'Unknown';
  const ended = phase === 'Succeeded' || phase === 'Failed';
  return {
    uid: pod.metadata?.uid ?? `${namespace}/${pod.metadata?.name}`,
    namespace,
    name: pod.metadata?.name ?? '',
    kind: kindOf(pod),
    phase,
    node: pod.spec?.nodeName ?? null,
    startedAt: pod.spec?.nodeName ? time(pod.status?.startTime) : null,
    endedAt: ended && finished.length ? Math.max(...finished) : null,
    cpu: { request: requests.cpu ?? 0, limit: limitOf(pod, 'cpu') },
    memory: { request: requests.memory ?? 0, limit: limitOf(pod, 'memory') },
    gpus
  };
}

/** A GPU node's model, for pricing whole GPUs (MIG slices are priced by profile). */
export function trimGpuNode(obj: IKubeObject): string | undefined {
  const labels = (obj as { metadata?: { labels?: Record<string, string> } }).metadata?.labels;
  return labels?.['nvidia.com/gpu.product'];
}

/** A tenant namespace's user: the exact hub name tenancy wrote on it. */
export function trimTenantNamespace(obj: IKubeObject): string | undefined {
  const annotations = (obj as { metadata?: { annotations?: Record<string, string> } }).metadata
    ?.annotations;
  return annotations?.[USER_ANNOTATION];
}

/** The rollup keys and amounts (units, not hours) a pod reserves, e.g. {cpu: 2, "gpu:L4": 1}. */
export function reserved(pod: IUsagePod, model: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (pod.cpu.request > 0) out.cpu = pod.cpu.request;
  if (pod.memory.request > 0) out.memory = pod.memory.request / 2 ** 30;
  for (const [name, count] of Object.entries(pod.gpus)) {
    const key = name === GPU ? `gpu:${model ?? 'unknown'}` : `mig:${name.slice(MIG_PREFIX.length)}`;
    out[key] = (out[key] ?? 0) + count;
  }
  return out;
}
