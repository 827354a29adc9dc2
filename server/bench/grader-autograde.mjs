// Grader: autograding N submissions (default 100) with nbgrader's own `nbgrader autograde` over all
// of them (serial: the baseline) against our queue at concurrency 2 and 4, on the same course and
// the same submissions, in the same run; and the status table's read for a course of 500 students
// against a plain read of the same gradebook's student table (the least any status table needs).
// In-process over server/dist (run `npm run build -w server` first) with the course environment
// from dev/grader/venv.sh; no platform needed. GRADER_BENCH_SUBMISSIONS=20 for a quick run.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const { createDriver } = await import(new URL('features/grader/driver.js', dist));
const { createQueue } = await import(new URL('features/grader/queue.js', dist));
const { createLocalUnits } = await import(new URL('features/grader/units.js', dist));
const { migrations } = await import(new URL('features/grader/migrations.js', dist));
const { openDatabase } = await import(new URL('platform/database.js', dist));
const { validateConfig } = await import(new URL('platform/config.js', dist));

const N = Number(process.env.GRADER_BENCH_SUBMISSIONS ?? 100);
const pyver = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'])
  .toString()
  .trim();
const digest = createHash('sha256')
  .update(readFileSync(join(root, 'dev/grader/requirements.txt')))
  .digest('hex')
  .slice(0, 12);
const cache = process.env.HOTSTEPPER_CACHE || join(homedir(), '.cache', 'hotstepper');
const python =
  process.env.HOTSTEPPER_GRADER_PYTHON ||
  join(cache, `grader-venv-py${pyver}-${digest}`, 'bin', 'python');

const dir = mkdtempSync(join(tmpdir(), 'hs-grader-bench-'));
// Our units run as the product runs them locally: sandboxed, as a grading account of their own.
const ACCOUNT = 'hst-grader';
if (spawnSync('getent', ['passwd', ACCOUNT]).status !== 0) {
  execFileSync('useradd', [
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    ACCOUNT
  ]);
}
const stateDir = mkdtempSync(join(tmpdir(), 'hs-grader-bench-state-'));
const graderConfig = validateConfig({
  grader: {
    python,
    coursesRoot: dir,
    exchangeRoot: join(dir, 'exchange'),
    executor: 'local',
    local: { account: ACCOUNT },
    unitTimeoutSeconds: 600,
    unitMemoryMb: 4096
  }
}).grader;
const ref = {
  courseDir: join(dir, 'cs101'),
  course: 'cs101',
  exchange: join(dir, 'exchange'),
  cellTimeoutSeconds: 60,
  latePenalty: 'none'
};
const driver = createDriver(python);
const students = Array.from({ length: N }, (_, i) => `s${String(i).padStart(3, '0')}`);
const source = readFileSync(join(root, 'server/test/fixtures/grader/ps1/problem1.ipynb'), 'utf8');

