// The idle guard at scale: one evaluation round over BENCH_SERVERS running servers (default
// 10,000) — the hub listing is synthetic, the utilisation comes from a real Prometheus scraping
// 10,000 pods' cAdvisor/DCGM series, the state goes to a real SQLite database. The batched
// queries of the guard (a few per round, whatever the number of servers) are set against the
// baseline of asking Prometheus once per server, in the same run; the per-server baseline is
// timed on BENCH_BASELINE_SAMPLE servers (default 1,000) and scaled up, which the output says.
// Run from the repo root after `npm run build -w server`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const { createIdleGuard } = await import(new URL('features/idle/guard.js', dist));
const { createIdleStore } = await import(new URL('features/idle/store.js', dist));
const { measurePods, idleQueries } = await import(new URL('features/idle/metrics.js', dist));
const { migrations } = await import(new URL('features/idle/migrations.js', dist));
const { openDatabase } = await import(new URL('platform/database.js', dist));
const { validateConfig } = await import(new URL('platform/config.js', dist));
const { createPrometheus } = await import(new URL('platform/prometheus.js', dist));

const SERVERS = Number(process.env.BENCH_SERVERS ?? 10_000);
const SAMPLE = Math.min(SERVERS, Number(process.env.BENCH_BASELINE_SAMPLE ?? 1000));
const WINDOW = 30;
// A 5 s scrape of 10,000 servers' series: with 2 s (the scrape timeout too) a loaded machine missed it.
const SEGMENT = 20;
const log = (...a) => console.error(`[idle-round ${new Date().toISOString().slice(11, 19)}]`, ...a);
const pod = i => `jupyter-user${i}`;

