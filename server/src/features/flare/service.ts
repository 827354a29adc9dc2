/** Flare routes: create, list, change, delete; counting hits. No HTTP here: routes.ts adapts. */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type {
  FlareAccess,
  FlarePorts,
  FlareRoute,
  FlareRouteCreate,
  FlareRouteList,
  FlareRouteUpdate
} from '@hotstepper/schema';
import type { Kysely } from 'kysely';
import { HttpProblem } from '../../platform/problem.js';
import type { IServerPods } from '../../platform/kubernetes/server-pods.js';
import type { IReportedPort, IServerReports } from '../../platform/server-reports.js';
import type { IFlareConfig } from './config.js';
import type { FlareHub } from './hub.js';
import type { FlareRouteRow, FlareTables } from './migrations.js';
import { nameProblem } from './names.js';
import { listenerOwner } from './listener-owner.js';

/** Where a share link lands: the gateway swaps its token for a cookie of the app host. */
export const SHARE_PATH = '/_flare/share';
const ROUTE_CACHE_MS = 3_000;
const HITS_FLUSH_MS = 5_000;

export interface IFlareServiceDeps {
  db: Kysely<object>;
  config: IFlareConfig;
  hub: FlareHub;
  /** What the owners' servers report (their listening ports); the companion never asks them. */
  reports: IServerReports;
  /** Users' server pods (target pod); null without Kubernetes. */
  pods: Pick<IServerPods, 'addressOf'> | null;
  /** The owner's namespace, where their server pods run. */
  namespaceOf(user: string): string;
  /** Kubernetes objects of a route (mode kubernetes); absent in gateway mode. */
  objects?: {
    apply(row: FlareRouteRow): Promise<void>;
    remove(row: FlareRouteRow): Promise<void>;
  };
}

/** What the companion and the panel say when named-users access names nobody. */
export const ACCESS_EMPTY =
  'Name at least one hub user or group who may open it, or choose another access.';

/** The URL of a host under the Flare domain, written as configured. */
export const urlOf = (config: IFlareConfig, host: string) =>
  config.publicUrl.replace('{host}', host);

