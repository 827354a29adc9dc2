/**
 * Per-node GPU accounting: what each node offers, what the pods bound to it request, and each
 * node's share of the per-model and per-MIG-profile totals. A change to one node or one of its
 * pods re-applies that node's share only, so keeping it current costs O(1) per watch event and an
 * answer costs O(groups), whatever the size of the cluster.
 */
import type { GpuAvailability } from '@hotstepper/schema';
import { GPU, MIG_PREFIX, type INodeRecord, type IPodRecord } from './gpus.js';

interface IGroup {
  kind: 'model' | 'mig';
  product: string;
  memoryMiB: number | null;
  profile: string;
  simulated: boolean;
  total: number;
  free: number;
  unavailable: number;
  nodes: number;
}

interface IShare {
  key: string;
  group: IGroup;
  total: number;
  free: number;
  unavailable: number;
}

export type GpuCounts = Pick<GpuAvailability, 'models' | 'migProfiles'>;

export class GpuAccounting {
  /** Set (or replace) a node; undefined removes it. */
  setNode(name: string, node: INodeRecord | undefined): void {
    if (node) this._nodes.set(name, node);
    else this._nodes.delete(name);
    this._touch(name);
  }

  addPod(pod: IPodRecord): void {
    this._account(pod, 1);
    this._touch(pod.node);
  }

  removePod(pod: IPodRecord): void {
    this._account(pod, -1);
    this._touch(pod.node);
  }

  counts(): GpuCounts {
    const count = (g: IGroup) => ({
      total: g.total,
      free: g.free,
      unavailable: g.unavailable,
      nodes: g.nodes
    });
    const all = [...this._groups.values()].sort(
      (a, b) => a.product.localeCompare(b.product) || a.profile.localeCompare(b.profile)
    );
    return {
      models: all
        .filter(g => g.kind === 'model')
        .map(g => ({
          product: g.product,
          memoryMiB: g.memoryMiB,
          simulated: g.simulated,
          ...count(g)
        })),
      migProfiles: all
        .filter(g => g.kind === 'mig')
        .map(g => ({
          profile: g.profile,
          product: g.product,
          simulated: g.simulated,
          ...count(g)
        }))
    };
  }

  private _account(pod: IPodRecord, sign: 1 | -1) {
    let perNode = this._used.get(pod.node);
    if (!perNode) this._used.set(pod.node, (perNode = new Map()));
    for (const [resource, n] of Object.entries(pod.requests)) {
      const left = (perNode.get(resource) ?? 0) + sign * n;
      if (left > 0) perNode.set(resource, left);
      else perNode.delete(resource);
    }
    if (perNode.size === 0) this._used.delete(pod.node);
  }

  private _groupOf(node: INodeRecord, resource: string): [string, IGroup] {
    const product = node.product ?? 'unknown';
    let kind: IGroup['kind'] = 'mig';
    let profile = resource.slice(MIG_PREFIX.length);
    let base = product;
    if (resource === GPU) {
      // Single MIG strategy: every slice is an nvidia.com/gpu and the product names the profile.
      const single = node.migStrategy === 'single' && /^(.*)-MIG-(.+)$/.exec(product);
      if (single) [, base, profile] = single;
      else [kind, profile] = ['model', ''];
    }
    const memoryMiB = kind === 'model' ? node.memoryMiB : null;
    const key = `${kind}\0${base}\0${profile}\0${memoryMiB ?? ''}\0${node.simulated}`;
    let group = this._groups.get(key);
    if (!group) {
      group = {
        kind,
        product: base,
        memoryMiB,
        profile,
        simulated: node.simulated,
        total: 0,
        free: 0,
        unavailable: 0,
        nodes: 0
      };
      this._groups.set(key, group);
    }
    return [key, group];
  }

  /** Take a node's share out of the totals and put its current one in. */
  private _touch(name: string) {
    for (const share of this._shares.get(name) ?? []) {
      const g = share.group;
      g.total -= share.total;
      g.free -= share.free;
      g.unavailable -= share.unavailable;
      if (--g.nodes === 0) this._groups.delete(share.key);
    }
    this._shares.delete(name);
    const node = this._nodes.get(name);
    if (!node) return;
    const perNode = this._used.get(name);
    const next: IShare[] = [];
    for (const [resource, total] of Object.entries(node.allocatable)) {
      const [key, group] = this._groupOf(node, resource);
      // Cordoned and NotReady nodes: their GPUs exist (total) but nobody gets one (free).
      const free = node.available ? Math.max(0, total - (perNode?.get(resource) ?? 0)) : 0;
      const share = { key, group, total, free, unavailable: node.available ? 0 : total };
      group.total += total;
      group.free += free;
      group.unavailable += share.unavailable;
      group.nodes++;
      next.push(share);
    }
    this._shares.set(name, next);
  }

  private _nodes = new Map<string, INodeRecord>();
  /** GPU requests of counted pods, per node name (a pod may arrive before its node). */
  private _used = new Map<string, Map<string, number>>();
  private _shares = new Map<string, IShare[]>();
  private _groups = new Map<string, IGroup>();
}
