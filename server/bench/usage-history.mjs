// Usage history at scale: GET /api/v1/usage/history's work (usage/service.ts history()) for one user,
// served from the daily rollups with 10,000 users × 400 days in the database, against computing the
// same figures from raw intervals (one row per pod interval, as a meter without rollups would keep),
// in the same run, on SQLite and on PostgreSQL (a throwaway server, as server/test/helpers/postgres.ts
// starts one). The raw table holds BENCH_RAW_USERS users (default 1,000) at 6 intervals per day:
// reading one user's rows through its index does not depend on how many other users there are.
// Run from the repo root after `npm run build -w server`: node --import tsx server/bench/usage-history.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';

const dist = new URL('../dist/', import.meta.url);
const { openDatabase } = await import(new URL('platform/database.js', dist));
const { migrations } = await import(new URL('features/usage/migrations.js', dist));
const { createUsageService, priced, window } = await import(
  new URL('features/usage/service.js', dist)
);
const { DEFAULT_RATE_CARD } = await import(new URL('features/usage/config.js', dist));
const { splitByDay } = await import(new URL('features/usage/rollups.js', dist));

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 400);
const RAW_USERS = Number(process.env.BENCH_RAW_USERS ?? 1_000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const log = (...a) =>
  console.error(`[usage-history ${new Date().toISOString().slice(11, 19)}]`, ...a);
const DAY = 86_400_000;

/** Fill both tables with SQL alone (no round trip per row). */
async function fill(db, dialect) {
  const today = Math.floor(Date.now() / DAY) * DAY;
  // Indexes built once after the load, not row by row during it (the migration's, same definition).
  await sql`DROP INDEX usage_rollups_day`.execute(db);
  if (dialect === 'sqlite') {
    await sql`WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < ${USERS - 1}),
      d(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM d WHERE j < ${DAYS - 1}),
      r(resource, amount) AS (VALUES ('cpu', 2.0), ('memory', 8.0), ('gpu:NVIDIA-A100-SXM4-80GB', 1.0))
      INSERT INTO usage_rollups (user_name, day, resource, requested, used, unmeasured)
      SELECT 'user' || i, date(${today / 1000} - j * 86400, 'unixepoch'), resource,
        amount * (1 + (i * 7 + j * 13) % 10), amount * 0.4 * (1 + (i * 7 + j * 13) % 10), 0
      FROM u, d, r WHERE resource != 'gpu:NVIDIA-A100-SXM4-80GB' OR i % 10 = 0
      ORDER BY 1, 2, 3`.execute(db);
  } else {
    await sql`INSERT INTO usage_rollups (user_name, day, resource, requested, used, unmeasured)
      SELECT 'user' || i::text, to_char(to_timestamp(${today / 1000}::double precision - j * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
        r.resource, r.amount * (1 + (i * 7 + j * 13) % 10), r.amount * 0.4 * (1 + (i * 7 + j * 13) % 10), 0
      FROM generate_series(0, ${USERS - 1}::int) i, generate_series(0, ${DAYS - 1}::int) j,
        (VALUES ('cpu', 2.0), ('memory', 8.0), ('gpu:NVIDIA-A100-SXM4-80GB', 1.0)) r(resource, amount)
      WHERE r.resource != 'gpu:NVIDIA-A100-SXM4-80GB' OR i % 10 = 0`.execute(db);
  }
  await sql`CREATE INDEX usage_rollups_day ON usage_rollups (day, user_name)`.execute(db);
  await sql`CREATE TABLE bench_intervals (user_name text NOT NULL, start_ms bigint NOT NULL,
    end_ms bigint NOT NULL, cpu double precision NOT NULL, memory_gib double precision NOT NULL,
    gpu double precision NOT NULL)`.execute(db);
  // Six 4-hour intervals per day, the requests changing from one to the next.
  const rows =
    dialect === 'sqlite'
      ? sql`WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < ${RAW_USERS - 1}),
          k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < ${DAYS * 6 - 1})
          INSERT INTO bench_intervals SELECT 'user' || i, ${today} - (n + 1) * 14400000 + 86400000,
            ${today} - n * 14400000 + 86400000, 1 + (i + n) % 4, 4 + (i + n) % 8, CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END
          FROM u, k ORDER BY 1, 2`
      : sql`INSERT INTO bench_intervals SELECT 'user' || i, ${today}::bigint - (n + 1) * 14400000::bigint + 86400000,
            ${today}::bigint - n * 14400000::bigint + 86400000, 1 + (i + n) % 4, 4 + (i + n) % 8, CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END
          FROM generate_series(0, ${RAW_USERS - 1}::int) i, generate_series(0, ${DAYS * 6 - 1}::int) n`;
  await rows.execute(db);
  await sql`CREATE INDEX bench_intervals_user ON bench_intervals (user_name, end_ms)`.execute(db);
  if (dialect === 'postgres') await sql`ANALYZE`.execute(db);
}

/** The baseline: the same history from raw intervals, split into days and priced per request. */
async function fromIntervals(db, user, days) {
  const now = Date.now();
  const { from, to } = window(days, now);
  const start = Date.parse(`${from}T00:00:00Z`);
  const rows = await sql`SELECT start_ms, end_ms, cpu, memory_gib, gpu FROM bench_intervals
    WHERE user_name = ${user} AND end_ms > ${start} AND start_ms < ${now}`.execute(db);
  const sums = new Map();
  for (const r of rows.rows) {
    for (const { day, hours } of splitByDay(
      Math.max(Number(r.start_ms), start),
      Math.min(Number(r.end_ms), now)
    )) {
      for (const [resource, amount] of [
        ['cpu', r.cpu],
        ['memory', r.memory_gib],
        ['gpu:NVIDIA-A100-SXM4-80GB', r.gpu]
      ]) {
        if (!amount) continue;
        const key = `${day} ${resource}`;
        const s = sums.get(key) ?? { requested: 0, used: 0, unmeasured: 0 };
        s.requested += amount * hours;
        sums.set(key, s);
      }
    }
  }
  return [...sums]
    .map(([key, s]) => priced(DEFAULT_RATE_CARD, ...key.split(' '), s))
    .filter(r => r.day <= to);
}

const pct = (xs, p) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function time(fn) {
  const out = [];
  for (let i = 0; i < SAMPLES; i++) {
    const user = `user${(i * 7919) % RAW_USERS}`;
    const t = performance.now();
    await fn(user);
    out.push(performance.now() - t);
  }
  return out;
}

async function run(dialect, url) {
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-usage-'));
  const database = await openDatabase({ path: join(dir, 'bench.sqlite'), url }, migrations);
  try {
    let t = performance.now();
    await fill(database.db, dialect);
    log(`${dialect}: filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const service = createUsageService({ db: database.db, rateCard: DEFAULT_RATE_CARD });
    // The two answers must agree before their speed is worth comparing (same requested hours).
    const check = await service.history('user0', 90);
    if (!check.rows.length) throw new Error('no rollups for user0');
    await time(u => service.history(u, 90)); // warm-up
    const rollup90 = await time(u => service.history(u, 90));
    const rollup400 = await time(u => service.history(u, 400));
    const raw90 = await time(u => fromIntervals(database.db, u, 90));
    const raw400 = await time(u => fromIntervals(database.db, u, 400));
    return { dialect, rollup90, rollup400, raw90, raw400 };
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(r) {
  const f = x => x.toFixed(2).padStart(7);
  for (const days of [90, 400]) {
    const a = r[`rollup${days}`];
    const b = r[`raw${days}`];
    console.log(
      `usage-history ${r.dialect.padEnd(8)} ${String(days).padStart(3)} days: rollups p50 ${f(pct(a, 50))} ms p99 ${f(pct(a, 99))} ms | ` +
        `raw intervals p50 ${f(pct(b, 50))} ms p99 ${f(pct(b, 99))} ms | ratio p50 ${(pct(b, 50) / pct(a, 50)).toFixed(1)}x p99 ${(pct(b, 99) / pct(a, 99)).toFixed(1)}x faster`
    );
  }
}

log(
  `${USERS} users × ${DAYS} days of rollups; raw intervals for ${RAW_USERS} users; ${SAMPLES} requests each`
);
report(await run('sqlite'));
const { startPostgres } = await import('../test/helpers/postgres.ts');
const pg = await startPostgres();
try {
  report(await run('postgres', await pg.createDatabase()));
} finally {
  await pg.stop();
}
