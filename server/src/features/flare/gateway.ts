/**
 * The built-in gateway: a listener of its own that serves every <name>.<domain> host from the
 * owner's app, HTTP and WebSocket, streamed and with the path untouched (apps with absolute URLs
 * keep working), after the route's access check. The bare domain is the login host: visitors log
 * in with JupyterHub (OAuth) there, and a one-time ticket carries the login to the app host, which
 * sets a cookie for itself only, so one app never sees another app's cookie. Apps are same-site
 * with each other, so where the cookie decides, WebSockets and requests that may change something
 * are let through only from the app's own origin (access.ts says why).
 *
 * A visitor without a session is first shown a page of the login host saying which app (its URL
 * and owner) the login is for; its button starts the hub's OAuth. Hits count visits, not
 * requests: the first request of a visit sets a signed, host-only visit cookie, and requests that
 * carry one (the page's assets, its WebSockets) are the same visit.
 */
import { createServer, Agent, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import {
  accessOf,
  cookieNames,
  cookieValues,
  decide,
  expiresIn,
  fromOrigin,
  linkFingerprint,
  localPath,
  mayUseCookie,
  nonce,
  purposes,
  sessionOf,
  stripOurCookies,
  tokenMatches,
  VISIT_SECONDS,
  type ISession,
  type Signer
} from './access.js';
import type { IFlareConfig } from './config.js';
import type { FlareHub } from './hub.js';
import type { FlareRouteRow } from './migrations.js';
import { nameFromHost } from './names.js';
import { pages, renderPage, type IPage } from './pages.js';
import { SHARE_PATH, urlOf, type FlareService } from './service.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
]);
const TICKET_SECONDS = 60;
/** How long the gateway trusts an app's address (report and pod) before looking it up again. */
const ADDRESS_CACHE_MS = 2_000;
/** A WebSocket client that sends no Origin (not a browser) may bring a share link's token here. */
export const SHARE_PARAM = '_flare_share';

export interface IGatewayDeps {
  config: IFlareConfig;
  service: FlareService;
  hub: FlareHub;
  signer: Signer;
  log: FastifyBaseLogger;
}

interface ITicket {
  u: string;
  r: string;
  n: string;
  exp: number;
}

/** A visit already counted on one app host. */
interface IVisit {
  r: string;
  exp: number;
}

interface IState {
  next: string;
  n: string;
  exp: number;
}

