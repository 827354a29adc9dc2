/**
 * The usage feature's background parts: its watch of the cluster (every replica) and the meter
 * (only the replica holding the Lease usage.meter.leaseName).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { isKubernetesConfigured, loadKubeConfig } from '../../platform/kubernetes/client.js';
import { createLeaderElector, leaseNamespace } from '../../platform/kubernetes/leader.js';
import { createTransport } from '../../platform/kubernetes/transport.js';
import { createUsageIndex, type IUsageIndex } from './index-pods.js';
import { prometheusMeasure } from './measure.js';
import { createMeter, type IMeter } from './meter.js';

export interface IUsageController {
  index: IUsageIndex;
  meter: IMeter;
}

/** Starts with the app, stops with it; null without Kubernetes. */
export function startUsageController(app: FastifyInstance): IUsageController | null {
  const { kubernetes, usage, prometheus } = app.config;
  if (!isKubernetesConfigured(kubernetes)) return null;
  const log = app.log.child({ component: 'usage' });
  const transport = createTransport(loadKubeConfig(kubernetes));
  const prefix = kubernetes.tenancy.namespacePrefix;
  const index = createUsageIndex(transport, {
    namespacePrefix: prefix,
    relistSeconds: kubernetes.relistSeconds,
    staleSeconds: kubernetes.staleSeconds,
    log,
    // The index starts on ready, after the meter exists.
    onPodChange: (previous, next) => meter.changed(previous, next)
  });
  const meter = createMeter({
    db: app.database.db,
    pods: () => index.pods(),
    userOf: ns => index.userOf(ns),
    modelOf: node => index.modelOf(node),
    synced: () => index.synced(),
    measure:
      app.prometheus && prometheus.url ? prometheusMeasure(app.prometheus, prefix) : undefined,
    log
  });
  const elector = usage.meter.enabled
    ? createLeaderElector(transport, {
        namespace: leaseNamespace(kubernetes.leaseNamespace),
        name: usage.meter.leaseName,
        identity: `${hostname()}-${randomBytes(4).toString('hex')}`,
        log,
        onStartedLeading: signal => void meter.run(usage.meter.intervalSeconds * 1000, signal)
      })
    : undefined;
  app.addHook('onReady', async () => {
    index.start();
    elector?.start();
  });
  app.addHook('onClose', async () => {
    await elector?.stop();
    await index.stop();
    transport.close();
  });
  return { index, meter };
}