try {
  await driver.call('ensure', ref);
  await driver.call('put_assignment', { ...ref, assignment: 'ps1', duedate: null });
  await driver.call('put_notebook', {
    ...ref,
    assignment: 'ps1',
    notebook: 'problem1',
    content: source
  });
  await driver.call('add_students', { ...ref, students: students.map(id => ({ id })) });
  await driver.call('generate', { ...ref, assignment: 'ps1' });
  // What collect leaves behind: submitted/<student>/ps1/, the released notebook with an answer.
  const released = JSON.parse(
    readFileSync(join(ref.courseDir, 'release/ps1/problem1.ipynb'), 'utf8')
  );
  students.forEach((s, i) => {
    const nb = structuredClone(released);
    for (const cell of nb.cells) {
      if (cell.metadata?.nbgrader?.grade_id === 'squares') {
        cell.source =
          i % 3
            ? 'def squares(n):\n    return [i * i for i in range(1, n + 1)]'
            : 'def squares(n):\n    return []';
      }
    }
    const to = join(ref.courseDir, 'submitted', s, 'ps1');
    mkdirSync(to, { recursive: true });
    writeFileSync(join(to, 'problem1.ipynb'), JSON.stringify(nb));
    writeFileSync(join(to, 'timestamp.txt'), '2026-11-25 06:00:00.000000 UTC');
  });

  const scores = () =>
    driver.call('submissions', { ...ref, assignment: 'ps1' }).then(rows =>
      rows
        .filter(r => r.autograded)
        .map(r => r.score)
        .join(',')
    );
  console.log(
    `\ngrader autograde: ${N} submissions of one notebook (${process.env.GRADER_BENCH_SUBMISSIONS ? 'GRADER_BENCH_SUBMISSIONS' : 'default'})`
  );

  // Baseline: nbgrader's own way, one process autograding everything in turn.
  const bin = join(dirname(python), 'nbgrader');
  let t = performance.now();
  const cli = spawnSync(bin, ['autograde', 'ps1', '--force'], {
    cwd: ref.courseDir,
    env: { PATH: `${dirname(python)}:/usr/bin:/bin`, HOME: process.env.HOME },
    encoding: 'utf8'
  });
  if (cli.status !== 0) throw new Error(`nbgrader autograde failed: ${cli.stderr.slice(-2000)}`);
  const serial = (performance.now() - t) / 1000;
  const expected = await scores();
  console.log(
    `  nbgrader autograde (serial)   ${serial.toFixed(1).padStart(7)} s   1.00x   ${(serial / N).toFixed(2)} s/submission`
  );

  for (const concurrency of [2, 4]) {
    const database = await openDatabase(
      { path: join(dir, `queue-${concurrency}.sqlite`) },
      migrations
    );
    const db = database.db.withTables();
    const queue = createQueue({
      db,
      executor: createLocalUnits({ driver, config: graderConfig, stateDir }),
      concurrency,
      courseRef: async () => ref
    });
    await queue.start();
    // Start from no autograded submissions, so the scores below are this run's own work.
    rmSync(join(ref.courseDir, 'autograded'), { recursive: true, force: true });
    t = performance.now();
    await queue.enqueue('cs101', 'ps1', students);
    await queue.drained();
    const took = (performance.now() - t) / 1000;
    const failed = await db
      .selectFrom('grader_units')
      .select(['student', 'error', 'log'])
      .where('state', '=', 'failed')
      .execute();
    const same = (await scores()) === expected;
    for (const f of failed)
      console.error(
        `  failed unit ${f.student}: ${String(f.error).slice(-300)}\n${String(f.log).slice(-3000)}`
      );
    console.log(
      `  queue, concurrency ${concurrency}          ${took.toFixed(1).padStart(7)} s   ${(serial / took).toFixed(2)}x   ` +
        `${failed.length} failed units, gradebook scores ${same ? 'identical to' : 'DIFFER from'} the serial run`
    );
    await queue.stop();
    await database.close();
  }

  // The status table of a 500-student course (the same gradebook, 500 on the roster).
  const more = Array.from({ length: 500 - Math.min(N, 500) }, (_, i) => ({
    id: `r${String(i).padStart(3, '0')}`
  }));
  if (more.length) await driver.call('add_students', { ...ref, students: more });
  const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const timed = async fn => {
    const xs = [];
    for (let i = 0; i < 7; i++) {
      const s = performance.now();
      await fn();
      xs.push(performance.now() - s);
    }
    return median(xs);
  };
  const roster = await timed(() => driver.call('students', ref));
  const table = await timed(() => driver.call('submissions', { ...ref, assignment: 'ps1' }));
  console.log(`\ngrader status table, 500 students (median of 7, ms)`);
  console.log(`  gradebook student list (baseline)   ${roster.toFixed(0).padStart(6)} ms   1.00x`);
  console.log(
    `  per-student status rows              ${table.toFixed(0).padStart(6)} ms   ${(table / roster).toFixed(2)}x`
  );
} finally {
  await driver.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
}
