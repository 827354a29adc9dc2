/**
 * GPU availability kept in step with the cluster: two informers (GPU nodes; pods bound to a node
 * and not finished) feed the per-node accounting of gpu-accounting.ts event by event. A request
 * reads a few small aggregates; nothing is listed or recomputed per request.
 */
import type { GpuAvailability } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import { GpuAccounting } from './gpu-accounting.js';
import { trimNode, trimPod, type INodeRecord, type IPodRecord } from './gpus.js';
import { createInformer, type IInformer, type IInformerStats } from './informer.js';
import type { IKubeTransport } from './transport.js';

/**
 * Pods that can hold a GPU: bound to a node and not finished. A pod that stops matching (it
 * completes) arrives as DELETED, so finished pods are never held.
 */
export const POD_FIELD_SELECTOR = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';

export interface IClusterIndexOptions {
  /** Only nodes with these labels (default: every node; nodes without GPUs are not kept). */
  nodeLabelSelector?: string;
  relistSeconds?: number;
  staleSeconds?: number;
  watchTimeoutSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
  log?: FastifyBaseLogger;
}

export interface IClusterIndex {
  /** Both informers have listed once. */
  readonly ready: Promise<void>;
  synced(): boolean;
  start(): void;
  stop(): Promise<void>;
  gpus(): GpuAvailability;
  informers(): IInformerStats[];
}

export function createClusterIndex(
  transport: IKubeTransport,
  options: IClusterIndexOptions = {}
): IClusterIndex {
  const common = {
    relistSeconds: options.relistSeconds,
    staleSeconds: options.staleSeconds,
    watchTimeoutSeconds: options.watchTimeoutSeconds,
    backoff: options.backoff,
    log: options.log
  };
  const accounting = new GpuAccounting();
  let changedAt = Date.now();
  const changed = () => (changedAt = Date.now());

  const nodes: IInformer<INodeRecord> = createInformer(transport, {
    ...common,
    name: 'nodes',
    path: '/api/v1/nodes',
    labelSelector: options.nodeLabelSelector,
    trim: trimNode,
    handler: {
      upsert: (_key, node) => (accounting.setNode(node.name, node), changed()),
      remove: (_key, node) => (accounting.setNode(node.name, undefined), changed())
    }
  });

  const pods: IInformer<IPodRecord> = createInformer(transport, {
    ...common,
    name: 'pods',
    path: '/api/v1/pods',
    fieldSelector: POD_FIELD_SELECTOR,
    trim: trimPod,
    handler: {
      upsert: (_key, pod, previous) => {
        if (previous) accounting.removePod(previous);
        accounting.addPod(pod);
        changed();
      },
      remove: (_key, pod) => (accounting.removePod(pod), changed())
    }
  });

  const informers = [nodes, pods];
  return {
    ready: Promise.all(informers.map(i => i.ready)).then(() => undefined),
    synced: () => informers.every(i => i.stats().synced),
    start: () => informers.forEach(i => i.start()),
    stop: async () => {
      await Promise.all(informers.map(i => i.stop()));
    },
    informers: () => informers.map(i => i.stats()),
    gpus() {
      const stats = informers.map(i => i.stats());
      const contact = Math.min(...stats.map(s => s.lastContactAt?.getTime() ?? 0));
      return {
        ...accounting.counts(),
        updatedAt: new Date(Math.max(changedAt, contact)).toISOString(),
        stale: stats.some(s => s.stale)
      };
    }
  };
}
