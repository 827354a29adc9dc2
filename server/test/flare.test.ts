/**
 * Flare against real parts: a real JupyterHub with real notebook servers, a real web app and
 * WebSocket echo started in a terminal of alice's server, and the companion's gateway reached by
 * Host header on loopback, logging visitors in through the hub's own OAuth.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { buildApp } from '../src/app.js';
import { startFlareHub, type IFlareHub } from './fixtures/flare/hub.js';
import { testConfig, scratchDir } from './helpers/build.js';
import { hubVenv } from './helpers/hub.js';
import { startPostgres } from './helpers/postgres.js';
import { freePort, waitFor } from './helpers/ports.js';

const APP = fileURLToPath(new URL('./fixtures/flare/app.mjs', import.meta.url));
const DOMAIN = 'flare.localhost';
/** Shared by the replicas of one test, as an operator shares flare.cookieSecret. */
const COOKIE_SECRET = 'flare-test-cookie-secret-0123456789abcdef';
const DB = `${scratchDir()}/flare.sqlite`;
const run = promisify(execFile);

interface IAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What the companion answers, loosely: each test looks at the fields it asserts. */
interface IBody {
  code?: string;
  errors?: { path: string }[];
  [key: string]: unknown;
}

let hub: IFlareHub;
let app: FastifyInstance;
let gw: number;
let appPort: number;
let otherPort: number;
let other: Server;
const tokens: Record<string, string> = {};

/** A request to the gateway as a browser would send it for `host`. */
function get(
  host: string,
  path: string,
  cookie?: string,
  port = gw,
  more: { method?: string; headers?: Record<string, string> } = {}
): Promise<IAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: more.method ?? 'GET',
        headers: { host, ...(cookie ? { cookie } : {}), ...more.headers },
        timeout: 10_000
      },
      res => {
        let body = '';
        res.on('data', d => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      }
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}${path}`)));
    req.end();
  });
}

const hostOf = (name: string) => `${name}.${DOMAIN}:${gw}`;
/** The origin of an app as a browser on it sends it. */
const originOf = (name: string) => `http://${hostOf(name)}`;
const cookieOf = (a: IAnswer) =>
  ((a.headers['set-cookie'] as string[] | undefined) ?? []).map(c => c.split(';')[0]).join('; ');