export function createGateway({ config, service, hub, signer, log }: IGatewayDeps) {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const secure = config.publicUrl.startsWith('https:');
  const loginBase = urlOf(config, config.domain);
  const names = cookieNames(secure);
  // Upgraded connections are no longer the HTTP server's: close() must end them itself.
  const tunnels = new Set<Socket>();

  function send(res: ServerResponse, page: IPage, headers: Record<string, string> = {}) {
    res.writeHead(page.status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers
    });
    res.end(renderPage(page));
  }

  function redirect(res: ServerResponse, location: string, cookie?: string) {
    res.writeHead(302, {
      location,
      'cache-control': 'no-store',
      ...(cookie ? { 'set-cookie': cookie } : {})
    });
    res.end();
  }

  // Host-only (no Domain), Path=/ (as `__Host-` requires), HttpOnly, Secure over https.
  const cookie = (name: string, value: string, seconds: number) =>
    `${name}=${value}; Path=/; Max-Age=${seconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;

  const hostOf = (name: string) => `${name}.${config.domain}`;
  const appUrl = (row: FlareRouteRow, path: string) =>
    urlOf(config, hostOf(row.name)).replace(/\/$/, '') + path;
  /** The origin a browser sends from the pages of an app, e.g. https://dash.flare.example.org */
  const originOf = (name: string) => new URL(urlOf(config, hostOf(name))).origin;
  const sessionFor = (req: IncomingMessage, row: FlareRouteRow) =>
    sessionOf(signer, req.headers.cookie, names.session, row.name, hostOf(row.name));

  const loginUrl = (next: string) => `${loginBase}_flare/login?next=${encodeURIComponent(next)}`;

  /**
   * Where the route's app answers: the owner's server must still report the port (it may have
   * been given up and reused), and with target pod its pod must be ready. Asked on every request,
   * so an address found is trusted a few seconds; none found is looked up again (a new route, a
   * pod that is starting).
   */
  const addresses = new Map<string, { at: number; host: string }>();
  async function addressOf(row: FlareRouteRow): Promise<string | undefined> {
    const key = `${row.owner}:${row.port}`;
    const hit = addresses.get(key);
    if (hit && Date.now() - hit.at < ADDRESS_CACHE_MS) return hit.host;
    const host = await service.addressOf(row.owner, row.port).catch(() => undefined);
    // Owners come and go: the map holds only recent ones.
    for (const [k, h] of addresses) {
      if (Date.now() - h.at >= ADDRESS_CACHE_MS) addresses.delete(k);
    }
    if (host) addresses.set(key, { at: Date.now(), host });
    return host;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const target = nameFromHost(req.headers.host, config.domain);
    if ('status' in target) {
      return send(
        res,
        target.status === 400 ? pages.badRequest(target.why) : pages.notFound(target.why)
      );
    }
    const url = new URL(req.url ?? '/', 'http://gateway');
    if ('auth' in target) return loginHost(req, res, url);
    const row = await service.lookup(target.name);
    if (!row) return send(res, pages.notFound(`There is no app named "${target.name}".`));
    if (url.pathname === '/_flare/ticket') return ticket(res, url, row);

    const session = sessionFor(req, row);
    const access = accessOf(row);
    if (url.pathname === SHARE_PATH) {
      const presented = url.searchParams.get('t') ?? '';
      if (access.mode !== 'link' || !row.share_token || !tokenMatches(presented, row.share_token)) {
        return send(res, pages.badLink(row.name, row.owner));
      }
      // Swapped once for a cookie of this host: the token leaves the address bar, the app never sees it.
      const value = signer.sign(
        {
          r: row.name,
          ...(session?.u ? { u: session.u } : {}),
          l: linkFingerprint(row.share_token),
          exp: expiresIn()
        } satisfies ISession,
        purposes.session(hostOf(row.name))
      );
      return redirect(res, '/', cookie(names.session, value, 12 * 3600));
    }
    // In mode kubernetes the ingress serves the app itself; only /_flare/ comes here.
    if (config.mode === 'kubernetes') {
      return send(res, pages.notFound('The ingress serves this app, not the gateway.'));
    }

    // A sibling app's page may send requests here with the visitor's cookie (same-site): where
    // the cookie decides, it counts only for what this app's pages send and for following links.
    if (
      access.mode !== 'public' &&
      !mayUseCookie(req.headers, req.method ?? 'GET', originOf(row.name))
    ) {
      return send(res, pages.crossOrigin(row.name));
    }
    const decision = await decide(row, session, user => hub.groupsOf(user));
    if (decision === 'login') {
      const here = appUrl(row, req.url ?? '/');
      if (access.mode === 'link')
        return send(res, pages.needLink(row.name, row.owner, loginUrl(here)));
      return redirect(res, loginUrl(here));
    }
    if (decision === 'forbidden') {
      return send(res, pages.forbidden(row.name, row.owner, session?.u));
    }
    const host = await addressOf(row);
    if (!host) return send(res, pages.offline(row.name, row.owner, row.port));
    forward(req, res, row, host);
  }

  function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k === 'cookie') continue;
      headers[k] = v;
    }
    const cookies = stripOurCookies(req.headers.cookie);
    if (cookies) headers.cookie = cookies;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = secure ? 'https' : 'http';
    return headers;
  }

  /** Whether the request belongs to a visit already counted (it carries that visit's cookie). */
  function inVisit(req: IncomingMessage, row: FlareRouteRow): boolean {
    const purpose = purposes.visit(hostOf(row.name));
    return cookieValues(req.headers.cookie, names.visit).some(
      value => signer.verify<IVisit>(value, purpose)?.r === row.name
    );
  }

  /**
   * Count the request as a hit when it starts a visit; the cookie to set then (the rest of the
   * visit carries it and counts no more).
   */
  function countVisit(req: IncomingMessage, row: FlareRouteRow): string | undefined {
    if (inVisit(req, row)) return undefined;
    service.hit(row.name);
    const value = signer.sign(
      { r: row.name, exp: expiresIn(VISIT_SECONDS) } satisfies IVisit,
      purposes.visit(hostOf(row.name))
    );
    return cookie(names.visit, value, VISIT_SECONDS);
  }

  function forward(req: IncomingMessage, res: ServerResponse, row: FlareRouteRow, host: string) {
    const visit = countVisit(req, row);
    const upstream = httpRequest({
      host,
      port: row.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req),
      agent,
      timeout: config.gateway.connectTimeoutSeconds * 1000
    });
    upstream.on('response', answer => {
      upstream.setTimeout(0);
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      }
      if (visit) {
        const set = headers['set-cookie'];
        headers['set-cookie'] = [...(Array.isArray(set) ? set : set ? [set] : []), visit];
      }
      res.writeHead(answer.statusCode ?? 502, headers);
      // Flushed chunk by chunk: event streams and long responses arrive as the app writes them.
      answer.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('connect timeout')));
    upstream.on('error', err => {
      if (!res.headersSent) send(res, pages.offline(row.name, row.owner, row.port));
      else res.destroy(err);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  async function ticket(res: ServerResponse, url: URL, row: FlareRouteRow) {
    const value = signer.verify<ITicket>(
      url.searchParams.get('t') ?? undefined,
      purposes.ticket(row.name)
    );
    // Used tickets are in the database: one used on any replica is refused on every other.
    if (!value || value.r !== row.name || !(await service.claimTicket(value.n, value.exp))) {
      return send(
        res,
        pages.loginFailed('The login ticket is not valid, was used already or has expired.')
      );
    }
    const path = localPath(url.searchParams.get('next'), originOf(row.name));
    const session = signer.sign(
      { r: row.name, u: value.u, exp: expiresIn() } satisfies ISession,
      purposes.session(hostOf(row.name))
    );
    return redirect(res, path, cookie(names.session, session, 12 * 3600));
  }

  async function loginHost(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (url.pathname === '/_flare/login' || url.pathname === '/_flare/start') {
      const next = url.searchParams.get('next') ?? '';
      let target: URL;
      try {
        target = new URL(next);
      } catch {
        return send(res, pages.loginFailed('The login was started without a valid app address.'));
      }
      const host = nameFromHost(target.host, config.domain);
      if (!('name' in host) || target.origin !== originOf(host.name)) {
        return send(res, pages.loginFailed('Flare logs you in only for Flare app addresses.'));
      }
      if (url.pathname === '/_flare/login') {
        // First say what the login is for: the hub's own login page cannot.
        const row = await service.lookup(host.name);
        if (!row) return send(res, pages.notFound(`There is no app named "${host.name}".`));
        return send(
          res,
          pages.login({
            url: next,
            owner: row.owner,
            mode: accessOf(row).mode,
            hubUrl: config.hubUrl,
            start: `/_flare/start?next=${encodeURIComponent(next)}`
          })
        );
      }
      const n = nonce();
      const state = signer.sign({ next, n, exp: expiresIn(600) } satisfies IState, purposes.state);
      return redirect(res, hub.authorizeUrl(state), cookie(names.state, n, 600));
    }
    if (url.pathname === '/_flare/callback') {
      const state = signer.verify<IState>(
        url.searchParams.get('state') ?? undefined,
        purposes.state
      );
      const bound = cookieValues(req.headers.cookie, names.state);
      if (!state || !bound.includes(state.n)) {
        return send(
          res,
          pages.loginFailed('The login answer does not belong to a login started here.')
        );
      }
      const code = url.searchParams.get('code');
      const user = code ? await hub.userForCode(code) : undefined;
      if (!user) return send(res, pages.loginFailed('JupyterHub did not confirm who you are.'));
      const next = new URL(state.next);
      const host = nameFromHost(next.host, config.domain);
      if (!('name' in host)) return send(res, pages.loginFailed('Not a Flare app address.'));
      const t = signer.sign(
        { u: user, r: host.name, n: nonce(), exp: expiresIn(TICKET_SECONDS) } satisfies ITicket,
        purposes.ticket(host.name)
      );
      const back = `${next.origin}/_flare/ticket?t=${t}&next=${encodeURIComponent(next.pathname + next.search)}`;
      return redirect(res, back, cookie(names.state, '', 0));
    }
    return send(res, pages.notFound('This is the Flare login host; open an app address instead.'));
  }

  async function upgrade(req: IncomingMessage, socket: Socket, head: Buffer) {
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => socket.destroy());
    if (config.mode === 'kubernetes') return refuse('404 Not Found');
    const target = nameFromHost(req.headers.host, config.domain);
    if (!('name' in target)) return refuse('404 Not Found');
    const row = await service.lookup(target.name);
    if (!row) return refuse('404 Not Found');
    // Cross-site WebSocket hijacking: a page of another origin (a sibling app is same-site, so
    // the visitor's cookie comes along) may not open one. A client that sends no Origin is not
    // a browser: the cookie does not count for it, only what needs none (public, a share link).
    const own = fromOrigin(req.headers, originOf(row.name));
    if (own === false) return refuse('403 Forbidden');
    const url = new URL(req.url ?? '/', 'http://gateway');
    let session: ISession | undefined;
    if (own) session = sessionFor(req, row);
    else if (accessOf(row).mode === 'link' && row.share_token) {
      const presented = url.searchParams.get(SHARE_PARAM);
      if (presented && tokenMatches(presented, row.share_token)) {
        session = { r: row.name, l: linkFingerprint(row.share_token), exp: expiresIn() };
      }
    }
    if (url.searchParams.has(SHARE_PARAM)) {
      // The app never sees the token.
      url.searchParams.delete(SHARE_PARAM);
      req.url = url.pathname + url.search;
    }
    const decision = await decide(row, session, user => hub.groupsOf(user));
    if (decision === 'login') return refuse('401 Unauthorized');
    if (decision === 'forbidden') return refuse('403 Forbidden');
    const host = await addressOf(row);
    if (!host) return refuse('502 Bad Gateway');
    // A page's WebSocket carries its visit's cookie; one without (no browser) is a visit of its own.
    if (!inVisit(req, row)) service.hit(row.name);
    const upstream = connect({ host, port: row.port });
    upstream.setTimeout(config.gateway.connectTimeoutSeconds * 1000, () => upstream.destroy());
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      const headers = forwardHeaders(req);
      // An upgrade keeps its hop-by-hop headers: they are the request.
      headers.connection = 'Upgrade';
      headers.upgrade = req.headers.upgrade ?? 'websocket';
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [k, v] of Object.entries(headers)) {
        for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      if (upstream.bytesRead === 0) refuse('502 Bad Gateway');
      else socket.destroy();
    });
    tunnels.add(socket);
    socket.on('close', () => {
      tunnels.delete(socket);
      upstream.destroy();
    });
    upstream.on('close', () => socket.destroy());
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'flare gateway request failed');
      if (!res.headersSent) {
        send(res, {
          status: 503,
          title: 'Flare is having trouble',
          lines: ['The gateway could not check this request; try again in a minute.']
        });
      } else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'flare gateway upgrade failed');
      socket.destroy();
    });
  });
  server.keepAliveTimeout = 72_000;

  return {
    server,
    listen: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.gateway.port, config.gateway.host, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    port: () => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : undefined;
    },
    close: () =>
      new Promise<void>(resolve => {
        agent.destroy();
        for (const socket of tunnels) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}

export type FlareGateway = ReturnType<typeof createGateway>;