// ---- an exporter with every pod: a third hold a GPU; half of all use next to nothing
const started = Date.now();
const exporter = createServer((req, res) => {
  const t = (Date.now() - started) / 1000;
  const lines = [];
  for (let i = 0; i < SERVERS; i++) {
    const l = `namespace="hs-user${i}",pod="${pod(i)}",container="notebook"`;
    const cores = i % 2 ? 0.5 : 0.001;
    lines.push(`container_cpu_usage_seconds_total{${l}} ${(cores * t).toFixed(3)}`);
    lines.push(`container_memory_working_set_bytes{${l}} ${500 * 2 ** 20}`);
    if (i % 3 === 0) lines.push(`DCGM_FI_DEV_GPU_UTIL{gpu="0",${l}} ${i % 2 ? 40 : 0}`);
  }
  res.end(`${lines.join('\n')}\n`);
});
await new Promise(r => exporter.listen(0, '127.0.0.1', r));
const dir = mkdtempSync(join(tmpdir(), 'hs-idle-bench-'));
const promPort = 20000 + Math.floor(Math.random() * 5000);
const prom = spawn(
  'bash',
  [
    join(root, 'dev/usage/prometheus.sh'),
    join(dir, 'prom'),
    String(promPort),
    String(exporter.address().port),
    // The companion's scrape job finds nobody on the discard port: only the exporter is scraped.
    '9',
    '5s'
  ],
  { stdio: 'ignore', detached: true }
);
const prometheus = createPrometheus(`http://127.0.0.1:${promPort}`, { timeoutMs: 60_000 });
const cleanup = () => {
  try {
    process.kill(-prom.pid, 'SIGTERM');
  } catch {
    // gone
  }
  exporter.close();
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

async function waitForData() {
  let seen = 'no answer';
  for (let i = 0; i < 360; i++) {
    try {
      const [s] = await prometheus.query(`count(container_cpu_usage_seconds_total)`);
      seen = `${s?.value ?? 0} series`;
      if (s?.value === SERVERS) {
        const [a] = await prometheus.query(
          `count(rate(container_cpu_usage_seconds_total[${SEGMENT}s]))`
        );
        if (a?.value === SERVERS) return;
      }
    } catch {
      // not up yet
    }
    await new Promise(r => setTimeout(r, 1000));
  }
  throw new Error(`Prometheus did not get ${SERVERS} servers' series within 6 minutes (${seen})`);
}
log(`Prometheus on :${promPort}, waiting for ${SERVERS} pods' series`);
await waitForData();

// ---- the guard with a synthetic hub and a real SQLite database
const config = validateConfig({
  log: { level: 'silent' },
  idle: {
    profiles: {
      gpu: {
        match: { gpu: true },
        intervalSeconds: 1,
        windowSeconds: WINDOW,
        segmentSeconds: SEGMENT,
        thresholds: { gpuPercent: 5 },
        warnAfter: 1,
        stopAfter: 2
      },
      cpu: {
        intervalSeconds: 1,
        windowSeconds: WINDOW,
        segmentSeconds: SEGMENT,
        thresholds: { cpuCores: 0.1 },
        warnAfter: 1,
        stopAfter: 2
      }
    }
  }
});
const database = await openDatabase({ path: join(dir, 'bench.sqlite') }, migrations);
const running = Array.from({ length: SERVERS }, (_, i) => ({
  user: `user${i}`,
  name: '',
  started: new Date(started).toISOString(),
  lastActivity: started,
  userOptions: {}
}));
let kernelLooks = 0;
const hub = {
  running: async () => running,
  stop: async () => {}
};
// Kernel state comes from the servers' own reports (a database read in the companion).
const kernels = async () => (kernelLooks++, { busy: false, lastActivity: null, count: 1 });
const silent = { warn() {}, info() {}, error() {}, debug() {}, child: () => silent };
const guard = createIdleGuard({
  config: config.idle,
  store: createIdleStore(database.db),
  hub,
  kernels,
  measure: (spec, time) => measurePods(prometheus, config.idle.podTemplate, spec, time),
  mailer: null,
  addresses: {},
  log: silent,
  probeConcurrency: 32
});

async function timed(fn) {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { ms, peakMiB: (peak - heap0) / 2 ** 20, result };
}

const first = await timed(() => guard.round());
log(`first round (${SERVERS} new servers written): ${first.ms.toFixed(0)} ms`);
await new Promise(r => setTimeout(r, WINDOW * 1000 + 1000));
const judged = await timed(() => guard.round());
const between = await timed(() => guard.round());

// ---- baseline: the same figures asked one server at a time
const q = idleQueries(config.idle.podTemplate, config.idle.profiles.cpu);
const one = i => {
  const sel = `pod=${JSON.stringify(pod(i))}`;
  return [q.cpuCores, q.gpuPercent, q.memoryGrowthMiB].map(e => e.replace(/pod=~"[^"]*"/g, sel));
};
const baseline = await timed(async () => {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < SAMPLE) await prometheus.queryAll(one(next++));
    })
  );
});
const baselineMs = (baseline.ms * SERVERS) / SAMPLE;
const batchedMeasure = await timed(() =>
  measurePods(prometheus, config.idle.podTemplate, config.idle.profiles.cpu)
);

const r = judged.result;
console.log(
  `idle guard, one round over ${SERVERS} running servers (real Prometheus, SQLite, synthetic hub):`
);
console.log(
  `  judging round: ${judged.ms.toFixed(0)} ms, heap peak +${judged.peakMiB.toFixed(1)} MiB; judged ${r.judged}, warned ${r.warned}, stopped ${r.stopped}; ${kernelLooks} kernel looks`
);
console.log(
  `  first round (all state rows inserted): ${first.ms.toFixed(0)} ms; a round between windows: ${between.ms.toFixed(0)} ms`
);
console.log(
  `  utilisation of all servers, batched (4 queries): ${batchedMeasure.ms.toFixed(0)} ms, heap peak +${batchedMeasure.peakMiB.toFixed(1)} MiB`
);
console.log(
  `  baseline, 3 queries per server: ${baselineMs.toFixed(0)} ms (${SAMPLE} servers timed at ${(baseline.ms / SAMPLE).toFixed(2)} ms each, scaled to ${SERVERS})`
);
console.log(
  `  ratio: batched is ${(baselineMs / batchedMeasure.ms).toFixed(1)}× faster than per-server queries; the whole judging round is ${(baselineMs / judged.ms).toFixed(1)}× faster than the baseline's queries alone`
);
await database.close();
process.exit(0);