async function api(user: string, method: string, path: string, body?: unknown) {
  const res = await app.inject({
    method: method as 'GET',
    url: `/api/v1/flare${path}`,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
  return { status: res.statusCode, body: (res.body ? res.json() : {}) as IBody };
}

/** The one-time ticket URL a browser is sent to after `user` logs in with the hub for app `name`. */
async function ticketFor(user: string, name: string): Promise<URL> {
  const first = await get(hostOf(name), '/page?x=1');
  assert.equal(first.status, 302, 'an anonymous visitor is sent to log in');
  const login = new URL(first.headers.location as string);
  assert.equal(login.host, `${DOMAIN}:${gw}`);
  // The login host first says which app (full address) and whose the login is for.
  const page = await get(login.host, login.pathname + login.search);
  assert.equal(page.status, 200, page.body);
  const start = page.body.match(/<a class="button" href="([^"]+)">Log in with the hub<\/a>/);
  assert.ok(start, page.body);
  const startUrl = new URL(start[1].replace(/&#38;/g, '&'), `http://${login.host}`);
  assert.equal(startUrl.pathname, '/_flare/start');
  const started = await get(login.host, startUrl.pathname + startUrl.search);
  assert.equal(started.status, 302);
  const authorize = started.headers.location as string;
  assert.ok(authorize.startsWith(`${hub.hubUrl}/hub/api/oauth2/authorize?`), authorize);
  const hubCookies = await hub.login(user);
  const granted = await fetch(authorize, { headers: { cookie: hubCookies }, redirect: 'manual' });
  assert.equal(granted.status, 302, await granted.text());
  const callback = new URL(granted.headers.get('location') as string);
  assert.equal(callback.pathname, '/_flare/callback');
  const back = await get(callback.host, callback.pathname + callback.search, cookieOf(started));
  assert.equal(back.status, 302, back.body);
  const ticket = new URL(back.headers.location as string);
  assert.equal(ticket.host, hostOf(name));
  return ticket;
}

/** Log `user` in to an app host the way a browser does: gateway -> hub OAuth -> ticket -> cookie. */
async function loginTo(user: string, name: string): Promise<string> {
  const ticket = await ticketFor(user, name);
  const landed = await get(ticket.host, ticket.pathname + ticket.search);
  assert.equal(landed.status, 302, landed.body);
  assert.equal(landed.headers.location, '/page?x=1');
  const cookie = (landed.headers['set-cookie'] as string[])[0];
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.match(cookie, /Path=\/(;|$)/);
  assert.doesNotMatch(cookie, /Domain=/i, 'the cookie is for this app host only');
  // A ticket works once.
  assert.equal((await get(ticket.host, ticket.pathname + ticket.search)).status, 400);
  return cookie.split(';')[0];
}

/**
 * A WebSocket echo through the gateway. `origin` is the page that opens it: a browser always sends
 * one (the app's own by default), a command-line client none (`null`).
 */
function echo(
  name: string,
  cookie?: string,
  origin: string | null = originOf(name),
  path = '/socket'
): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw}${path}`, {
      headers: { host: hostOf(name), ...(cookie ? { cookie } : {}) },
      ...(origin ? { origin } : {}),
      handshakeTimeout: 10_000
    });
    ws.once('open', () => ws.send('hello'));
    ws.once('message', data => {
      resolve(String(data));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Until alice's server has reported `port` listening (it reports every second here). */
const reported = (port: number) =>
  waitFor(`alice's server reporting port ${port}`, 30, async () =>
    Boolean((await app.serverReports.latest('alice', ''))?.ports.some(p => p.port === port))
  );

const listening = (port: number) =>
  new Promise<boolean>(resolve => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

before(async () => {
  gw = await freePort();
  // Alice's server pushes its report here (HOTSTEPPER_URL) once the companion listens.
  const companionPort = await freePort();
  hub = await startFlareHub(`http://${DOMAIN}:${gw}/_flare/callback`, {
    companionUrl: `http://127.0.0.1:${companionPort}/`
  });
  await hub.startServer('alice');
  appPort = await freePort();
  await hub.runInTerminal('alice', `node ${APP} ${appPort}`);
  await waitFor("the app in alice's server", 30, () => listening(appPort));
  // A port on the same machine that is not in alice's server: someone else's app.
  other = createServer((_q, s) => s.end('not alice'));
  await new Promise<void>(r => other.listen(0, '127.0.0.1', r));
  otherPort = (other.address() as { port: number }).port;
  for (const user of ['alice', 'bob', 'carol', 'dave']) {
    const res = await fetch(`${hub.apiUrl}/users/${user}/tokens`, {
      method: 'POST',
      headers: { Authorization: `token ${hub.serviceToken}` },
      body: JSON.stringify({ expires_in: 3600 })
    });
    tokens[user] = ((await res.json()) as { token: string }).token;
  }
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      database: { path: DB },
      flare: {
        domain: DOMAIN,
        publicUrl: `http://{host}:${gw}/`,
        hubUrl: hub.hubUrl,
        maxRoutesPerUser: 3,
        cookieSecret: COOKIE_SECRET,
        gateway: {
          host: '127.0.0.1',
          port: gw,
          target: 'loopback',
          appHost: '127.0.0.1',
          connectTimeoutSeconds: 2
        }
      }
    })
  );
  // Listening as well: the command-line client calls it over HTTP, and alice's server reports.
  await app.listen({ host: '127.0.0.1', port: companionPort });
  await reported(appPort);
});

after(async () => {
  await app?.close();
  other?.close();
  await hub?.stop();
});

