/**
 * The idle guard against real parts: a real JupyterHub spawning real single-user servers (local
 * processes), a real Prometheus scraping scripted cAdvisor/DCGM series, a real SMTP server on
 * loopback. The policy is short (8-second windows, 2-second segments) so days pass in seconds.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { build as buildCompanion, scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { startPrometheus, type ITestPrometheus } from './helpers/prometheus.js';
import { startScriptedExporter, type IScriptedExporter } from './fixtures/idle/exporter.js';
import { readMail, startSmtp } from './fixtures/idle/smtp.js';

const CONFIG = fileURLToPath(new URL('./fixtures/idle/jupyterhub_config.py', import.meta.url));
const WINDOW = 8;
const weakToken = randomBytes(24).toString('hex');

let hub: IHub;
let prometheus: ITestPrometheus;
let exporter: IScriptedExporter;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

let companionPort: number;

/**
 * The companion of a test, listening where the users' servers push their reports (HOTSTEPPER_URL,
 * every second): the guard reads busy kernels from them. One at a time, on the same port.
 */
async function build(t: TestContext, config: ReturnType<typeof testConfig>) {
  const app = await buildCompanion(t, config);
  await app.listen({ host: '127.0.0.1', port: companionPort });
  return app;
}

before(async () => {
  process.env.HS_IDLE_WEAK_TOKEN = weakToken;
  companionPort = await freePort();
  process.env.HS_TEST_COMPANION_URL = `http://127.0.0.1:${companionPort}/`;
  process.env.HS_TEST_JUPYTER_SOURCE = fileURLToPath(new URL('../../jupyter/', import.meta.url));
  exporter = await startScriptedExporter();
  [hub, prometheus, smtp] = await Promise.all([
    startHub({ config: CONFIG }),
    startPrometheus({ exporterPort: exporter.port, interval: '1s' }),
    startSmtp()
  ]);
});

after(async () => {
  await Promise.all([hub?.stop(), prometheus?.stop(), exporter?.stop(), smtp?.stop()]);
});

const shortProfile = (extra: object) => ({
  intervalSeconds: 1,
  windowSeconds: WINDOW,
  segmentSeconds: 2,
  warnAfter: 1,
  stopAfter: 2,
  snooze: { count: 1, seconds: WINDOW },
  ...extra
});

function idleConfig(
  overrides: { idle?: object; token?: string; prometheusUrl?: string; dbPath?: string } = {}
) {
  const config = testConfig({
    // IDLE_TEST_LOG=debug shows what the guard logs while a test runs.
    log: { level: (process.env.IDLE_TEST_LOG ?? 'silent') as never },
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: overrides.token ?? hub.serviceToken },
    prometheus: { url: overrides.prometheusUrl ?? prometheus.url },
    mail: {
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, timeoutSeconds: 5 },
      from: 'Hotstepper <hotstepper@example.org>',
      addresses: { alice: 'alice@example.org', bob: 'bob@example.org', carol: 'carol@example.org' }
    },
    idle: {
      hubUrl: hub.url,
      profiles: {
        gpu: shortProfile({ match: { gpu: true }, thresholds: { gpuPercent: 5 } }),
        cpu: shortProfile({ thresholds: { cpuCores: 0.2 } })
      },
      ...overrides.idle
    } as never
  });
  if (overrides.dbPath) config.database.path = overrides.dbPath;
  return config;
}

