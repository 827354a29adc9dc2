/**
 * The idle guard's lifetime: rounds run only on the replica holding the Lease idle.leaseName
 * (the chart names it <fullname>-idle-guard), or always when there is no Kubernetes (one
 * companion on one machine). Every replica serves the API from the shared database.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { isKubernetesConfigured, loadKubeConfig } from '../../platform/kubernetes/client.js';
import { createLeaderElector, leaseNamespace } from '../../platform/kubernetes/leader.js';
import { createTransport } from '../../platform/kubernetes/transport.js';
import { sleep } from '../../platform/sleep.js';
import { createIdleGuard, kernelStateOf, type IdleGuard } from './guard.js';
import { createIdleHub } from './hub.js';
import { measurePods } from './metrics.js';
import type { IdleStore } from './store.js';

export interface IIdleController {
  guard: IdleGuard;
  /** This replica runs the rounds now. */
  leading(): boolean;
}

export function startIdleController(
  app: FastifyInstance,
  store: IdleStore
): IIdleController | null {
  const { idle, jupyterhub, kubernetes, mail } = app.config;
  const log = app.log.child({ component: 'idle' });
  if (!idle.enabled) return null;
  if (!jupyterhub.apiToken) {
    log.warn('idle guard off: it needs the companion service token (jupyterhub.apiToken)');
    return null;
  }
  const prometheus = app.prometheus;
  const guard = createIdleGuard({
    config: idle,
    store,
    hub: createIdleHub({
      apiUrl: jupyterhub.apiUrl,
      token: jupyterhub.apiToken,
      timeoutSeconds: jupyterhub.timeoutSeconds
    }),
    kernels: async (user, server) => {
      const report = await app.serverReports.latest(user, server);
      return report && kernelStateOf(report);
    },
    measure: prometheus
      ? (spec, time) => measurePods(prometheus, idle.podTemplate, spec, time)
      : null,
    mailer: app.mail,
    addresses: mail.addresses,
    log
  });
  const intervalMs = Math.min(...Object.values(idle.profiles).map(p => p.intervalSeconds)) * 1000;
  let leading = false;

  async function run(signal: AbortSignal) {
    leading = true;
    try {
      while (!signal.aborted) {
        try {
          const r = await guard.round();
          if (r.judged) log.info(r, 'idle guard round');
        } catch (err) {
          log.error(
            { err },
            'idle guard round failed; the next round starts from the stored state'
          );
        }
        await sleep(intervalMs, signal);
      }
    } finally {
      leading = false;
    }
  }

  let running: Promise<void> | undefined;
  if (isKubernetesConfigured(kubernetes)) {
    const transport = createTransport(loadKubeConfig(kubernetes));
    const elector = createLeaderElector(transport, {
      namespace: leaseNamespace(kubernetes.leaseNamespace),
      name: idle.leaseName,
      identity: `${hostname()}-${randomBytes(4).toString('hex')}`,
      log,
      onStartedLeading: signal => {
        running = run(signal);
      }
    });
    app.addHook('onReady', async () => elector.start());
    app.addHook('onClose', async () => {
      await elector.stop();
      await running;
      transport.close();
    });
  } else {
    const stop = new AbortController();
    app.addHook('onReady', async () => {
      running = run(stop.signal);
    });
    app.addHook('onClose', async () => {
      stop.abort();
      await running;
    });
  }
  return { guard, leading: () => leading };
}
