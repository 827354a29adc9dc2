// Welcome back: digest time for 50, 500 and 5,000-cell notebooks against a plain JSON.parse of the
// same notebook (the baseline: the least any digest must do), and journal ingest throughput with
// 1,000 users against raw prepared INSERTs of the same rows into the same SQLite (the baseline).
// In-process over server/dist (run `npm run build -w server` first); no platform needed.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { computeDigest, countTokens } = await import(new URL('features/welcome/digest.js', dist));
const { createJournal } = await import(new URL('features/welcome/journal.js', dist));
const { migrations } = await import(new URL('features/welcome/migrations.js', dist));
const { openDatabase } = await import(new URL('platform/database.js', dist));
const SQLite = createRequire(import.meta.url)('better-sqlite3');

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = fn => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

function notebook(n) {
  const cells = Array.from({ length: n }, (_, i) =>
    i % 8 === 0
      ? {
          id: `m${i}`,
          cell_type: 'markdown',
          metadata: {},
          source: [`# Part ${i}\n`, 'Some notes.']
        }
      : {
          id: `c${i}`,
          cell_type: 'code',
          metadata: {},
          execution_count: i % 5 === 0 ? null : i,
          source: `import numpy as np\nx_${i} = np.arange(${i})\n`.repeat(6),
          outputs:
            i === Math.floor(n * 0.8) + 1
              ? [
                  {
                    output_type: 'error',
                    ename: 'ValueError',
                    evalue: 'bad shape',
                    traceback: [
                      '---',
                      'Cell In[3], line 2\n----> 2 x.reshape(3)',
                      'ValueError: bad shape'
                    ]
                  }
                ]
              : [{ output_type: 'stream', name: 'stdout', text: `${i}\n`.repeat(20) }]
        }
  );
  return JSON.stringify({ cells, metadata: {}, nbformat: 4, nbformat_minor: 5 });
}

function runsFor(cells) {
  const now = Date.now();
  return cells
    .filter(c => c.cell_type === 'code')
    .slice(-200)
    .map((c, i) => ({
      user_name: 'u',
      path: 'n.ipynb',
      cell_id: c.id,
      started_at: new Date(now - i * 60_000).toISOString(),
      duration_ms: 50,
      status: 'ok',
      error_name: null,
      error_value: null,
      execution_count: 1,
      received_at: ''
    }));
}

countTokens('warm the tokenizer up');
console.log('\nwelcome digest (median of 15, ms)');
const rows = [];
for (const n of [50, 500, 5000]) {
  const text = notebook(n);
  const { cells } = JSON.parse(text);
  const executions = runsFor(cells);
  const snapshot = new Map(cells.slice(0, Math.floor(n / 2)).map(c => [c.id, 'x']));
  const base = [];
  const digest = [];
  let tokens = 0;
  for (let r = 0; r < 15; r++) {
    base.push(time(() => JSON.parse(text)));
    digest.push(
      time(() => {
        const parsed = JSON.parse(text);
        const d = computeDigest({
          path: 'n.ipynb',
          cells: parsed.cells,
          executions,
          now: Date.now(),
          tokenBudget: 3000,
          visit: { lastVisitAt: new Date(Date.now() - 7 * 86_400_000).toISOString(), snapshot }
        });
        tokens = d.budget.tokens;
      })
    );
  }
  rows.push({
    cells: n,
    'notebook kB': Math.round(text.length / 1024),
    'JSON.parse (baseline)': +median(base).toFixed(2),
    'parse + digest': +median(digest).toFixed(2),
    ratio: `${(median(digest) / median(base)).toFixed(1)}x`,
    'digest tokens': tokens
  });
}
console.table(rows);

// Journal ingest: 1,000 users, each sending BATCHES batches of 100 executions.
const USERS = 1000;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'hs-welcome-bench-'));
try {
  const db = await openDatabase({ path: join(dir, 'j.sqlite') }, migrations);
  const journal = createJournal(db.db);
  const batch = () =>
    Array.from({ length: 100 }, (_, i) => ({
      path: `nb${i % 7}.ipynb`,
      cellId: `c${i}`,
      startedAt: new Date(Date.now() - i * 1000).toISOString(),
      durationMs: 12,
      status: i % 13 ? 'ok' : 'error',
      errorName: i % 13 ? undefined : 'KeyError',
      executionCount: i
    }));
  const events = USERS * BATCHES * 100;
  let t = performance.now();
  // Ten users at a time, as concurrent requests would arrive.
  for (let b = 0; b < BATCHES; b++) {
    for (let u = 0; u < USERS; u += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) => journal.record(`user${u + k}`, batch()))
      );
    }
  }
  const ours = events / ((performance.now() - t) / 1000);
  await db.close();

  const raw = new SQLite(join(dir, 'j.sqlite'));
  raw.pragma('journal_mode = WAL');
  const insert = raw.prepare(
    'INSERT INTO welcome_executions (user_name, path, cell_id, started_at, duration_ms, status, error_name, error_value, execution_count, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
  );
  const many = raw.transaction((user, rows) => {
    for (const e of rows)
      insert.run(
        user,
        e.path,
        e.cellId,
        e.startedAt,
        e.durationMs,
        e.status,
        e.errorName ?? null,
        null,
        e.executionCount,
        ''
      );
  });
  t = performance.now();
  for (let b = 0; b < BATCHES; b++) for (let u = 0; u < USERS; u++) many(`user${u}`, batch());
  const baseline = events / ((performance.now() - t) / 1000);
  raw.close();
  console.log(
    `\nwelcome journal ingest, ${USERS} users x ${BATCHES} batches of 100 (${events} events, SQLite)`
  );
  console.table([
    {
      what: 'raw prepared INSERTs, one transaction per batch (baseline)',
      'events/s': Math.round(baseline)
    },
    { what: 'journal.record (Kysely, one transaction per batch)', 'events/s': Math.round(ours) }
  ]);
  console.log(`ratio journal vs raw: ${(ours / baseline).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
