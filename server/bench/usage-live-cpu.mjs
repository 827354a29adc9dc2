// Companion CPU for status bars: 1,000 JupyterLab clients polling GET /api/v1/usage/live every 5 s
// (200 requests/s), measured as the companion process's CPU seconds per wall second, against the
// same rate of GET /api/v1/me (the cheapest authenticated route) in the same run. Live figures come
// from the platform's Prometheus, one shared batch per usage.liveCacheSeconds.
// Expects the platform started by dev/bench.sh (HOTSTEPPER_* in env).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

const state = process.env.HOTSTEPPER_STATE;
const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const companion = `http://127.0.0.1:${process.env.HOTSTEPPER_PORT}`;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const POLL_SECONDS = 5;
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const rate = CLIENTS / POLL_SECONDS;
const pid = Number(readFileSync(join(state, 'pids', 'companion.pid'), 'utf8'));
const TICKS = 100; // USER_HZ on Linux

async function userToken(name) {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/users/${name}/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: 'bench', expires_in: 600 })
  });
  if (!res.ok) throw new Error(`could not mint a token for ${name}: ${res.status}`);
  return (await res.json()).token;
}

/** utime + stime of the companion, in seconds. */
function cpuSeconds() {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function measure(path, tokens) {
  const headers = { authorization: `token ${tokens[0]}` };
  const warm = await fetch(`${companion}${path}`, { headers });
  if (!warm.ok) throw new Error(`GET ${path} answered ${warm.status}: ${await warm.text()}`);
  const before = cpuSeconds();
  const started = performance.now();
  const result = await new Promise((resolve, reject) =>
    autocannon(
      {
        url: `${companion}${path}`,
        connections: 50,
        overallRate: rate,
        duration: DURATION,
        // Several users, as many Lab clients are.
        requests: tokens.map(t => ({ headers: { authorization: `token ${t}` } }))
      },
      (err, r) => (err ? reject(err) : resolve(r))
    )
  );
  const wall = (performance.now() - started) / 1000;
  return {
    path,
    cpuPerSecond: (cpuSeconds() - before) / wall,
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx
  };
}

const tokens = await Promise.all(['alice', 'bob', 'teach1', 'ops'].map(userToken));
const me = await measure('/api/v1/me', tokens);
const live = await measure('/api/v1/usage/live', tokens);
for (const r of [me, live]) {
  console.log(
    `usage-live-cpu ${r.path.padEnd(20)} ${Math.round(r.rps)} req/s (${CLIENTS} clients every ${POLL_SECONDS} s): ` +
      `companion CPU ${(r.cpuPerSecond * 100).toFixed(1)} % of a core, p99 ${r.p99} ms, errors ${r.errors}`
  );
}
console.log(
  `usage-live-cpu: ${(live.cpuPerSecond * 100).toFixed(1)} % of a core per ${CLIENTS} polling clients; ` +
    `ratio vs /api/v1/me at the same rate ${(live.cpuPerSecond / Math.max(me.cpuPerSecond, 1e-6)).toFixed(2)}x`
);