describe('flare routes API', () => {
  it('lists the ports listening in my server, not other processes on the machine', async () => {
    const res = await api('alice', 'GET', '/ports');
    assert.equal(res.status, 200);
    const ports = (res.body.ports as { port: number; command?: string }[]).map(p => p.port);
    assert.ok(ports.includes(appPort), `${appPort} in ${ports}`);
    assert.ok(!ports.includes(otherPort));
    const own = (res.body.ports as { port: number; command?: string }[]).find(
      p => p.port === appPort
    );
    assert.match(own?.command ?? '', /app\.mjs/);
  });

  it("takes a reported port only where alice's own server holds it: never another's app or the platform's", async () => {
    // The companion's and the hub's ports, a process of no user's server (the test process), and
    // (as carol) alice's app: each listed in a report that claims it.
    const companionPort = (app.server.address() as { port: number }).port;
    const hubPort = Number(new URL(hub.apiUrl).port);
    const kernels = { busy: 0, count: 0, lastActivity: null };
    await app.serverReports.put('carol', {
      server: '',
      ports: [{ port: appPort }, { port: otherPort }],
      kernels
    });
    const latest = await app.serverReports.latest('alice', '');
    await app.serverReports.put('alice', {
      ...(latest as NonNullable<typeof latest>),
      ports: [
        ...(latest?.ports ?? []),
        { port: otherPort },
        { port: companionPort },
        { port: hubPort }
      ]
    });
    assert.equal(await app.flare.service.addressOf('alice', appPort), '127.0.0.1');
    for (const [user, port] of [
      ['alice', otherPort],
      ['alice', companionPort],
      ['alice', hubPort],
      ['carol', appPort],
      ['carol', otherPort]
    ] as const) {
      assert.equal(await app.flare.service.addressOf(user, port), undefined, `${user}:${port}`);
    }
    for (const port of [otherPort, companionPort, hubPort]) {
      const res = await api('alice', 'POST', '/routes', { name: `claim-${port}`, port });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'port_not_yours');
    }
    const carols = await api('carol', 'POST', '/routes', { name: 'not-carols', port: appPort });
    assert.equal(carols.status, 400, JSON.stringify(carols.body));
    assert.equal(carols.body.code, 'port_not_yours');
    // Alice's server reports again within a second: her report is her own again.
    await waitFor("alice's own report", 30, async () => {
      const ports = (await app.serverReports.latest('alice', ''))?.ports ?? [];
      return !ports.some(p => p.port === otherPort);
    });
  });

  it('refuses bad input with a clear problem naming the field, and creates nothing', async () => {
    const cases: [unknown, number, string, string][] = [
      [{ name: 'my.dash', port: appPort }, 400, 'name_invalid', 'body.name'],
      [{ name: 'MyDash', port: appPort }, 400, 'name_invalid', 'body.name'],
      [{ name: 'a'.repeat(64), port: appPort }, 400, 'name_invalid', 'body.name'],
      [{ name: 'xn--dsh-2na', port: appPort }, 400, 'name_invalid', 'body.name'],
      [{ name: '-dash', port: appPort }, 400, 'name_invalid', 'body.name'],
      [{ name: 'www', port: appPort }, 400, 'name_reserved', 'body.name'],
      [{ name: 'dash', port: 80 }, 400, 'validation_failed', 'body.port'],
      [{ name: 'dash', port: 70000 }, 400, 'validation_failed', 'body.port'],
      [{ name: 'dash', port: otherPort }, 400, 'port_not_listening', 'body.port'],
      [
        { name: 'dash', port: appPort, access: { mode: 'users', users: ['nobody'] } },
        400,
        'access_unknown_user',
        'body.access.users.0'
      ],
      [
        { name: 'dash', port: appPort, access: { mode: 'users', groups: ['ghosts'] } },
        400,
        'access_unknown_group',
        'body.access.groups.0'
      ],
      [
        { name: 'dash', port: appPort, access: { mode: 'users' } },
        400,
        'access_empty',
        'body.access'
      ],
      [
        { name: 'dash', port: appPort, access: { mode: 'users', users: [], groups: [] } },
        400,
        'access_empty',
        'body.access'
      ],
      [
        { name: 'dash', port: appPort, access: { mode: 'everyone' } },
        400,
        'validation_failed',
        'body.access.mode'
      ]
    ];
    for (const [body, status, code, path] of cases) {
      const res = await api('alice', 'POST', '/routes', body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.body.code, code, JSON.stringify(res.body));
      assert.ok(
        (res.body.errors as { path: string }[]).some(e => e.path === path),
        `${JSON.stringify(res.body.errors)} names ${path}`
      );
    }
    assert.deepEqual((await api('alice', 'GET', '/routes')).body.routes, []);
  });

  it('says in words a person understands that named-users access needs a name', async () => {
    const res = await api('alice', 'POST', '/routes', {
      name: 'dash',
      port: appPort,
      access: { mode: 'users', users: [], groups: [] }
    });
    assert.equal(res.status, 400);
    assert.equal(
      res.body.detail,
      'Name at least one hub user or group who may open it, or choose another access.'
    );
    assert.doesNotMatch(String(res.body.detail), /body\.|access\.users|access\.groups/);
  });

  it('gives the exact address a route will have, scheme and port included', async () => {
    const res = await api('alice', 'GET', '/routes');
    assert.equal(res.status, 200);
    assert.equal(res.body.urlTemplate, `http://{name}.${DOMAIN}:${gw}/`);
  });
});

