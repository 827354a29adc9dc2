/**
 * Users' servers report what they know (listening ports, kernel activity) to the companion with
 * their own token (PUT /api/v1/me/server-report); the companion never asks a user's server, so its
 * hub service token goes to the hub API only (issue 21, item 1).
 *
 * A real JupyterHub resolves the users' tokens. Flare's hub URL and the idle guard's hub URL point at
 * a recording HTTP server that answers like a user's server would (`/user/<name>/...`) and the idle
 * guard's hub API (running servers): a user who logs request headers in their own server would see
 * whatever reaches it. Nothing may.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { createIdleGuard } from '../src/features/idle/guard.js';
import { createIdleHub } from '../src/features/idle/hub.js';
import { createIdleStore, keyOf } from '../src/features/idle/store.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';

const WINDOW = 60;

interface IRecorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** Plays users' servers under /user/ (as the hub's proxy would reach them) and the hub API. */
async function startRecorder() {
  const received: IRecorded[] = [];
  const started = new Date(Date.now() - 3600_000).toISOString();
  const server: Server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/hub/api/users') {
      json({
        items: [
          {
            name: 'alice',
            servers: {
              '': { ready: true, pending: null, started, last_activity: null, user_options: {} }
            }
          }
        ],
        _pagination: { next: null }
      });
    } else if (/^\/user\/[^/]+\/hotstepper-local\/ports$/.test(path)) {
      json({ ports: [{ port: 8050, command: 'python app.py' }] });
    } else if (/^\/user\/[^/]+\/api\/kernels$/.test(path)) {
      json([{ id: 'k', execution_state: 'busy', last_activity: new Date().toISOString() }]);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{}');
    }
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () =>
      new Promise<void>(r => {
        server.closeAllConnections();
        server.close(() => r());
      })
  };
}

let hub: IHub;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
const tokens: Record<string, string> = {};
const apps: FastifyInstance[] = [];

/** A companion of its own for a test; what reached the recorder before it is forgotten. */
async function companion(maxAgeSeconds?: number): Promise<FastifyInstance> {
  recorder.received.length = 0;
  const app = await buildApp(
    testConfig({
      jupyterhub: {
        apiUrl: hub.apiUrl,
        apiToken: hub.serviceToken,
        ...(maxAgeSeconds === undefined ? {} : { serverReportMaxAgeSeconds: maxAgeSeconds })
      },
      flare: {
        domain: 'flare.localhost',
        publicUrl: 'http://{host}/',
        hubUrl: recorder.url,
        gateway: { host: '127.0.0.1', port: await freePort(), target: 'loopback' }
      } as never,
      // The guard's rounds are run by the test (below), on a clock of its own.
      idle: { enabled: false, hubUrl: recorder.url }
    })
  );
  apps.push(app);
  await app.ready();
  return app;
}

async function call(
  app: FastifyInstance,
  user: string,
  method: string,
  url: string,
  body?: unknown
) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
  return {
    status: res.statusCode,
    body: (res.body ? res.json() : {}) as { code?: string; [key: string]: unknown }
  };
}

const report = (extra: object = {}) => ({
  server: '',
  ports: [{ port: 8050, pid: 4242, command: 'python app.py' }],
  kernels: { busy: 0, count: 1, lastActivity: new Date().toISOString() },
  at: new Date().toISOString(),
  ...extra
});

/** What reached the recorder with the companion's own service token, anywhere but the hub API. */
const leaked = () =>
  recorder.received.filter(
    r =>
      r.url.startsWith('/user/') ||
      (!r.url.startsWith('/hub/api/') && JSON.stringify(r.headers).includes(hub.serviceToken))
  );

before(async () => {
  hub = await startHub();
  recorder = await startRecorder();
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});

after(async () => {
  for (const app of apps) await app.close();
  await recorder?.stop();
  await hub?.stop();
});

describe('the service token never reaches a user server', () => {
  it(
    'Flare lists and checks ports without asking the owner server',
    { timeout: 60_000 },
    async () => {
      const app = await companion();
      const listed = await call(app, 'alice', 'GET', '/api/v1/flare/ports');
      const made = await call(app, 'alice', 'POST', '/api/v1/flare/routes', {
        name: 'leaky',
        port: 8050
      });
      assert.deepEqual(
        leaked().map(r => `${r.method} ${r.url} ${r.headers.authorization ?? ''}`),
        [],
        'requests the companion made to a user server'
      );
      // Nothing reported yet: neither a list nor a route.
      assert.equal(listed.status, 503);
      assert.equal(listed.body.code, 'server_not_reporting');
      assert.equal(made.status, 503);
      assert.equal(made.body.code, 'server_not_reporting');
    }
  );

  it(
    'the idle guard reads kernel activity without asking the server',
    { timeout: 60_000 },
    async () => {
      const app = await companion();
      let clock = Date.now();
      const options = {
        config: app.config.idle,
        store: createIdleStore(app.database.db),
        // Where older guards sent the service token to look at kernels: the recorder.
        hub: createIdleHub({
          apiUrl: `${recorder.url}/hub/api`,
          hubUrl: recorder.url,
          token: hub.serviceToken,
          timeoutSeconds: 5
        } as Parameters<typeof createIdleHub>[0]),
        kernels: async (user: string, server: string) => {
          const r = await app.serverReports.latest(user, server);
          return r && { busy: r.kernels.busy > 0, lastActivity: null, count: r.kernels.busy };
        },
        // No CPU at all in alice's pod: idle unless a kernel is busy.
        measure: async () => new Map([['jupyter-alice', { cpuCores: 0, gpu: false }]]),
        mailer: null,
        addresses: {},
        log: app.log,
        now: () => clock
      };
      const config = app.config.idle;
      config.profiles = {
        cpu: {
          ...config.profiles[config.defaultProfile],
          intervalSeconds: 1,
          windowSeconds: WINDOW,
          segmentSeconds: 10,
          warnAfter: 5,
          stopAfter: 10,
          thresholds: { cpuCores: 0.2 },
          activityCountsAsUse: { hubActivity: true, kernelBusy: true }
        }
      };
      config.defaultProfile = 'cpu';
      const guard = createIdleGuard(options);
      const state = async () => (await options.store.all()).get(keyOf('alice', ''))?.state;

      await guard.round(); // the guard's first look opens alice's window
      clock += WINDOW * 1000;
      await guard.round(); // the window ends idle by CPU: its kernels decide
      assert.deepEqual(
        leaked().map(r => `${r.method} ${r.url} ${r.headers.authorization ?? ''}`),
        [],
        'requests the companion made to a user server'
      );
      // No report: unknown, which never stops a server.
      assert.equal(await state(), 'unknown');

      // Alice's server reports a busy kernel (with her token): in use.
      assert.equal(
        (
          await call(
            app,
            'alice',
            'PUT',
            '/api/v1/me/server-report',
            report({ kernels: { busy: 1, lastActivity: null } })
          )
        ).status,
        204
      );
      clock += WINDOW * 1000;
      await guard.round();
      assert.equal(await state(), 'active');
      assert.deepEqual(leaked(), []);
    }
  );
});