export function createFlareService({
  db,
  config,
  hub,
  reports,
  pods,
  namespaceOf,
  objects
}: IFlareServiceDeps) {
  const tables = db.withTables<FlareTables>();
  const routeCache = new Map<string, { at: number; row: Promise<FlareRouteRow | undefined> }>();
  const pendingHits = new Map<string, { hits: number; last: number }>();

  const notFound = (name: string) =>
    new HttpProblem(404, 'route_not_found', `You have no Flare route named "${name}".`);

  async function own(owner: string, name: string): Promise<FlareRouteRow> {
    const row = await tables
      .selectFrom('flare_routes')
      .selectAll()
      .where('name', '=', name)
      .where('owner', '=', owner)
      .executeTakeFirst();
    // Another user's route answers exactly like a missing one.
    if (!row) throw notFound(name);
    return row;
  }

  async function checkAccess(access: FlareAccess): Promise<FlareAccess> {
    if (access.mode !== 'users') return { mode: access.mode };
    const users = access.users ?? [];
    const groups = access.groups ?? [];
    if (!users.length && !groups.length) {
      throw new HttpProblem(400, 'access_empty', ACCESS_EMPTY, [
        { path: 'body.access', message: 'names no user or group' }
      ]);
    }
    for (const [i, user] of users.entries()) {
      if (!(await hub.userExists(user))) {
        throw new HttpProblem(400, 'access_unknown_user', `There is no hub user "${user}".`, [
          { path: `body.access.users.${i}`, message: 'is not a hub user' }
        ]);
      }
    }
    for (const [i, group] of groups.entries()) {
      if (!(await hub.groupExists(group))) {
        throw new HttpProblem(400, 'access_unknown_group', `There is no hub group "${group}".`, [
          { path: `body.access.groups.${i}`, message: 'is not a hub group' }
        ]);
      }
    }
    return { mode: 'users', users, groups };
  }

  /**
   * The ports listening in the owner's running servers, from the reports they pushed lately; no
   * fresh report: the server is stopped, or its Hotstepper extension cannot reach the companion.
   */
  async function listening(owner: string): Promise<IReportedPort[]> {
    const fresh = await reports.fresh(owner);
    if (!fresh.length) throw notReporting();
    const ports = new Map<number, IReportedPort>();
    for (const report of fresh)
      for (const p of report.ports) if (!ports.has(p.port)) ports.set(p.port, p);
    return [...ports.values()].sort((a, b) => a.port - b.port);
  }

  async function checkPort(owner: string, port: number): Promise<void> {
    const ports = await listening(owner);
    // A report names ports; on loopback, which server holds one is the kernel's word (pods: the
    // gateway asks the cluster for the owner's own pod).
    if (config.gateway.target === 'loopback' && ports.some(p => p.port === port)) {
      if (listenerOwner(port) !== owner) {
        throw new HttpProblem(
          400,
          'port_not_yours',
          `Port ${port} is not held by a process of your notebook server: expose an app that ` +
            'your server runs.',
          [{ path: 'body.port', message: 'is not a port of your server' }]
        );
      }
    }
    if (!ports.some(p => p.port === port)) {
      const seen = ports.map(p => p.port).join(', ') || 'none';
      throw new HttpProblem(
        400,
        'port_not_listening',
        `Nothing in your notebook server listens on port ${port} (its latest report lists: ` +
          `${seen}). Start your app first, then expose its port; your server reports its ports ` +
          'every 30 s, so a new app may take half a minute to show.',
        [{ path: 'body.port', message: 'is not listening in your server' }]
      );
    }
  }

  /**
   * Where the app on `port` of the owner's servers answers; undefined when no fresh report lists
   * the port. Target pod: the Running, Ready pod of a server whose report lists it (the default
   * server first), as the cluster knows it. A report picks a port, never an address.
   */
  async function addressOf(owner: string, port: number): Promise<string | undefined> {
    const servers = (await reports.fresh(owner))
      .filter(report => report.ports.some(p => p.port === port))
      .map(report => report.server);
    if (!servers.length) return undefined;
    if (config.gateway.target === 'loopback') {
      return listenerOwner(port) === owner ? config.gateway.appHost : undefined;
    }
    const namespace = namespaceOf(owner);
    for (const server of servers) {
      const ip = pods?.addressOf(namespace, server);
      if (ip) return ip;
    }
    return undefined;
  }

  async function probe(row: FlareRouteRow): Promise<'online' | 'offline'> {
    const host = await addressOf(row.owner, row.port).catch(() => undefined);
    if (!host) return 'offline';
    return new Promise(resolve => {
      const socket = connect({ host, port: row.port });
      const done = (status: 'online' | 'offline') => {
        socket.destroy();
        resolve(status);
      };
      socket.setTimeout(500, () => done('offline'));
      socket.once('connect', () => done('online'));
      socket.once('error', () => done('offline'));
    });
  }

  async function toRoute(row: FlareRouteRow): Promise<FlareRoute> {
    const url = urlOf(config, `${row.name}.${config.domain}`);
    const access = JSON.parse(row.access) as FlareAccess;
    const pending = pendingHits.get(row.name);
    const lastAccess = pending ? new Date(pending.last).toISOString() : row.last_access;
    return {
      name: row.name,
      url,
      port: row.port,
      access,
      ...(access.mode === 'link' && row.share_token
        ? { shareUrl: `${url.replace(/\/$/, '')}${SHARE_PATH}?t=${row.share_token}` }
        : {}),
      status: await probe(row),
      hits: Number(row.hits) + (pending?.hits ?? 0),
      ...(lastAccess ? { lastAccess } : {}),
      createdAt: row.created_at
    };
  }

  const newToken = () => randomBytes(24).toString('base64url');

  function forget(name: string) {
    routeCache.delete(name);
  }

  async function flushHits() {
    const batch = [...pendingHits.entries()];
    pendingHits.clear();
    for (const [name, { hits, last }] of batch) {
      await tables
        .updateTable('flare_routes')
        .set(eb => ({ hits: eb('hits', '+', hits), last_access: new Date(last).toISOString() }))
        .where('name', '=', name)
        .execute();
    }
  }
  const flusher = setInterval(() => void flushHits().catch(() => undefined), HITS_FLUSH_MS);
  flusher.unref();

  return {
    async list(owner: string): Promise<FlareRouteList> {
      const rows = await tables
        .selectFrom('flare_routes')
        .selectAll()
        .where('owner', '=', owner)
        .orderBy('created_at', 'desc')
        .execute();
      return {
        routes: await Promise.all(rows.map(toRoute)),
        limit: config.maxRoutesPerUser,
        domain: config.domain,
        // The exact address a new route gets, for the panel's preview: no guessing scheme or port.
        urlTemplate: urlOf(config, `{name}.${config.domain}`)
      };
    },

    async get(owner: string, name: string): Promise<FlareRoute> {
      return toRoute(await own(owner, name));
    },

    async create(owner: string, body: FlareRouteCreate): Promise<FlareRoute> {
      const bad = nameProblem(body.name, config.reservedNames);
      if (bad) throw bad;
      const taken = await tables
        .selectFrom('flare_routes')
        .select('owner')
        .where('name', '=', body.name)
        .executeTakeFirst();
      if (taken) throw nameTaken(body.name, taken.owner === owner);
      const count = await tables
        .selectFrom('flare_routes')
        .select(eb => eb.fn.countAll<number>().as('n'))
        .where('owner', '=', owner)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= config.maxRoutesPerUser) {
        throw new HttpProblem(
          409,
          'route_limit',
          `You already have ${count.n} Flare routes, the most allowed; delete one first.`
        );
      }
      const access = await checkAccess(body.access ?? { mode: 'hub' });
      await checkPort(owner, body.port);
      const row: FlareRouteRow = {
        name: body.name,
        owner,
        port: body.port,
        access: JSON.stringify(access),
        share_token: access.mode === 'link' ? newToken() : null,
        hits: 0,
        last_access: null,
        created_at: new Date().toISOString()
      };
      try {
        await tables.insertInto('flare_routes').values(row).execute();
      } catch (err) {
        // Someone took the name between our check and the insert: the primary key decided.
        const again = await tables
          .selectFrom('flare_routes')
          .select('owner')
          .where('name', '=', body.name)
          .executeTakeFirst();
        if (again) throw nameTaken(body.name, again.owner === owner);
        throw err;
      }
      forget(row.name);
      if (objects) {
        try {
          await objects.apply(row);
        } catch (err) {
          // Nothing half made: without its objects the route does not exist.
          await tables.deleteFrom('flare_routes').where('name', '=', row.name).execute();
          throw err;
        }
      }
      return toRoute(row);
    },

    async update(owner: string, name: string, body: FlareRouteUpdate): Promise<FlareRoute> {
      const row = await own(owner, name);
      const next = { ...row };
      if (body.access) {
        const access = await checkAccess(body.access);
        next.access = JSON.stringify(access);
        if (access.mode === 'link' && !next.share_token) next.share_token = newToken();
      }
      if (body.port !== undefined && body.port !== row.port) {
        await checkPort(owner, body.port);
        next.port = body.port;
      }
      if (objects) await objects.apply(next);
      await tables
        .updateTable('flare_routes')
        .set({ access: next.access, port: next.port, share_token: next.share_token })
        .where('name', '=', name)
        .where('owner', '=', owner)
        .execute();
      forget(name);
      return toRoute(next);
    },

    async rotate(owner: string, name: string): Promise<FlareRoute> {
      const row = await own(owner, name);
      if ((JSON.parse(row.access) as FlareAccess).mode !== 'link') {
        throw new HttpProblem(
          409,
          'not_link_mode',
          `Route "${name}" is not shared by link; set its access mode to "link" first.`
        );
      }
      const next = { ...row, share_token: newToken() };
      await tables
        .updateTable('flare_routes')
        .set({ share_token: next.share_token })
        .where('name', '=', name)
        .execute();
      forget(name);
      return toRoute(next);
    },

    async remove(owner: string, name: string): Promise<void> {
      const row = await own(owner, name);
      if (objects) await objects.remove(row);
      await tables
        .deleteFrom('flare_routes')
        .where('name', '=', name)
        .where('owner', '=', owner)
        .execute();
      pendingHits.delete(name);
      forget(name);
    },

    async ports(owner: string): Promise<FlarePorts> {
      const [ports, rows] = await Promise.all([
        listening(owner),
        tables
          .selectFrom('flare_routes')
          .select(['name', 'port'])
          .where('owner', '=', owner)
          .execute()
      ]);
      return {
        ports: ports.map(p => {
          const route = rows.find(r => r.port === p.port)?.name;
          return {
            port: p.port,
            ...(p.command ? { command: p.command } : {}),
            ...(route ? { route } : {})
          };
        })
      };
    },

    /** The ports the owner's servers report listening; 503 server_not_reporting if none reports. */
    listening,

    /** Where the gateway forwards a route's requests; undefined: the app is offline. */
    addressOf,

    /** The route behind a host, for the gateway: cached a few seconds, dropped on any change here. */
    lookup(name: string): Promise<FlareRouteRow | undefined> {
      const hit = routeCache.get(name);
      if (hit && Date.now() - hit.at < ROUTE_CACHE_MS) return hit.row;
      const row = tables
        .selectFrom('flare_routes')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      row.catch(() => routeCache.delete(name));
      routeCache.set(name, { at: Date.now(), row });
      return row;
    },

    /**
     * Take a one-time login ticket: true the first time, on whichever replica; false once any
     * replica has taken it. The primary key decides a race. Expired rows go on the way.
     */
    async claimTicket(nonce: string, expiresAt: number): Promise<boolean> {
      await tables
        .deleteFrom('flare_tickets')
        .where('expires_at', '<', Math.floor(Date.now() / 1000))
        .execute();
      const result = await tables
        .insertInto('flare_tickets')
        .values({ nonce, expires_at: expiresAt })
        .onConflict(oc => oc.column('nonce').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    /**
     * Count a visit (the gateway decides what is one: access.ts VISIT_SECONDS); written in
     * batches, not one database write per visit.
     */
    hit(name: string) {
      const entry = pendingHits.get(name);
      if (entry) {
        entry.hits++;
        entry.last = Date.now();
      } else pendingHits.set(name, { hits: 1, last: Date.now() });
    },

    async close() {
      clearInterval(flusher);
      await flushHits();
    }
  };
}

function nameTaken(name: string, mine: boolean) {
  return new HttpProblem(
    409,
    'name_taken',
    mine
      ? `You already have a route named "${name}"; change it instead, or pick another name.`
      : `The name "${name}" is taken; pick another.`,
    [{ path: 'body.name', message: 'is taken' }]
  );
}

export type FlareService = ReturnType<typeof createFlareService>;

const notReporting = () =>
  new HttpProblem(
    503,
    'server_not_reporting',
    'Your notebook server has not reported its ports lately: start it from the Hub Control ' +
      'Panel (a running server reports every 30 s; if it is running, restart it), start your ' +
      'app in it, then expose the port.'
  );
