// Flare's gateway against a direct connection to the same app, in the same run: wrk at 1, 16 and
// 128 connections (p50, p99, requests/s), WebSocket echo round trips, and the time from creating a
// route to its first successful request. Expects the platform started by dev/bench.sh (HOTSTEPPER_*
// in env). The app (flare-app.py: a page and a WebSocket echo) is uploaded to alice's notebook
// server and started in a terminal of it as a user would, so the gateway's ownership check runs for
// real. "Direct" is the app at its pod's address, as the gateway reaches it.
import { execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const state = process.env.HOTSTEPPER_STATE;
const hub = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_PORT}`;
const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const companion = `http://127.0.0.1:${process.env.HOTSTEPPER_PORT}`;
const gw = Number(process.env.HOTSTEPPER_FLARE_PORT ?? 9180);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const appPort = Number(process.env.BENCH_FLARE_APP_PORT ?? gw + 50);
const APP = fileURLToPath(new URL('./flare-app.py', import.meta.url));
const name = 'bench';
const host = `${name}.flare.localhost:${gw}`;

const sleep = ms => new Promise(r => setTimeout(r, ms));
const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();

async function hubCall(method, path, token = dev, body) {
  const res = await fetch(`${hubApi}${path}`, {
    method,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body)
  });
  if (!res.ok && res.status !== 400) throw new Error(`${method} ${path}: ${res.status}`);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

const listening = (host, port) =>
  new Promise(resolve => {
    const s = connect(port, host);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function until(what, seconds, check) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} within ${seconds} s`);
}

// alice's server, and her app started in a terminal of it.
const token = (
  await hubCall('POST', '/users/alice/tokens', dev, { note: 'bench', expires_in: 900 })
).token;
const auth = { Authorization: `token ${token}` };
await hubCall('POST', '/users/alice/server');
// The platform's first pod pulls the notebook image into the node's containerd: up to the hub's
// start_timeout (120 s), and more.
await until(
  'alice server ready',
  180,
  async () => (await hubCall('GET', '/users/alice')).servers?.['']?.ready
);
const uploaded = await fetch(`${hub}/user/alice/api/contents/flare-bench-app.py`, {
  method: 'PUT',
  headers: { ...auth, 'Content-Type': 'application/json' },
  body: JSON.stringify({ type: 'file', format: 'text', content: readFileSync(APP, 'utf8') })
});
if (!uploaded.ok) throw new Error(`uploading the app: ${uploaded.status}`);
// Where the gateway reaches alice's server: her pod's IP, from the cluster.
const appHost = String(
  execFileSync('kubectl', [
    '--kubeconfig',
    join(state, 'k8s', 'kubeconfig'),
    'get',
    'pods',
    '-A',
    '-l',
    'component=singleuser-server,hub.jupyter.org/username=alice',
    '-o',
    'jsonpath={.items[0].status.podIP}'
  ])
).trim();
const terminal = await (
  await fetch(`${hub}/user/alice/api/terminals`, { method: 'POST', headers: auth })
).json();
const term = new WebSocket(
  `ws://127.0.0.1:${process.env.HOTSTEPPER_HUB_PORT}/user/alice/terminals/websocket/${terminal.name}`,
  { headers: auth }
);
await new Promise((resolve, reject) => term.once('open', resolve).once('error', reject));
term.send(JSON.stringify(['stdin', `python3 flare-bench-app.py ${appPort} &\r`]));
await until('the app listening', 30, () => listening(appHost, appPort));

const api = (method, path, body) =>
  fetch(`${companion}/api/v1/flare${path}`, {
    method,
    headers: body ? { ...auth, 'Content-Type': 'application/json' } : auth,
    body: body && JSON.stringify(body)
  });
await api('DELETE', `/routes/${name}`);
// Alice's server reports its ports every few seconds: the route can be made once it has.
await until("alice's server reporting the app's port", 60, async () =>
  ((await (await api('GET', '/ports')).json()).ports ?? []).some(p => p.port === appPort)
);