describe('flare gateway', () => {
  it('serves a public route by Host header: paths untouched, streaming, WebSocket, hits', async () => {
    const made = await api('alice', 'POST', '/routes', {
      name: 'dash',
      port: appPort,
      access: { mode: 'public' }
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.url, `http://dash.${DOMAIN}:${gw}/`);
    assert.equal(made.body.status, 'online');

    const page = await get(hostOf('dash'), '/static/deep/path?q=1');
    assert.equal(page.status, 200);
    assert.equal(page.headers['x-app'], 'flare-test');
    assert.match(page.body, /<p id="path">\/static\/deep\/path\?q=1<\/p>/);
    const stream = await get(hostOf('dash'), '/stream');
    assert.equal(stream.body, 'tick 0\ntick 1\ntick 2\n');
    assert.equal(await echo('dash'), 'echo:hello');
    // A public app needs no cookie: clients that send no Origin (not browsers) get in too.
    assert.equal(await echo('dash', undefined, null), 'echo:hello');

    const listed = await api('alice', 'GET', '/routes');
    const route = (listed.body.routes as Record<string, unknown>[])[0];
    // Clients that keep no cookie (these requests) are each a visit of their own.
    assert.equal(route.hits, 4, `hits ${route.hits}`);
    assert.ok(route.lastAccess);
    assert.equal(made.body.url, route.url);
  });

  it('counts visits, not requests: a page and its assets are one hit, another visitor one more', async () => {
    const hits = async () =>
      ((await api('alice', 'GET', '/routes/dash')).body.hits as number) ?? -1;
    const before = await hits();
    const first = await get(hostOf('dash'), '/');
    assert.equal(first.status, 200);
    const set = ((first.headers['set-cookie'] as string[] | undefined) ?? []).find(c =>
      c.startsWith('flare_visit=')
    );
    assert.ok(set, JSON.stringify(first.headers['set-cookie']));
    assert.match(set, /HttpOnly/);
    assert.doesNotMatch(set, /Domain=/i);
    const visit = set.split(';')[0];
    // The page's assets, a stream and a WebSocket, all with the visit's cookie.
    for (const path of ['/static/a.js', '/static/b.css', '/page', '/stream', '/page?again']) {
      const res = await get(hostOf('dash'), path, visit);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['set-cookie'], undefined, 'no second visit cookie');
      assert.doesNotMatch(res.body, /flare_visit/, 'the app never sees the visit cookie');
    }
    assert.equal(await echo('dash', visit), 'echo:hello');
    assert.equal(await hits(), before + 1, 'one visitor, one visit');
    // A second visitor: one more, whatever they load.
    const second = await get(hostOf('dash'), '/');
    const other = cookieOf(second);
    for (const path of ['/static/a.js', '/page']) await get(hostOf('dash'), path, other);
    assert.equal(await hits(), before + 2, 'a second visitor is a second visit');
    // A forged visit cookie (one a sibling app could toss in) does not hide a visit.
    const tossed = visit.replace(/^flare_visit=/, 'flare_visit=x');
    await get(hostOf('dash'), '/', tossed);
    assert.equal(await hits(), before + 3);
  });

  it("keeps names first come first served, and other users' routes invisible", async () => {
    // bob has no running server (no report); the name check comes first.
    const taken = await api('bob', 'POST', '/routes', { name: 'dash', port: appPort });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'name_taken');
    assert.equal((await api('bob', 'GET', '/routes/dash')).status, 404);
    assert.equal((await api('bob', 'DELETE', '/routes/dash')).status, 404);
    assert.equal(
      (await api('bob', 'PATCH', '/routes/dash', { access: { mode: 'public' } })).status,
      404
    );
    const free = await api('bob', 'POST', '/routes', { name: 'bobs', port: appPort });
    assert.equal(free.status, 503);
    assert.equal(free.body.code, 'server_not_reporting');
  });

  it('answers malformed Hosts with 400 and other domains or unknown names with 404', async () => {
    assert.equal((await get('bad host!', '/')).status, 400);
    assert.equal((await get('dash.example.org', '/')).status, 404);
    assert.equal((await get(`a.b.${DOMAIN}`, '/')).status, 404);
    const unknown = await get(hostOf('nosuch'), '/');
    assert.equal(unknown.status, 404);
    assert.match(
      unknown.body,
      /There is no app named &#34;nosuch&#34;|There is no app named "nosuch"/
    );
  });

  it('mode hub: anonymous visitors log in through the hub, any hub user gets in', async () => {
    assert.equal(
      (await api('alice', 'PATCH', '/routes/dash', { access: { mode: 'hub' } })).status,
      200
    );
    const cookie = await loginTo('dave', 'dash');
    const page = await get(hostOf('dash'), '/page', cookie);
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.body, /flare_session/, 'the app never sees the gateway cookie');
    assert.equal(await echo('dash', cookie), 'echo:hello');
    await assert.rejects(echo('dash'), /HTTP 401/);
    // The cookie of one app host is worth nothing on another.
    const second = await api('alice', 'POST', '/routes', {
      name: 'second',
      port: appPort,
      access: { mode: 'hub' }
    });
    assert.equal(second.status, 201);
    assert.equal((await get(hostOf('second'), '/', cookie)).status, 302);
  });

  it('refuses cross-origin WebSockets and state-changing requests, even from a sibling app', async () => {
    const cookie = await loginTo('dave', 'dash');
    const evil = `http://evil.${DOMAIN}:${gw}`;
    // Cross-site WebSocket hijacking from another Flare app: dave's cookie rides along, refused.
    await assert.rejects(echo('dash', cookie, evil), /HTTP 403/);
    await assert.rejects(echo('dash', cookie, originOf('second')), /HTTP 403/);
    await assert.rejects(echo('dash', cookie, 'null'), /HTTP 403/);
    // No Origin is no browser: such a client gets in only where no cookie is needed.
    await assert.rejects(echo('dash', cookie, null), /HTTP 401/);
    assert.equal(await echo('dash', cookie), 'echo:hello');
    // Requests that may change something: from a page of this app only.
    const post = (headers: Record<string, string>) =>
      get(hostOf('dash'), '/form', cookie, gw, { method: 'POST', headers });
    assert.equal((await post({ origin: evil })).status, 403);
    assert.equal((await post({ 'sec-fetch-site': 'same-site' })).status, 403);
    assert.equal((await post({ 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post({})).status, 403, 'a cookie without any Origin is not enough');
    assert.equal((await post({ origin: originOf('dash') })).status, 200);
    assert.equal((await post({ 'sec-fetch-site': 'same-origin' })).status, 200);
    // Reading from another origin: a fetch names its Origin, a script or image tag says what
    // it is in Fetch Metadata. Following a link from a sibling page still opens the app.
    const read = (headers: Record<string, string>) =>
      get(hostOf('dash'), '/', cookie, gw, { headers });
    assert.equal((await read({ origin: evil })).status, 403);
    const asScript = { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' };
    assert.equal((await read({ ...asScript, 'sec-fetch-dest': 'script' })).status, 403);
    const link = { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' };
    assert.equal((await read({ ...link, 'sec-fetch-dest': 'document' })).status, 200);
    assert.equal((await read({ 'sec-fetch-site': 'same-origin' })).status, 200);
    assert.equal((await read({})).status, 200);
    // The same rule answers an ingress controller's external auth (mode kubernetes).
    const auth = async (headers: Record<string, string>) =>
      (await app.inject({ url: '/flare/auth?route=dash', headers: { cookie, ...headers } }))
        .statusCode;
    assert.equal(await auth({}), 200);
    assert.equal(await auth({ origin: evil }), 403);
    assert.equal(await auth({ 'x-original-method': 'POST' }), 403);
    assert.equal(await auth({ 'x-original-method': 'POST', origin: originOf('dash') }), 200);
  });

  it("uses the visitor's own cookie when a sibling app tosses one of the same name", async () => {
    const mine = await loginTo('dave', 'dash');
    // carol's cookie for "second", set by a sibling app with Domain=<flare domain>.
    const tossed = await loginTo('carol', 'second');
    for (const header of [
      `${mine}; ${tossed}`,
      `${tossed}; ${mine}`,
      `${mine}; flare_session=x.y`
    ]) {
      assert.equal((await get(hostOf('dash'), '/', header)).status, 200, header);
    }
    // A cookie made for another app host is worth nothing here.
    assert.equal((await get(hostOf('dash'), '/', tossed)).status, 302);
    // Nor is a login ticket: it is signed for another purpose.
    const ticket = (await ticketFor('dave', 'dash')).searchParams.get('t');
    assert.equal((await get(hostOf('dash'), '/', `flare_session=${ticket}`)).status, 302);
  });

  it('sends a visitor back after login only to a path on the app host', async () => {
    const cases: [string, string][] = [
      ['/page?x=1', '/page?x=1'],
      ['/%2F/not-a-host', '/%2F/not-a-host'],
      ['/\t/evil.com', '/'],
      ['//evil.com', '/'],
      ['/\\evil.com', '/'],
      ['/\r\n/evil.com', '/'],
      ['/ /evil.com', '/'],
      ['https://evil.com/', '/'],
      ['evil.com', '/']
    ];
    for (const [next, location] of cases) {
      const ticket = await ticketFor('dave', 'dash');
      ticket.searchParams.set('next', next);
      const landed = await get(ticket.host, ticket.pathname + ticket.search);
      assert.equal(landed.status, 302, JSON.stringify(next));
      assert.equal(landed.headers.location, location, JSON.stringify(next));
    }
  });

  it('refuses a used login ticket on every replica (they share the database)', async t => {
    const port = await freePort();
    const replica = await buildApp(
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        database: { path: DB },
        flare: {
          domain: DOMAIN,
          publicUrl: `http://{host}:${gw}/`,
          hubUrl: hub.hubUrl,
          cookieSecret: COOKIE_SECRET,
          gateway: {
            host: '127.0.0.1',
            port,
            target: 'loopback',
            appHost: '127.0.0.1',
            connectTimeoutSeconds: 2
          }
        }
      })
    );
    t.after(() => replica.close());
    await replica.ready();
    const ticket = await ticketFor('dave', 'dash');
    const path = ticket.pathname + ticket.search;
    const first = await get(hostOf('dash'), path, undefined, port);
    assert.equal(first.status, 302, first.body);
    assert.equal((await get(hostOf('dash'), path)).status, 400, 'used on the other replica');
    assert.equal((await get(hostOf('dash'), path, undefined, port)).status, 400);
    // The cookie one replica set works on the other.
    assert.equal((await get(hostOf('dash'), '/', cookieOf(first))).status, 200);
  });

  it('mode users: named users and group members get in, others are refused', async () => {
    const set = await api('alice', 'PATCH', '/routes/dash', {
      access: { mode: 'users', users: ['dave'], groups: ['students'] }
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const bob = await loginTo('bob', 'dash');
    assert.equal((await get(hostOf('dash'), '/', bob)).status, 200, 'bob is a student');
    const dave = await loginTo('dave', 'dash');
    assert.equal((await get(hostOf('dash'), '/', dave)).status, 200, 'dave is named');
    const carol = await loginTo('carol', 'dash');
    const refused = await get(hostOf('dash'), '/', carol);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /carol/);
    await assert.rejects(echo('dash', carol), /HTTP 403/);
    // The same decision for an ingress controller's external auth (mode kubernetes).
    const auth = async (cookie?: string) =>
      (
        await app.inject({
          url: '/flare/auth?route=dash',
          headers: cookie ? { cookie } : {}
        })
      ).statusCode;
    assert.deepEqual([await auth(bob), await auth(carol), await auth()], [200, 403, 401]);
    const alice = await loginTo('alice', 'dash');
    assert.equal((await get(hostOf('dash'), '/', alice)).status, 200, 'the owner always may');
  });

  it('mode owner: only the owner gets in; access changes in place, names and hits kept', async () => {
    const before = (await api('alice', 'GET', '/routes/dash')).body;
    const set = await api('alice', 'PATCH', '/routes/dash', { access: { mode: 'owner' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.access, { mode: 'owner' });
    assert.equal(set.body.url, before.url);
    assert.ok((set.body.hits as number) >= (before.hits as number));
    const bob = await loginTo('bob', 'dash');
    const refused = await get(hostOf('dash'), '/', bob);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /alice/);
    await assert.rejects(echo('dash', bob), /HTTP 403/);
    const alice = await loginTo('alice', 'dash');
    assert.equal((await get(hostOf('dash'), '/', alice)).status, 200, 'the owner may');
    // A stranger is asked to log in, told whose app and which address.
    const anonymous = await get(hostOf('dash'), '/page?x=1');
    assert.equal(anonymous.status, 302);
    const login = new URL(anonymous.headers.location as string);
    const page = await get(login.host, login.pathname + login.search);
    assert.equal(page.status, 200);
    assert.match(
      page.body,
      new RegExp(
        `Log in to open <a href="${originOf('dash')}/page\\?x=1">${originOf('dash')}/page\\?x=1</a>, ` +
          'an app of <strong>alice</strong>'
      )
    );
    assert.match(page.body, /Only <strong>alice<\/strong> may open it/);
    const auth = async (cookie?: string) =>
      (await app.inject({ url: '/flare/auth?route=dash', headers: cookie ? { cookie } : {} }))
        .statusCode;
    assert.deepEqual([await auth(alice), await auth(bob), await auth()], [200, 403, 401]);
    // Named users again, edited in place: empty refused in words, two names kept.
    const empty = await api('alice', 'PATCH', '/routes/dash', {
      access: { mode: 'users', users: [] }
    });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.code, 'access_empty');
    assert.doesNotMatch(String(empty.body.detail), /body\./);
    assert.deepEqual((await api('alice', 'GET', '/routes/dash')).body.access, { mode: 'owner' });
    const named = await api('alice', 'PATCH', '/routes/dash', {
      access: { mode: 'users', users: ['bob', 'dave'], groups: [] }
    });
    assert.equal(named.status, 200, JSON.stringify(named.body));
    assert.deepEqual(named.body.access, { mode: 'users', users: ['bob', 'dave'], groups: [] });
    assert.equal((await get(hostOf('dash'), '/', bob)).status, 200, 'bob is named now');
  });

  it('mode link: the share link lets in once, guessed and rotated links do not', async () => {
    const set = await api('alice', 'PATCH', '/routes/dash', { access: { mode: 'link' } });
    const shareUrl = new URL(set.body.shareUrl as string);
    const anonymous = await get(hostOf('dash'), '/');
    assert.equal(anonymous.status, 403);
    assert.equal((await get(hostOf('dash'), '/_flare/share?t=guessed-token')).status, 403);

    assert.equal(shareUrl.pathname, '/_flare/share');
    const exchanged = await get(hostOf('dash'), shareUrl.pathname + shareUrl.search);
    assert.equal(exchanged.status, 302);
    assert.equal(exchanged.headers.location, '/', 'the token leaves the address');
    const cookie = cookieOf(exchanged);
    assert.equal((await get(hostOf('dash'), '/welcome', cookie)).status, 200);
    assert.equal(await echo('dash', cookie), 'echo:hello');

    const rotated = await api('alice', 'POST', '/routes/dash/share-link');
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.shareUrl, set.body.shareUrl);
    assert.equal((await get(hostOf('dash'), '/', cookie)).status, 403, 'old cookie void');
    assert.equal(
      (await get(hostOf('dash'), shareUrl.pathname + shareUrl.search)).status,
      403,
      'old link void'
    );
    const fresh = new URL(rotated.body.shareUrl as string);
    assert.equal((await get(hostOf('dash'), fresh.pathname + fresh.search)).status, 302);
  });

  it('over https the cookie is __Host-, Secure, HttpOnly and host-only; no-Origin WebSockets need the link', async t => {
    const link = new URL((await api('alice', 'GET', '/routes/dash')).body.shareUrl as string);
    const token = link.searchParams.get('t') as string;
    // Clients without an Origin (not browsers) bring the share token in the URL instead of a cookie.
    const shared = `/socket?_flare_share=${encodeURIComponent(token)}`;
    assert.equal(await echo('dash', undefined, null, shared), 'echo:hello');
    await assert.rejects(
      echo('dash', undefined, null, '/socket?_flare_share=guess'),
      /HTTP 40[13]/
    );
    await assert.rejects(echo('dash', undefined, null), /HTTP 40[13]/);

    const port = await freePort();
    const secure = await buildApp(
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        database: { path: DB },
        flare: {
          domain: DOMAIN,
          publicUrl: 'https://{host}/',
          hubUrl: hub.hubUrl,
          cookieSecret: COOKIE_SECRET,
          gateway: {
            host: '127.0.0.1',
            port,
            target: 'loopback',
            appHost: '127.0.0.1',
            connectTimeoutSeconds: 2
          }
        }
      })
    );
    t.after(() => secure.close());
    await secure.ready();
    const exchanged = await get(hostOf('dash'), link.pathname + link.search, undefined, port);
    assert.equal(exchanged.status, 302, exchanged.body);
    const set = (exchanged.headers['set-cookie'] as string[])[0];
    assert.match(set, /^__Host-flare_session=/);
    for (const attribute of [/; Secure(;|$)/, /; HttpOnly(;|$)/, /; Path=\/(;|$)/]) {
      assert.match(set, attribute);
    }
    assert.doesNotMatch(set, /Domain=/i);
    const cookie = set.split(';')[0];
    assert.equal((await get(hostOf('dash'), '/welcome', cookie, port)).status, 200);
    // Over https the plain name, which any sibling can set for the whole domain, is not read.
    const plain = cookie.replace(/^__Host-/, '');
    assert.equal((await get(hostOf('dash'), '/welcome', plain, port)).status, 403);
  });

  it('shows an "app offline" page naming the owner when the app does not answer', async () => {
    const port = await freePort();
    const pidFile = `${scratchDir()}/app.pid`;
    await hub.runInTerminal('alice', `node ${APP} ${port} & echo $! > ${pidFile}`);
    await waitFor('the second app', 30, () => listening(port));
    await reported(port);
    const made = await api('alice', 'POST', '/routes', {
      name: 'later',
      port,
      access: { mode: 'public' }
    });
    assert.equal(made.status, 201);
    assert.equal((await get(hostOf('later'), '/')).status, 200);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    await waitFor('the app to stop', 10, async () => !(await listening(port)));
    const page = await get(hostOf('later'), '/');
    assert.equal(page.status, 502);
    assert.match(page.body, /alice/);
    assert.match(page.body, new RegExp(`port <code>${port}</code>`));
    assert.equal((await api('alice', 'GET', '/routes/later')).body.status, 'offline');
  });

  it('holds each user to the route limit', async () => {
    const res = await api('alice', 'POST', '/routes', { name: 'fourth', port: appPort });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'route_limit');
  });

  it('deleting a route makes its address answer 404 and frees the name', async () => {
    assert.equal((await api('alice', 'DELETE', '/routes/dash')).status, 200);
    assert.equal((await get(hostOf('dash'), '/')).status, 404);
    assert.equal((await api('alice', 'GET', '/routes/dash')).status, 404);
    const again = await api('alice', 'POST', '/routes', {
      name: 'dash',
      port: appPort,
      access: { mode: 'public' }
    });
    assert.equal(again.status, 201);
  });

  it('the hotstepper command does the same from a terminal', async () => {
    const address = app.server.address() as { port: number };
    const cli = (...args: string[]) =>
      run(join(hubVenv(), 'bin', 'python'), ['-m', 'hotstepper.cli', 'flare', ...args], {
        env: {
          ...process.env,
          HOTSTEPPER_URL: `http://127.0.0.1:${address.port}`,
          JUPYTERHUB_API_TOKEN: tokens.alice
        }
      });
    assert.match((await cli('delete', 'later')).stdout, /Deleted later/);
    const made = await cli('expose', String(appPort), '--name', 'cli-dash', '--access', 'link');
    assert.match(
      made.stdout,
      new RegExp(`http://cli-dash\\.${DOMAIN}:${gw}/  port ${appPort}  online  link`)
    );
    assert.match(
      made.stdout,
      /share link: http:\/\/cli-dash\.flare\.localhost:\d+\/_flare\/share\?t=/
    );
    assert.match((await cli('list')).stdout, /cli-dash/);
    const taken = cli('expose', String(appPort), '--name', 'dash');
    await assert.rejects(taken, (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /hotstepper: You already have a route named "dash"/);
      assert.doesNotMatch(err.stderr, new RegExp(tokens.alice));
      return true;
    });
    assert.match((await cli('delete', 'cli-dash')).stdout, /Deleted cli-dash/);
    assert.equal((await get(hostOf('cli-dash'), '/')).status, 404);
  });
});

