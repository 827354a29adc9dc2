/**
 * The idle guard's lifetime: rounds run only on the replica holding the Lease idle.leaseName
 * (the chart names it <fullname>-idle-guard), or always when there is no Kubernetes (one
 * companion on one machine). Every replica serves the API from the shared database.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { isKubernetesConfigured, loadKubeConfig } from '../../platform/kubernetes/client.js';
import { createLeaderElector, leaseNamespace } from '../../platform/kubernetes/leader.js';
import { createTransport } from '../../platform/kubernetes/transport.js';
import { sleep } from '../../platform/sleep.js';
import { createIdleGuard, kernelStateOf, type IdleGuard, type IRoundResult } from './guard.js';
import { createIdleHub } from './hub.js';
import { measurePods } from './metrics.js';
import type { IdleStore } from './store.js';

/** After a start, the first follow-up round comes this soon; each further one twice as late. */
export const SETTLE_FIRST_MS = 30_000;

/**
 * A round that has seen the platform: running servers, every one with utilisation figures, and
 * neither the hub nor Prometheus failing. Right after a start (the companion's, the hub's, a new
 * leader's) the hub may not list the servers yet and Prometheus may not have scraped their pods.
 */
export function roundSawPlatform(r: IRoundResult | null): boolean {
  return (
    r !== null &&
    r.servers > 0 &&
    r.measured === r.servers &&
    r.hubError === null &&
    r.prometheusError === null
  );
}

/**
 * The guard's rounds until the signal aborts: the first at once, then every intervalMs. Until a
 * round has seen the platform (roundSawPlatform), the next comes sooner: after settleMs, then
 * twice that, and so on up to intervalMs, so a start before the hub or Prometheus know the
 * servers does not leave them unseen for a whole interval.
 */
export async function runRounds(options: {
  round: () => Promise<IRoundResult>;
  intervalMs: number;
  signal: AbortSignal;
  log: Pick<FastifyBaseLogger, 'info' | 'error'>;
  settleMs?: number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}): Promise<void> {
  const { round, intervalMs, signal, log } = options;
  const wait = options.wait ?? sleep;
  let settle: number | null = options.settleMs ?? SETTLE_FIRST_MS;
  while (!signal.aborted) {
    let r: IRoundResult | null = null;
    try {
      r = await round();
      if (settle !== null) log.info(r, 'idle guard round after start');
      else if (r.judged) log.info(r, 'idle guard round');
    } catch (err) {
      log.error({ err }, 'idle guard round failed; the next round starts from the stored state');
    }
    if (settle !== null && roundSawPlatform(r)) settle = null;
    const delay = settle === null ? intervalMs : Math.min(settle, intervalMs);
    if (settle !== null) settle = settle >= intervalMs ? null : settle * 2;
    await wait(delay, signal);
  }
}

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
      await runRounds({ round: () => guard.round(), intervalMs, signal, log });
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