// Route creation to the first successful request through the gateway.
const t0 = performance.now();
const made = await api('POST', '/routes', { name, port: appPort, access: { mode: 'public' } });
if (made.status !== 201) throw new Error(`creating the route: ${made.status} ${await made.text()}`);
const created = performance.now();
await until('the first request through the gateway', 10, async () => {
  const out = execFileSync('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-H',
    `Host: ${host}`,
    `http://127.0.0.1:${gw}/`
  ]);
  return String(out) === '200';
});
const firstOk = performance.now();

function wrk(url, connections, extra = []) {
  const threads = Math.min(connections, 2);
  const out = String(
    execFileSync('wrk', [
      '-t',
      String(threads),
      '-c',
      String(connections),
      '-d',
      `${seconds}s`,
      '--latency',
      ...extra,
      url
    ])
  );
  const ms = label => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { p50: ms('50'), p99: ms('99'), rps, errors: Number(errors) };
}

// Second baseline: a bare Node.js proxy in its own process, as the gateway runs in the companion's.
const bare = fork(new URL('./flare-bare-proxy.mjs', import.meta.url), [appHost, String(appPort)]);
const barePort = await new Promise(resolve => bare.once('message', resolve));

const rows = [];
const ratios = [];
const ratio = (a, b) => (a / b).toFixed(2);
for (const c of [1, 16, 128]) {
  const direct = wrk(`http://${appHost}:${appPort}/`, c);
  const proxy = wrk(`http://127.0.0.1:${barePort}/`, c);
  const gateway = wrk(`http://127.0.0.1:${gw}/`, c, ['-H', `Host: ${host}`]);
  rows.push(
    { connections: c, via: 'direct', ...direct },
    { connections: c, via: 'bare node proxy', ...proxy },
    { connections: c, via: 'flare gateway', ...gateway }
  );
  ratios.push(
    `${c} conn: vs direct p50 ${ratio(gateway.p50, direct.p50)}x, p99 ${ratio(gateway.p99, direct.p99)}x, ` +
      `req/s ${ratio(gateway.rps, direct.rps)}x; vs bare proxy req/s ${ratio(gateway.rps, proxy.rps)}x`
  );
}
bare.kill();

async function roundTrips(url, headers, n = 2000) {
  const ws = new WebSocket(url, { headers });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise(resolve => {
      ws.once('message', resolve);
      ws.send(`m${i}`);
    });
    times.push(performance.now() - t);
  }
  ws.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)], p99: times[Math.floor(n * 0.99)] };
}
const wsDirect = await roundTrips(`ws://${appHost}:${appPort}/ws`, {});
const wsGateway = await roundTrips(`ws://127.0.0.1:${gw}/ws`, { host });

const deleted = await api('DELETE', `/routes/${name}`);
if (!deleted.ok) throw new Error(`deleting the route: ${deleted.status}`);
// Ending the terminal ends its shell, and the app with it.
term.close();
await fetch(`${hub}/user/alice/api/terminals/${terminal.name}`, {
  method: 'DELETE',
  headers: auth
});

const fmt = v => Number(v.toFixed(3));
console.log(`\nflare gateway vs direct to the same app (wrk, ${seconds} s each, latency in ms)`);
console.table(rows.map(r => ({ ...r, p50: fmt(r.p50), p99: fmt(r.p99), rps: Math.round(r.rps) })));
for (const line of ratios) console.log(`flare gateway, ${line}`);
console.log(
  `WebSocket echo round trip (2000 sequential): direct p50 ${fmt(wsDirect.p50)} ms p99 ${fmt(wsDirect.p99)} ms, ` +
    `gateway p50 ${fmt(wsGateway.p50)} ms p99 ${fmt(wsGateway.p99)} ms ` +
    `(${(wsGateway.p50 / wsDirect.p50).toFixed(2)}x, ${(wsGateway.p99 / wsDirect.p99).toFixed(2)}x)`
);
console.log(
  `route creation: API answer ${fmt(created - t0)} ms (incl. asking alice's server for its ports), ` +
    `first successful request through the gateway ${fmt(firstOk - t0)} ms after the request`
);