describe('PUT /api/v1/me/server-report', () => {
  it(
    'is validated, stored per user and server, and read by Flare',
    { timeout: 60_000 },
    async () => {
      const app = await companion();
      for (const bad of [
        { ...report(), ports: [{ port: 70000 }] },
        { ...report(), kernels: { busy: -1, lastActivity: null } },
        { ...report(), extra: true },
        { ports: [], kernels: { busy: 0, lastActivity: null }, at: new Date().toISOString() }
      ]) {
        const res = await call(app, 'alice', 'PUT', '/api/v1/me/server-report', bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
      }
      const anonymous = await app.inject({
        method: 'PUT',
        url: '/api/v1/me/server-report',
        payload: report()
      });
      assert.equal(anonymous.statusCode, 401);

      assert.equal(
        (await call(app, 'alice', 'PUT', '/api/v1/me/server-report', report())).status,
        204
      );
      // A named server of hers reports too: both count.
      const named = report({ server: 'gpu', ports: [{ port: 9000 }] });
      assert.equal(
        (await call(app, 'alice', 'PUT', '/api/v1/me/server-report', named)).status,
        204
      );
      const mine = await call(app, 'alice', 'GET', '/api/v1/flare/ports');
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.body.ports, [{ port: 8050, command: 'python app.py' }, { port: 9000 }]);

      // The latest report replaces the one before.
      const moved = report({ ports: [{ port: 8060 }] });
      assert.equal(
        (await call(app, 'alice', 'PUT', '/api/v1/me/server-report', moved)).status,
        204
      );
      const now = await call(app, 'alice', 'GET', '/api/v1/flare/ports');
      assert.deepEqual(now.body.ports, [{ port: 8060 }, { port: 9000 }]);

      // Bob sees none of alice's ports, and cannot expose them.
      const bobs = await call(app, 'bob', 'GET', '/api/v1/flare/ports');
      assert.equal(bobs.status, 503);
      assert.equal(bobs.body.code, 'server_not_reporting');
      assert.equal(
        (await call(app, 'bob', 'PUT', '/api/v1/me/server-report', report({ ports: [] }))).status,
        204
      );
      const steal = await call(app, 'bob', 'POST', '/api/v1/flare/routes', {
        name: 'steal',
        port: 8060
      });
      assert.equal(steal.status, 400);
      assert.equal(steal.body.code, 'port_not_listening');
      assert.equal((await app.serverReports.latest('bob', '')).ports.length, 0);

      // Alice can expose her reported port once a process of her server holds it (on loopback the
      // kernel says whose it is): a listener started as her server starts its processes.
      const listener = spawn(
        process.execPath,
        [
          '-e',
          'require("net").createServer().listen(0, "127.0.0.1", function () { console.log(this.address().port) })'
        ],
        { env: { ...process.env, JUPYTERHUB_USER: 'alice' }, stdio: ['ignore', 'pipe', 'inherit'] }
      );
      after(() => listener.kill('SIGKILL'));
      const appPort = Number(
        await new Promise<string>(resolve => listener.stdout.once('data', d => resolve(String(d))))
      );
      assert.equal(
        (
          await call(
            app,
            'alice',
            'PUT',
            '/api/v1/me/server-report',
            report({ ports: [{ port: appPort }] })
          )
        ).status,
        204
      );
      const made = await call(app, 'alice', 'POST', '/api/v1/flare/routes', {
        name: 'mine',
        port: appPort
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(leaked(), []);
    }
  );

  it(
    'a report older than serverReportMaxAgeSeconds counts as none',
    { timeout: 60_000 },
    async () => {
      const app = await companion(1);
      assert.equal(
        (await call(app, 'alice', 'PUT', '/api/v1/me/server-report', report())).status,
        204
      );
      assert.equal((await call(app, 'alice', 'GET', '/api/v1/flare/ports')).status, 200);
      assert.ok(await app.serverReports.latest('alice', ''));
      await new Promise(r => setTimeout(r, 1300));
      const stale = await call(app, 'alice', 'GET', '/api/v1/flare/ports');
      assert.equal(stale.status, 503);
      assert.equal(stale.body.code, 'server_not_reporting');
      assert.equal(await app.serverReports.latest('alice', ''), undefined);
    }
  );
});
