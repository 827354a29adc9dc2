// Usage meter throughput: one pass over BENCH_METER_PODS pods (default 50,000) of 5,000 users, fed
// from a synthetic index (no kwok: the meter reads the same records the watch would give it), into
// SQLite. The first pass writes every pod's watermark; the steady pass meters a minute of every pod.
// The baseline, in the same run, is the same work written the naive way: one transaction per pod.
// Run from the repo root after `npm run build -w server`: node server/bench/usage-meter.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { openDatabase } = await import(new URL('platform/database.js', dist));
const { migrations } = await import(new URL('features/usage/migrations.js', dist));
const { createMeter } = await import(new URL('features/usage/meter.js', dist));
const { RollupBatch, splitByDay, writePass } = await import(
  new URL('features/usage/rollups.js', dist)
);
const { reserved } = await import(new URL('features/usage/pods.js', dist));

const PODS = Number(process.env.BENCH_METER_PODS ?? 50_000);
const BASELINE_PODS = Math.min(PODS, Number(process.env.BENCH_METER_BASELINE_PODS ?? 2_000));
const GIB = 2 ** 30;
const log = (...a) =>
  console.error(`[usage-meter ${new Date().toISOString().slice(11, 19)}]`, ...a);

const start = Date.parse('2026-11-24T10:00:00Z');
const pods = Array.from({ length: PODS }, (_, i) => ({
  uid: `uid-${i}`,
  namespace: `hs-user${i % 5000}`,
  name: `pod-${i}`,
  kind: i % 3 ? 'job' : 'server',
  phase: 'Running',
  node: i % 4 === 0 ? `a100-${i % 16}` : `cpu-${i % 64}`,
  startedAt: start - (i % 3600) * 1000,
  endedAt: null,
  cpu: { request: 1 + (i % 4), limit: null },
  memory: { request: (2 + (i % 8)) * GIB, limit: null },
  gpus: i % 4 === 0 ? { 'nvidia.com/gpu': 1 } : i % 7 === 0 ? { 'nvidia.com/mig-1g.10gb': 1 } : {}
}));

const dir = mkdtempSync(join(tmpdir(), 'hs-bench-meter-'));
const database = await openDatabase({ path: join(dir, 'meter.sqlite') }, migrations);
try {
  let clock = start;
  const meter = createMeter({
    db: database.db,
    pods: () => pods.values(),
    userOf: ns => ns.slice(3),
    modelOf: node => (node.startsWith('a100') ? 'NVIDIA-A100-SXM4-80GB' : undefined),
    synced: () => true,
    now: () => clock
  });
  let t = performance.now();
  const first = await meter.pass();
  const firstMs = performance.now() - t;
  clock += 60_000;
  t = performance.now();
  const steady = await meter.pass();
  const steadyMs = performance.now() - t;
  log(
    `first pass ${first.intervals} intervals, ${first.rows} rows; steady ${steady.intervals} intervals, ${steady.rows} rows`
  );

  // Baseline: the steady minute of BASELINE_PODS pods, one transaction per pod.
  const from = clock;
  const to = clock + 60_000;
  t = performance.now();
  for (const pod of pods.slice(0, BASELINE_PODS)) {
    const batch = new RollupBatch();
    const amounts = reserved(
      pod,
      pod.node.startsWith('a100') ? 'NVIDIA-A100-SXM4-80GB' : undefined
    );
    for (const { day, hours } of splitByDay(from, to)) {
      for (const [key, amount] of Object.entries(amounts)) {
        batch.add(pod.namespace.slice(3), day, key, {
          requested: amount * hours,
          used: 0,
          unmeasured: amount * hours
        });
      }
    }
    await writePass(database.db, batch, [
      {
        uid: pod.uid,
        user: pod.namespace.slice(3),
        namespace: pod.namespace,
        pod: pod.name,
        until: to,
        done: false
      }
    ]);
  }
  const baselinePerPod = (performance.now() - t) / BASELINE_PODS;
  const rate = ms => Math.round(PODS / (ms / 1000));
  console.log(
    `usage-meter ${PODS} pods: first pass ${(firstMs / 1000).toFixed(2)} s (${rate(firstMs)} pods/s), ` +
      `steady pass ${(steadyMs / 1000).toFixed(2)} s (${rate(steadyMs)} pods/s) | ` +
      `baseline one transaction per pod ${Math.round(1000 / baselinePerPod)} pods/s ` +
      `(${((PODS * baselinePerPod) / 1000).toFixed(1)} s for all) | ratio steady ${((PODS * baselinePerPod) / steadyMs).toFixed(1)}x faster`
  );
} finally {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}