describe('flare on PostgreSQL', () => {
  it('keeps names unique across users and racing requests, and counts hits', async t => {
    const postgres = await startPostgres();
    t.after(() => postgres.stop());
    const port = await freePort();
    const pg = await buildApp(
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        database: { url: await postgres.createDatabase() },
        flare: {
          domain: DOMAIN,
          publicUrl: `http://{host}:${port}/`,
          hubUrl: hub.hubUrl,
          gateway: {
            host: '127.0.0.1',
            port,
            target: 'loopback',
            appHost: '127.0.0.1',
            connectTimeoutSeconds: 2
          }
        }
      })
    );
    t.after(() => pg.close());
    await pg.ready();
    // Alice's server reports to the other database's companion; here it reports the same.
    const report = await app.serverReports.latest('alice', '');
    assert.ok(report);
    await pg.serverReports.put('alice', report);
    const call = async (user: string, method: string, path: string, body?: object) => {
      const res = await pg.inject({
        method: method as 'GET',
        url: `/api/v1/flare${path}`,
        headers: { authorization: `token ${tokens[user]}` },
        ...(body ? { payload: body } : {})
      });
      return { status: res.statusCode, body: res.json() as IBody };
    };
    const body = { name: 'pgdash', port: appPort, access: { mode: 'public' } };
    const race = await Promise.all([1, 2, 3].map(() => call('alice', 'POST', '/routes', body)));
    assert.deepEqual(race.map(r => r.status).sort(), [201, 409, 409]);
    assert.equal((await call('bob', 'POST', '/routes', body)).body.code, 'name_taken');
    const host = `pgdash.${DOMAIN}:${port}`;
    // Visits, not requests: three requests of one visitor are one hit, a second visitor two.
    const first = await get(host, '/', undefined, port);
    assert.equal(first.status, 200);
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(host, '/', cookieOf(first), port)).status, 200);
    }
    assert.equal((await get(host, '/', undefined, port)).status, 200);
    const listed = await call('alice', 'GET', '/routes');
    assert.equal((listed.body.routes as { hits: number }[])[0].hits, 2);
    // Written to the database in batches: the count survives a restart.
    await pg.flare.service.close();
    const stored = await pg.database.db
      .withTables<{ flare_routes: { name: string; hits: number } }>()
      .selectFrom('flare_routes')
      .select('hits')
      .where('name', '=', 'pgdash')
      .executeTakeFirstOrThrow();
    assert.equal(Number(stored.hits), 2);
    assert.equal((await call('alice', 'DELETE', '/routes/pgdash')).status, 200);
    assert.equal((await get(host, '/', undefined, port)).status, 404);

    // Used login tickets live here too, once each, and go when they expire.
    const now = Math.floor(Date.now() / 1000);
    const claims = await Promise.all(
      [1, 2, 3].map(() => pg.flare.service.claimTicket('n1', now + 60))
    );
    assert.deepEqual(claims.sort(), [false, false, true]);
    assert.equal(await pg.flare.service.claimTicket('old', now - 1), true);
    assert.equal(await pg.flare.service.claimTicket('n2', now + 60), true);
    const left = await pg.database.db
      .withTables<{ flare_tickets: { nonce: string } }>()
      .selectFrom('flare_tickets')
      .select('nonce')
      .orderBy('nonce')
      .execute();
    assert.deepEqual(
      left.map(r => r.nonce),
      ['n1', 'n2']
    );
  });
});
