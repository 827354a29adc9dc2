/**
 * The usage feature's watch of the cluster: pods in tenant namespaces (all phases, so a finished
 * job's end time is seen), the tenant namespaces' users, and GPU nodes' models. Every replica
 * keeps it (live usage reads it); only the Lease holder meters from it.
 */
import type { FastifyBaseLogger } from 'fastify';
import { createInformer, type IInformerStats } from '../../platform/kubernetes/informer.js';
import { MANAGED_BY } from '../../platform/kubernetes/namespaces.js';
import type { IKubeTransport } from '../../platform/kubernetes/transport.js';
import { trimGpuNode, trimTenantNamespace, trimUsagePod, type IUsagePod } from './pods.js';

export interface IUsageIndex {
  readonly ready: Promise<void>;
  synced(): boolean;
  start(): void;
  stop(): Promise<void>;
  pods(): IterableIterator<IUsagePod>;
  podsIn(namespace: string): IUsagePod[];
  userOf(namespace: string): string | undefined;
  modelOf(node: string): string | undefined;
  informers(): IInformerStats[];
}

export interface IUsageIndexOptions {
  namespacePrefix: string;
  relistSeconds?: number;
  staleSeconds?: number;
  log?: FastifyBaseLogger;
  /** Every change of a pod, before the index holds the new state. */
  onPodChange?: (previous: IUsagePod, next: IUsagePod | undefined) => void;
}

export function createUsageIndex(
  transport: IKubeTransport,
  options: IUsageIndexOptions
): IUsageIndex {
  const common = {
    relistSeconds: options.relistSeconds,
    staleSeconds: options.staleSeconds,
    log: options.log
  };
  const byNamespace = new Map<string, Map<string, IUsagePod>>();
  const pods = createInformer<IUsagePod>(transport, {
    ...common,
    name: 'usage-pods',
    path: '/api/v1/pods',
    trim: obj => trimUsagePod(obj, options.namespacePrefix),
    handler: {
      upsert(key, pod, previous) {
        if (previous) options.onPodChange?.(previous, pod);
        const map = byNamespace.get(pod.namespace) ?? new Map<string, IUsagePod>();
        map.set(key, pod);
        byNamespace.set(pod.namespace, map);
      },
      remove(key, previous) {
        options.onPodChange?.(previous, undefined);
        const map = byNamespace.get(previous.namespace);
        map?.delete(key);
        if (map?.size === 0) byNamespace.delete(previous.namespace);
      }
    }
  });
  const namespaces = createInformer<string>(transport, {
    ...common,
    name: 'usage-namespaces',
    path: '/api/v1/namespaces',
    labelSelector: `${MANAGED_BY}=hotstepper`,
    trim: trimTenantNamespace
  });
  const nodes = createInformer<string>(transport, {
    ...common,
    name: 'usage-gpu-nodes',
    path: '/api/v1/nodes',
    labelSelector: 'nvidia.com/gpu.product',
    trim: trimGpuNode
  });
  const all = [pods, namespaces, nodes];
  return {
    ready: Promise.all(all.map(i => i.ready)).then(() => undefined),
    synced: () => all.every(i => i.stats().synced),
    start: () => all.forEach(i => i.start()),
    stop: async () => {
      await Promise.all(all.map(i => i.stop()));
    },
    pods: () => pods.values(),
    podsIn: namespace => [...(byNamespace.get(namespace)?.values() ?? [])],
    userOf: namespace => namespaces.get(namespace),
    modelOf: node => nodes.get(node),
    informers: () => all.map(i => i.stats())
  };
}
