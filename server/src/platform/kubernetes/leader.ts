/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it, so
 * that of N companion replicas one runs each background controller (usage meter, idle guard).
 * A replica takes the Lease when nobody holds it or the holder has not renewed within the lease
 * duration (measured on our own clock from when we last saw the record change, so clock skew
 * between replicas does not matter), renews every retry period, and gives up leading when it has
 * not renewed within the renew deadline. Writes carry the resourceVersion read, so two replicas
 * racing for a free Lease cannot both win. stop() releases the Lease so a successor takes over
 * at once instead of after the lease duration.
 */
import { readFileSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { IKubeTransport } from './transport.js';
import { KubeHttpError } from './transport.js';
import { sleep } from '../sleep.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** kubernetes.leaseNamespace, else the pod's own namespace, else "default". */
export function leaseNamespace(configured: string | undefined, file = SERVICE_ACCOUNT_NAMESPACE) {
  if (configured) return configured;
  try {
    return readFileSync(file, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

interface ILeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface ILease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: ILeaseSpec;
}

export interface ILeaderElectorOptions {
  namespace: string;
  /** The Lease's name, e.g. hotstepper-usage-meter (the chart's RBAC names each one). */
  name: string;
  /** Unique per replica: the pod name plus a random suffix. */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  /** Leading begins; `signal` aborts when it ends (lost or stopped). */
  onStartedLeading?: (signal: AbortSignal) => void;
  onStoppedLeading?: () => void;
  log?: FastifyBaseLogger;
}

export interface ILeaderElector {
  readonly name: string;
  readonly identity: string;
  isLeader(): boolean;
  start(): void;
  /** Stops trying; releases the Lease if we hold it, unless `release: false` (a crash). */
  stop(options?: { release?: boolean }): Promise<void>;
}

/** RFC 3339 with microseconds, the Lease's MicroTime. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export function createLeaderElector(
  transport: IKubeTransport,
  options: ILeaderElectorOptions
): ILeaderElector {
  const { namespace, name, identity, log } = options;
  const durationMs = (options.leaseDurationSeconds ?? 15) * 1000;
  const deadlineMs = (options.renewDeadlineSeconds ?? 10) * 1000;
  const retryMs = (options.retryPeriodSeconds ?? 2) * 1000;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  const path = `${collection}/${name}`;

  let stopping = new AbortController();
  let running: Promise<void> | undefined;
  let leading: AbortController | undefined;
  let lastRenew = 0;
  // What we last saw, and when (our clock): the holder's lease runs from that moment.
  let observed: { version: string; at: number } = { version: '', at: 0 };

  const spec = (previous: ILeaseSpec | undefined, now: Date): ILeaseSpec => {
    const ours = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(durationMs / 1000),
      acquireTime: ours && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (ours ? 0 : 1)
    };
  };

  async function tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    let lease: ILease;
    try {
      lease = await transport.request<ILease>('GET', path, undefined, signal);
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.statusCode === 404)) throw err;
      const body: ILease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { ...spec(undefined, now), leaseTransitions: 0 }
      };
      const created = await transport.request<ILease>('POST', collection, body, signal);
      observed = { version: created.metadata.resourceVersion ?? '', at: Date.now() };
      return true;
    }
    const version = lease.metadata.resourceVersion ?? '';
    if (version !== observed.version) observed = { version, at: Date.now() };
    const holder = lease.spec?.holderIdentity;
    const held = (lease.spec?.leaseDurationSeconds ?? durationMs / 1000) * 1000;
    if (holder && holder !== identity && observed.at + held > Date.now()) return false;
    const updated = await transport.request<ILease>(
      'PUT',
      path,
      { ...lease, spec: spec(lease.spec, now) },
      signal
    );
    observed = { version: updated.metadata.resourceVersion ?? '', at: Date.now() };
    return true;
  }

  function lose(why: string) {
    if (!leading) return;
    log?.warn({ lease: name, identity }, `stopped leading: ${why}`);
    leading.abort();
    leading = undefined;
    options.onStoppedLeading?.();
  }

  async function loop() {
    const signal = stopping.signal;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await tryAcquireOrRenew(signal);
      } catch (err) {
        if (signal.aborted) break;
        // 409: someone else wrote first; anything else: we could not tell. Both: not renewed.
        if (!(err instanceof KubeHttpError && err.statusCode === 409)) {
          log?.debug({ lease: name, err }, 'lease attempt failed');
        }
      }
      if (signal.aborted) break;
      if (ok) {
        lastRenew = Date.now();
        if (!leading) {
          leading = new AbortController();
          log?.info({ lease: name, identity }, 'started leading');
          options.onStartedLeading?.(leading.signal);
        }
      } else if (leading && Date.now() - lastRenew > deadlineMs) {
        lose('the lease was not renewed within the renew deadline');
      } else if (leading && !ok) {
        // Someone else holds it now (we read their record): step down at once.
        const now = await transport
          .request<ILease>('GET', path, undefined, signal)
          .catch(() => undefined);
        const holder = now?.spec?.holderIdentity;
        if (holder && holder !== identity) lose(`${holder} holds the lease`);
      }
      // Followers add jitter so they do not all ask in the same instant.
      await sleep(leading ? retryMs : retryMs * (1 + Math.random() * 0.2), signal);
    }
  }

  async function release() {
    try {
      const lease = await transport.request<ILease>('GET', path);
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date());
      await transport.request<ILease>('PUT', path, {
        ...lease,
        // An empty holder is free to take now; a 1 s duration covers readers that ignore that.
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now }
      });
    } catch (err) {
      log?.warn({ lease: name, err }, 'could not release the lease; it expires by itself');
    }
  }

  return {
    name,
    identity,
    isLeader: () => leading !== undefined,
    start() {
      if (running) return;
      stopping = new AbortController();
      running = loop().finally(() => (running = undefined));
    },
    async stop({ release: doRelease = true } = {}) {
      stopping.abort();
      await running;
      const wasLeading = leading !== undefined;
      lose('stopping');
      if (wasLeading && doRelease) await release();
    }
  };
}
