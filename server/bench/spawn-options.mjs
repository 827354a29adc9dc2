// The spawn page's options endpoint under 1,000 polling users: GET /api/v1/spawn/options, as the hub's
// spawn page asks for it (the spawner asks as the user), at the rate of 1,000 users each polling every
// 5 s (200 requests/s, spread over 50 keep-alive connections, as usage-live-cpu.mjs does), then flat
// out (10 connections, as me-latency.mjs); against GET /api/v1/me (the cheapest authenticated route:
// the same identity check, no options to resolve, no quota to read) at the same rate and the same
// concurrency, in the same run. The options are the platform's own configuration (its catalogue and
// each caller's namespace quota, read from its control plane per request).
// Reports p50/p99 latency, achieved throughput and the companion's CPU per wall second, as ratios.
// Expects the platform started by dev/bench.sh (HOTSTEPPER_* in env).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

const state = process.env.HOTSTEPPER_STATE;
const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const companion = `http://127.0.0.1:${process.env.HOTSTEPPER_PORT}`;
const USERS = Number(process.env.BENCH_USERS ?? 1000);
const POLL_SECONDS = Number(process.env.BENCH_POLL_SECONDS ?? 5);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const rate = USERS / POLL_SECONDS;
const pid = Number(readFileSync(join(state, 'pids', 'companion.pid'), 'utf8'));
const TICKS = 100; // USER_HZ on Linux
const OPTIONS = '/api/v1/spawn/options';
const ME = '/api/v1/me';

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

async function measure(path, tokens, load) {
  const before = cpuSeconds();
  const started = performance.now();
  const r = await new Promise((resolve, reject) =>
    autocannon(
      {
        url: `${companion}${path}`,
        duration: DURATION,
        ...load,
        // Several users, as the hub asks for each user's page with that user's token.
        requests: tokens.map(t => ({ headers: { authorization: `token ${t}` } }))
      },
      (err, result) => (err ? reject(err) : resolve(result))
    )
  );
  const wall = (performance.now() - started) / 1000;
  return {
    path,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: r.latency.mean,
    rps: r.requests.average,
    cpu: (cpuSeconds() - before) / wall,
    errors: r.errors + r.non2xx
  };
}

const tokens = await Promise.all(['alice', 'bob', 'teach1', 'ops'].map(userToken));
// Warm: every token's identity cached, and a check that both routes answer each user.
let images = 0;
for (const t of tokens) {
  for (const path of [ME, OPTIONS]) {
    const res = await fetch(`${companion}${path}`, { headers: { authorization: `token ${t}` } });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    const body = await res.json();
    if (path === OPTIONS) {
      if (!Array.isArray(body.images) || !body.cpu) throw new Error('no spawn options answered');
      images = body.images.length;
    }
  }
}

// The two routes alternate so both see the same machine; polling first, then flat out.
const polling = { connections: 50, overallRate: rate };
const flat = { connections: 10 };
const runs = {
  me: await measure(ME, tokens, polling),
  options: await measure(OPTIONS, tokens, polling),
  meFlat: await measure(ME, tokens, flat),
  optionsFlat: await measure(OPTIONS, tokens, flat)
};
const bad = Object.values(runs).filter(r => r.errors > 0);
if (bad.length) {
  for (const r of bad) console.error(`${r.path}: ${r.errors} errors or non-2xx answers`);
  console.error('errors during the run: no figures');
  process.exit(1);
}

const { me, options, meFlat, optionsFlat } = runs;
const row = (what, r) => ({
  what,
  'p50 ms': r.p50,
  'p99 ms': r.p99,
  'req/s': Math.round(r.rps),
  'companion CPU %': +(r.cpu * 100).toFixed(1)
});
console.log(
  `\nspawn options under ${USERS.toLocaleString('en')} users polling every ${POLL_SECONDS} s ` +
    `(${rate} req/s, ${DURATION} s each; ${images} images in the platform's catalogue, ` +
    `${tokens.length} users' tokens)`
);
console.table([
  row(`GET ${OPTIONS}, ${rate} req/s`, options),
  row(`baseline GET ${ME}, ${rate} req/s`, me),
  row(`GET ${OPTIONS}, 10 connections flat out`, optionsFlat),
  row(`baseline GET ${ME}, 10 connections flat out`, meFlat)
]);
// autocannon's percentiles are whole milliseconds: a 0 ms baseline has no meaningful ratio.
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a (baseline under 1 ms)');
console.log(
  `spawn options vs /me at ${rate} req/s: p50 ${options.p50} ms vs ${me.p50} ms ` +
    `(${ratio(options.p50, me.p50)}), p99 ${options.p99} ms vs ${me.p99} ms ` +
    `(${ratio(options.p99, me.p99)}), companion CPU ${(options.cpu * 100).toFixed(1)} % vs ` +
    `${(me.cpu * 100).toFixed(1)} % of a core (${ratio(options.cpu, me.cpu)})`
);
console.log(
  `spawn options vs /me flat out: ${Math.round(optionsFlat.rps)} vs ${Math.round(meFlat.rps)} ` +
    `req/s (throughput ${(optionsFlat.rps / meFlat.rps).toFixed(2)}x), ` +
    `p50 ${ratio(optionsFlat.p50, meFlat.p50)}, p99 ${ratio(optionsFlat.p99, meFlat.p99)}`
);
// Below the polling rate the endpoint cannot serve 1,000 polling users.
if (options.rps < rate * 0.95) {
  console.error(`GET ${OPTIONS} kept up only ${Math.round(options.rps)} of ${rate} req/s`);
  process.exitCode = 1;
}
