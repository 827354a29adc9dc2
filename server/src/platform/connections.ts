/**
 * The registry of probes behind `connections` in /me, /status and /readyz. Results are cached and
 * refreshed in the background; a reader gets a fresh-enough answer and never waits longer than one
 * probe timeout, so a dead Prometheus cannot make /me hang.
 */
import type { Connection } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import { kubernetesProbe } from './kubernetes/probe.js';
import { hubProbe, llmProbe, prometheusProbe, type IProbe } from './probes.js';

export type ConnectionName = Connection['name'];

export interface IConnections {
  /** Every probe's latest result, re-checking those older than the refresh interval. */
  list(names?: ConnectionName[]): Promise<Connection[]>;
  start(): void;
  stop(): void;
}

export interface IConnectionsOptions {
  probes: IProbe[];
  refreshSeconds: number;
  timeoutSeconds: number;
  log?: FastifyBaseLogger;
}

export function createConnections(options: IConnectionsOptions): IConnections {
  const { probes, refreshSeconds, timeoutSeconds, log } = options;
  const results = new Map<ConnectionName, Connection & { at: number }>();
  const running = new Map<ConnectionName, Promise<Connection>>();
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;

  async function run(probe: IProbe): Promise<Connection> {
    if (probe.notConfigured) {
      return {
        name: probe.name,
        state: 'not_configured',
        detail: probe.notConfigured,
        checkedAt: null,
        latencyMs: null
      };
    }
    const started = performance.now();
    const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
    const signal = AbortSignal.any([timeout, stopping.signal]);
    let state: Connection['state'] = 'connected';
    let detail: string;
    let guard: NodeJS.Timeout | undefined;
    try {
      // The guard covers a check that does not honour the signal (e.g. a database query); it
      // fires a little after the signal, so a check that does gets to say what it was waiting for.
      detail = await Promise.race([
        probe.check({ signal, timeoutSeconds }),
        new Promise<never>((_, reject) => {
          guard = setTimeout(
            () =>
              reject(
                new Error(`The ${probe.name} check gave no answer within ${timeoutSeconds} s`)
              ),
            timeoutSeconds * 1000 + 250
          );
          guard.unref();
        })
      ]);
    } catch (err) {
      state = 'down';
      detail = stopping.signal.aborted
        ? `Not checked: the companion is shutting down.`
        : err instanceof Error
          ? err.message
          : String(err);
    } finally {
      clearTimeout(guard);
    }
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const previous = results.get(probe.name);
    // Log changes (and a first failure), not every check.
    if (previous ? previous.state !== state : state === 'down') {
      log?.[state === 'connected' ? 'info' : 'warn']({ connection: probe.name, state }, detail);
    }
    const result = {
      name: probe.name,
      state,
      detail,
      checkedAt: new Date().toISOString(),
      latencyMs
    };
    results.set(probe.name, { ...result, at: Date.now() });
    return result;
  }

  function refresh(probe: IProbe): Promise<Connection> {
    let pending = running.get(probe.name);
    if (!pending) {
      pending = run(probe).finally(() => running.delete(probe.name));
      running.set(probe.name, pending);
    }
    return pending;
  }

  const strip = ({ at: _at, ...c }: Connection & { at: number }): Connection => c;

  return {
    async list(names) {
      const wanted = names ? probes.filter(p => names.includes(p.name)) : probes;
      const stale = Date.now() - refreshSeconds * 1000;
      return Promise.all(
        wanted.map(async p => {
          const cached = results.get(p.name);
          return cached && cached.at > stale ? strip(cached) : refresh(p);
        })
      );
    },
    start() {
      const all = () => void Promise.all(probes.map(refresh));
      all();
      timer = setInterval(all, refreshSeconds * 1000);
      // The refresh loop alone must not keep the process alive.
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      stopping.abort();
    }
  };
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    connections: IConnections;
  }
}

export const connectionsPlugin = fp(
  async app => {
    const { config } = app;
    const connections = createConnections({
      probes: [
        hubProbe(config.jupyterhub),
        app.database.probe,
        kubernetesProbe(config.kubernetes),
        prometheusProbe(config.prometheus),
        llmProbe(config.llm)
      ],
      refreshSeconds: config.connections.refreshSeconds,
      timeoutSeconds: config.connections.timeoutSeconds,
      log: app.log
    });
    app.decorate('connections', connections);
    app.addHook('onReady', async () => connections.start());
    // preClose: stop probing before the database and the server go away.
    app.addHook('preClose', async () => connections.stop());
  },
  { name: 'connections', dependencies: ['config', 'database'] }
);

const USER_FACING: Record<Connection['state'], string> = {
  connected: 'Connected.',
  down: 'Not answering right now: features that need it may fail. Try again later, and tell your platform administrator if it lasts.',
  not_configured: 'Not set up on this platform.'
};

/**
 * A connection as a user who is not an operator sees it: the state, without the internal addresses,
 * file paths and configuration hints that the operator's detail carries.
 */
export function userFacing(connection: Connection): Connection {
  return { ...connection, detail: USER_FACING[connection.state] };
}
