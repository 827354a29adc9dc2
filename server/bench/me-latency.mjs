// Companion latency: GET /api/v1/me with a warm identity cache, against a bare fastify route measured in
// the same run on the same machine. Expects the platform started by dev/bench.sh (HOTSTEPPER_* in env).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

const state = process.env.HOTSTEPPER_STATE;
const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const companion = `http://127.0.0.1:${process.env.HOTSTEPPER_PORT}`;
const duration = Number(process.env.BENCH_SECONDS ?? 8);
const connections = 10;

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

function run(url, headers) {
  return new Promise((resolve, reject) =>
    autocannon({ url, headers, connections, duration }, (err, r) =>
      err ? reject(err) : resolve(r)
    )
  );
}

function bare() {
  // The baseline runs in its own process, like the companion, so both pay the same IPC and scheduling.
  const child = fork(new URL('./bare-fastify.mjs', import.meta.url), { stdio: 'inherit' });
  return new Promise(resolve => child.once('message', port => resolve({ child, port })));
}

const token = await userToken('alice');
const headers = { authorization: `token ${token}` };
const warm = await fetch(`${companion}/api/v1/me`, { headers });
if (!warm.ok) throw new Error(`GET /api/v1/me answered ${warm.status}: ${await warm.text()}`);

const { child, port } = await bare();
const base = await run(`http://127.0.0.1:${port}/api/v1/me`, headers);
const me = await run(`${companion}/api/v1/me`, headers);
child.kill();

const row = (name, r) => ({
  name,
  mean: Number(r.latency.mean.toFixed(2)),
  p50: r.latency.p50,
  p99: r.latency.p99,
  rps: Math.round(r.requests.average),
  errors: r.errors + r.non2xx
});
const rows = [row('bare fastify route', base), row('GET /api/v1/me (warm cache)', me)];
console.log(`\ncompanion latency (${connections} connections, ${duration} s each, ms)`);
console.table(rows);
// autocannon's percentiles are whole milliseconds: a 0 ms baseline has no meaningful p50 ratio.
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : `n/a (baseline under 1 ms)`);
console.log(
  `ratio /me vs bare: mean ${ratio(me.latency.mean, base.latency.mean)}, ` +
    `p50 ${ratio(me.latency.p50, base.latency.p50)}, ` +
    `p99 ${ratio(me.latency.p99, base.latency.p99)}, ` +
    `throughput ${(me.requests.average / base.requests.average).toFixed(2)}x`
);
if (rows.some(r => r.errors > 0)) {
  console.error('errors during the run: the figures above are not valid');
  process.exit(1);
}
