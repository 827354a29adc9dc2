/**
 * The server report (jupyter/hotstepper/report.py) from a real Jupyter server from the venv, run
 * from this checkout's source, to a real companion (identity from a real JupyterHub): the server
 * pushes its listening ports and kernels itself, with its own hub token, right after it starts and
 * then every HOTSTEPPER_REPORT_SECONDS; Flare lists what it reported. The companion asks the
 * server nothing.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ServerReport } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startJupyter, type IJupyter } from './helpers/jupyter.js';
import { freePort, waitFor } from './helpers/ports.js';

const APP = fileURLToPath(new URL('./fixtures/flare/app.mjs', import.meta.url));
const SERVER_CONFIG = `
c = get_config()  # noqa: F821
c.ServerApp.jpserver_extensions = {"hotstepper": True}
`;

let hub: IHub;
let app: FastifyInstance;
let jupyter: IJupyter | undefined;
let aliceToken: string;
const seen: { authorization?: string; server: string }[] = [];

before(async () => {
  hub = await startHub();
  aliceToken = (await hub.createToken('alice')).token;
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      flare: {
        domain: 'flare.localhost',
        publicUrl: 'http://{host}/',
        gateway: { host: '127.0.0.1', port: await freePort(), target: 'loopback' }
      } as never,
      idle: { enabled: false }
    })
  );
  app.addHook('preHandler', async request => {
    if (request.routeOptions.url === '/api/v1/me/server-report') {
      const body = request.body as ServerReport | undefined;
      seen.push({ authorization: request.headers.authorization, server: body?.server ?? '?' });
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
});

after(async () => {
  await jupyter?.stop();
  await app?.close();
  await hub?.stop();
});

async function ports(): Promise<{
  status: number;
  body: { ports?: { port: number; command?: string }[] };
}> {
  const res = await app.inject({
    method: 'GET',
    url: '/api/v1/flare/ports',
    headers: { authorization: `token ${aliceToken}` }
  });
  return { status: res.statusCode, body: res.json() };
}

/** What `get` gives once it gives something, polled until the deadline. */
async function until<T>(what: string, seconds: number, get: () => Promise<T | undefined>) {
  let value: T | undefined;
  await waitFor(what, seconds, async () => (value = await get()) !== undefined);
  return value as T;
}

/** Type a command into a new terminal of the server (it runs in the server's process tree). */
async function runInTerminal(server: IJupyter, command: string) {
  const made = await fetch(`${server.url}/api/terminals?token=${server.token}`, { method: 'POST' });
  assert.equal(made.status, 200, await made.clone().text());
  const { name } = (await made.json()) as { name: string };
  const ws = new WebSocket(
    `${server.url.replace('http', 'ws')}/terminals/websocket/${name}?token=${server.token}`,
    { handshakeTimeout: 10_000 }
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () =>
      ws.send(JSON.stringify(['stdin', `${command}\r`]), err => (err ? reject(err) : resolve()))
    );
    ws.once('error', reject);
  });
  ws.close();
}

it(
  'a real Jupyter server pushes its ports and kernels with its own token',
  { timeout: 120_000 },
  async () => {
    const before = await ports();
    assert.equal(before.status, 503, 'nothing reported yet');
    const address = app.server.address() as { port: number };
    jupyter = await startJupyter({
      config: SERVER_CONFIG,
      hubToken: aliceToken,
      companionUrl: `http://127.0.0.1:${address.port}/`,
      env: { HOTSTEPPER_REPORT_SECONDS: '1', JUPYTERHUB_SERVER_NAME: '' }
    });
    const server = jupyter;

    // Right after start: a report, with the server's own token, and no port of its own listed.
    const first = await until('the first report', 30, () => app.serverReports.latest('alice', ''));
    assert.ok(seen.length >= 1);
    for (const s of seen) assert.equal(s.authorization, `token ${aliceToken}`);
    assert.equal(first.server, '');
    const serverPort = Number(new URL(server.url).port);
    assert.ok(
      !first.ports.some(p => p.port === serverPort),
      'the Jupyter server itself is left out'
    );
    assert.ok(Date.now() - Date.parse(first.at) < 60_000);

    // An app started in a terminal of the server: its port arrives with the next reports.
    const appPort = await freePort();
    await runInTerminal(server, `node ${APP} ${appPort}`);
    const listed = await until('the app port in Flare', 30, async () => {
      const res = await ports();
      return res.body.ports?.some(p => p.port === appPort) ? res : undefined;
    });
    assert.equal(listed.status, 200);
    const mine = listed.body.ports?.find(p => p.port === appPort);
    assert.match(mine?.command ?? '', /app\.mjs/);
    const reported = await app.serverReports.latest('alice', '');
    assert.ok(reported?.ports.find(p => p.port === appPort)?.pid, 'with the pid that listens');

    // A kernel started in the server: counted from the server's own kernel manager.
    const kernel = await fetch(`${server.url}/api/kernels?token=${server.token}`, {
      method: 'POST',
      body: '{}'
    });
    assert.equal(kernel.status, 201, await kernel.clone().text());
    const withKernel = await until('a report with the kernel', 60, async () => {
      const r = await app.serverReports.latest('alice', '');
      return r?.kernels.count === 1 && r.kernels.lastActivity ? r : undefined;
    });
    assert.ok(withKernel.kernels.busy <= 1);
    for (const s of seen) assert.equal(s.authorization, `token ${aliceToken}`);
  }
);