async function hubApi(method: string, path: string, body?: unknown, token = hub.serviceToken) {
  const res = await fetch(`${hub.apiUrl}${path}`, {
    method,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function until<T>(
  what: string,
  seconds: number,
  check: () => Promise<T | undefined | false>
) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

type ServerModel = { ready?: boolean; pending?: string | null };
const serverOf = async (user: string) =>
  ((await hubApi('GET', `/users/${user}`)).body.servers as Record<string, ServerModel>)[''];

async function spawn(user: string, t?: TestContext) {
  // A failing test must not leave its server to be judged by the next test's guard.
  t?.after(() => hubApi('DELETE', `/users/${user}/server`));
  const res = await hubApi('POST', `/users/${user}/server`);
  assert.ok([201, 202].includes(res.status), `spawn ${user}: ${res.status}`);
  await until(`${user}'s server ready`, 150, async () => {
    const s = await serverOf(user);
    return s?.ready && !s.pending;
  });
  return Date.now();
}

async function stopServer(user: string) {
  await hubApi('DELETE', `/users/${user}/server`);
  await until(`${user}'s server stopped`, 60, async () => !(await serverOf(user)));
}

async function api(
  app: Awaited<ReturnType<typeof build>>,
  token: string,
  method: 'GET' | 'POST',
  url: string,
  payload?: object
) {
  const res = await app.inject({
    method,
    url,
    headers: { authorization: `token ${token}` },
    payload
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const mailsTo = (address: string) =>
  smtp.received.filter(m => m.to.includes(address)).map(m => readMail(m.raw));

test('an idle GPU server is warned, then stopped on time, across a companion restart; the owner sees why', async t => {
  const alice = (await hub.createToken('alice')).token;
  const bob = (await hub.createToken('bob')).token;
  exporter.set('jupyter-alice', { cpu: 0, gpu: 0 });
  const dbPath = join(scratchDir(), 'idle.sqlite');
  const ready = await spawn('alice', t);

  // Building a companion takes seconds on a loaded machine: that time is not the guard's.
  let built = Date.now();
  let app = await build(t, idleConfig({ dbPath }));
  let buildTime = Date.now() - built;
  const warned = await until('alice warned', WINDOW * 3, async () => {
    const mine = (await api(app, alice, 'GET', '/api/v1/idle/me')).body;
    return mine.servers[0]?.state === 'idle' ? mine : undefined;
  });
  const server = warned.servers[0];
  assert.equal(server.profile, 'gpu', 'DCGM series make it a GPU server');
  assert.equal(server.idleWindows, 1);
  assert.match(server.countdown, /^idle 1 of 2 windows of 8 s — will stop \w{3} \d\d:\d\d$/);
  assert.ok(
    server.reasons.some((r: string) => /^GPU 0 % < 5$/.test(r)),
    server.reasons.join()
  );
  assert.equal(server.snoozesLeft, 1);

  const warnMail = await until('the warning mail', 10, async () => mailsTo('alice@example.org')[0]);
  assert.match(warnMail.subject, /^Your default server is idle — it will be stopped /);
  assert.match(warnMail.text, /idle 1 of 2 windows of 8 s — will stop/);
  assert.match(warnMail.text, /Why: GPU 0 % < 5/);
  assert.ok(
    warnMail.text.includes(`${hub.url}/hub/user-redirect/lab?hotstepper-idle=keep`),
    'a link to keep it running'
  );

  // A restart of the companion in the middle keeps the count: the next idle window stops it.
  built = Date.now();
  await app.close();
  app = await build(t, idleConfig({ dbPath }));
  buildTime += Date.now() - built;
  await until('alice stopped', WINDOW * 3, async () => !(await serverOf('alice')));
  const elapsed = (Date.now() - ready) / 1000;
  assert.ok(elapsed >= 2 * WINDOW, `stopped after ${elapsed} s, not before two windows`);
  const late = elapsed - buildTime / 1000 - 2 * WINDOW;
  assert.ok(late <= 6, `stopped after ${elapsed} s (${buildTime} ms building companions): on time`);

  const mine = await until('the stop recorded', 15, async () => {
    const body = (await api(app, alice, 'GET', '/api/v1/idle/me')).body;
    return body.lastStop ? body : undefined;
  });
  assert.equal(mine.lastStop.idleWindows, 2, 'the count went on from before the restart');
  assert.equal(mine.lastStop.server, '');
  assert.equal(mine.lastStop.figures.gpuPercent, 0);
  assert.equal(mine.lastStop.thresholds.gpuPercent, 5);
  const stopMail = await until('the stop mail', 10, async () =>
    mailsTo('alice@example.org').find(m => /was stopped because it was idle/.test(m.subject))
  );
  assert.match(stopMail.text, /after 2 idle windows in a row/);
  assert.match(stopMail.text, /Why: GPU 0 % < 5/);

  // Another user cannot acknowledge it; the owner can, once.
  const ackPath = `/api/v1/idle/me/stops/${mine.lastStop.id}/acknowledge`;
  assert.equal((await api(app, bob, 'POST', ackPath, {})).status, 404);
  assert.equal((await api(app, alice, 'POST', ackPath, {})).status, 204);
  assert.equal((await api(app, alice, 'GET', '/api/v1/idle/me')).body.lastStop, null);
  exporter.remove('jupyter-alice');
});

/** Runs code in a new kernel of the user's server, over the kernel's websocket, and leaves it running. */
async function busyKernel(user: string, code: string) {
  const base = `${hub.url}/user/${user}/api/kernels`;
  const headers = {
    Authorization: `token ${hub.serviceToken}`,
    'Content-Type': 'application/json'
  };
  const kernel = (await (await fetch(base, { method: 'POST', headers, body: '{}' })).json()) as {
    id: string;
  };
  const ws = new WebSocket(`${base.replace('http', 'ws')}/${kernel.id}/channels`, { headers });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const session = randomUUID();
  ws.send(
    JSON.stringify({
      header: {
        msg_id: randomUUID(),
        username: user,
        session,
        msg_type: 'execute_request',
        version: '5.3',
        date: new Date().toISOString()
      },
      parent_header: {},
      metadata: {},
      channel: 'shell',
      content: {
        code,
        silent: false,
        store_history: false,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true
      }
    })
  );
  await until('the kernel busy', 30, async () => {
    const k = (await (await fetch(`${base}/${kernel.id}`, { headers })).json()) as {
      execution_state: string;
    };
    return k.execution_state === 'busy';
  });
  return {
    interrupt: async () => {
      await fetch(`${base}/${kernel.id}/interrupt`, { method: 'POST', headers });
      ws.close();
    }
  };
}

test('a busy kernel that prints nothing is not idle; Jupyter activity resets the count', async t => {
  const bob = (await hub.createToken('bob')).token;
  exporter.set('jupyter-bob', { cpu: 0 });
  await spawn('bob', t);
  const kernel = await busyKernel('bob', 'import time\ntime.sleep(600)');
  const app = await build(t, idleConfig());
  const mine = async () => (await api(app, bob, 'GET', '/api/v1/idle/me')).body.servers[0];

  // Two and a half windows with no CPU at all: still running, judged in use.
  await new Promise(r => setTimeout(r, WINDOW * 2500));
  assert.ok(await serverOf('bob'), 'still running');
  const busy = await mine();
  assert.equal(busy.state, 'active');
  assert.equal(busy.idleWindows, 0);
  assert.ok(busy.reasons.includes('a kernel is busy'), busy.reasons.join());
  assert.equal(busy.figures.cpuCores, 0);

  await kernel.interrupt();
  await until('bob idle', WINDOW * 3, async () =>
    (await mine())?.idleWindows === 1 ? true : undefined
  );

  // The user comes back (what jupyterhub-singleuser reports): the next window is in use. Not
  // within seconds of the window's start, which the guard does not count.
  await new Promise(r => setTimeout(r, 5500));
  const now = new Date().toISOString();
  await hubApi('POST', '/users/bob/activity', {
    last_activity: now,
    servers: { '': { last_activity: now } }
  });
  const back = await until('bob active again', WINDOW * 2, async () => {
    const s = await mine();
    return s?.state === 'active' ? s : undefined;
  });
  assert.equal(back.idleWindows, 0);
  assert.ok(back.reasons.includes('Jupyter activity'), back.reasons.join());
  await app.close();
  await stopServer('bob');
});

test('"Keep running" delays the stop by the snooze; the snooze limit holds', async t => {
  const carol = (await hub.createToken('carol')).token;
  exporter.set('jupyter-carol', { cpu: 0.01 });
  await spawn('carol', t);
  const app = await build(t, idleConfig());
  await until('carol warned', WINDOW * 3, async () => {
    const s = (await api(app, carol, 'GET', '/api/v1/idle/me')).body.servers[0];
    return s?.state === 'idle';
  });
  const snoozed = await api(app, carol, 'POST', '/api/v1/idle/me/snooze', { server: '' });
  const at = Date.now();
  assert.equal(snoozed.status, 200);
  assert.equal(snoozed.body.state, 'snoozed');
  assert.equal(snoozed.body.idleWindows, 0);
  assert.equal(snoozed.body.snoozesLeft, 0);
  assert.equal(snoozed.body.countdown, null);

  const again = await api(app, carol, 'POST', '/api/v1/idle/me/snooze', { server: '' });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'snooze_limit');
  const unknown = await api(app, carol, 'POST', '/api/v1/idle/me/snooze', { server: 'nope' });
  assert.equal(unknown.status, 404);
  const bad = await api(app, carol, 'POST', '/api/v1/idle/me/snooze', { name: '' });
  assert.equal(bad.status, 400);

  await until('carol stopped', WINDOW * 5, async () => !(await serverOf('carol')));
  const elapsed = (Date.now() - at) / 1000;
  // Snoozed one window, then warned after one idle window and stopped after the second.
  assert.ok(elapsed >= 3 * WINDOW, `stopped ${elapsed} s after the snooze: the snooze held`);
  // The hub drops the server before the guard has written its round (and sent the mail).
  const stop = await until('the stop recorded', 15, async () =>
    (await api(app, carol, 'GET', '/api/v1/idle')).body.stops.find(
      (s: { user: string }) => s.user === 'carol'
    )
  );
  assert.equal(stop.dryRun, false);
  assert.ok(Math.abs(stop.figures.cpuCores - 0.01) < 0.005, `CPU ${stop.figures.cpuCores}`);
  assert.equal(stop.thresholds.cpuCores, 0.2);
  exporter.remove('jupyter-carol');
});

test('a hub refusing the stop: retried with backoff, reported, then given up — never looped', async t => {
  const carol = (await hub.createToken('carol')).token;
  exporter.set('jupyter-admin', { cpu: 0, gpu: 0 });
  await spawn('admin', t);
  const app = await build(
    t,
    idleConfig({
      token: weakToken,
      idle: {
        retrySeconds: 1,
        maxStopAttempts: 3,
        profiles: {
          gpu: shortProfile({ match: { gpu: true }, thresholds: { gpuPercent: 5 }, stopAfter: 1 }),
          cpu: shortProfile({ thresholds: { cpuCores: 0.2 } })
        }
      }
    })
  );
  const admin = async () =>
    (await api(app, carol, 'GET', '/api/v1/idle')).body.servers.find(
      (s: { user: string }) => s.user === 'admin'
    );
  await until(
    'given up',
    WINDOW + 20,
    async () => (await admin())?.reasons && (await stopAttempts()) === 3
  );
  await new Promise(r => setTimeout(r, 5000));
  assert.equal(await stopAttempts(), 3, 'no fourth attempt');
  assert.equal((await admin()).state, 'stop_failed');
  assert.ok(await serverOf('admin'), 'the server is still running');
  // Not for users: the admin view is for operators only.
  const alice = (await hub.createToken('alice')).token;
  assert.equal((await api(app, alice, 'GET', '/api/v1/idle')).status, 403);
  await app.close();

  async function stopAttempts() {
    const rows = await app.database.db
      .withTables<{
        idle_decisions: { user_name: string; action: string; summary: string; at: number };
      }>()
      .selectFrom('idle_decisions')
      .select(['summary', 'at'])
      .where('user_name', '=', 'admin')
      .where('action', '=', 'stop_failed')
      .orderBy('at')
      .execute();
    if (rows.length === 3) {
      assert.match(rows[0].summary, /refused to stop the server \(403/);
      assert.ok(rows[2].at - rows[1].at >= rows[1].at - rows[0].at, 'backoff grows');
      assert.match(rows[2].summary, /given up/);
    }
    return rows.length;
  }
});

test('Prometheus down: nothing is judged idle or stopped, and the admin view says so', async t => {
  const carol = (await hub.createToken('carol')).token;
  await until('the previous server gone', 60, async () => !(await serverOf('admin')));
  await spawn('admin', t);
  await prometheus.stop();
  const app = await build(t, idleConfig());
  await new Promise(r => setTimeout(r, WINDOW * 2500));
  assert.ok(await serverOf('admin'), 'still running');
  const overview = (await api(app, carol, 'GET', '/api/v1/idle')).body;
  assert.match(overview.lastRound.prometheusError, /Prometheus .* did not answer/);
  const admin = overview.servers.find((s: { user: string }) => s.user === 'admin');
  assert.equal(admin.state, 'unknown');
  assert.equal(admin.idleWindows, 0);
  await app.close();
});
