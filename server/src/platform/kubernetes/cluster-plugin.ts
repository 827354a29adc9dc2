/**
 * The cluster index as a platform piece: `app.clusterIndex` (null without Kubernetes). It starts
 * in the background once the app is ready, so the companion serves (and says "syncing") while the
 * API server is slow or down, and keeps retrying; it stops with the app.
 */
import fp from 'fastify-plugin';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createClusterIndex, type IClusterIndex } from './cluster-index.js';
import type { IInformerStats } from './informer.js';
import { isKubernetesConfigured, loadKubeConfig } from './client.js';
import { createTransport } from './transport.js';

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    clusterIndex: IClusterIndex | null;
  }
}

export const clusterIndexPlugin = fp(
  async app => {
    const config = app.config.kubernetes;
    if (!isKubernetesConfigured(config)) {
      app.decorate('clusterIndex', null);
      return;
    }
    const transport = createTransport(loadKubeConfig(config));
    const index = createClusterIndex(transport, {
      staleSeconds: config.staleSeconds,
      relistSeconds: config.relistSeconds,
      log: app.log.child({ component: 'cluster-index' })
    });
    app.decorate('clusterIndex', index);
    registerMetrics(app.metrics.registry, index);
    app.addHook('onReady', async () => index.start());
    app.addHook('onClose', async () => {
      await index.stop();
      transport.close();
    });
  },
  { name: 'cluster-index', dependencies: ['config', 'metrics'] }
);

/** Read from the informers' own counters at scrape time: nothing to keep in step. */
function registerMetrics(registry: Registry, index: IClusterIndex) {
  const labelNames = ['informer'] as const;
  const gauge = (fn: (s: IInformerStats) => number) =>
    function (this: Gauge<'informer'>) {
      for (const s of index.informers()) this.set({ informer: s.name }, fn(s));
    };
  const counter = (fn: (s: IInformerStats) => number) =>
    function (this: Counter<'informer'>) {
      this.reset();
      for (const s of index.informers()) this.inc({ informer: s.name }, fn(s));
    };
  new Gauge({
    name: 'hotstepper_informer_objects',
    help: 'Objects held by a Kubernetes index (trimmed records).',
    labelNames,
    registers: [registry],
    collect: gauge(s => s.objects)
  });
  new Gauge({
    name: 'hotstepper_informer_stale',
    help: '1 when a Kubernetes index has lost its watch for longer than kubernetes.staleSeconds.',
    labelNames,
    registers: [registry],
    collect: gauge(s => Number(s.stale || !s.synced))
  });
  new Counter({
    name: 'hotstepper_informer_events_total',
    help: 'Watch events (added, modified, deleted, bookmark) received by a Kubernetes index.',
    labelNames,
    registers: [registry],
    collect: counter(s => Object.values(s.events).reduce((a, b) => a + b, 0))
  });
  new Counter({
    name: 'hotstepper_informer_failures_total',
    help: 'Failed lists or watches of a Kubernetes index (each retried with backoff).',
    labelNames,
    registers: [registry],
    collect: counter(s => s.failures)
  });
  new Counter({
    name: 'hotstepper_informer_relists_total',
    help: 'Full lists by a Kubernetes index (first sync, 410 Gone, periodic).',
    labelNames,
    registers: [registry],
    collect: counter(s => s.lists)
  });
}
