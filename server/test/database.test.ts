import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { collectMigrations } from '../src/platform/feature.js';
import { DatabaseError, openDatabase } from '../src/platform/database.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { freePort } from './helpers/ports.js';

const SERVER = fileURLToPath(new URL('..', import.meta.url));

async function startError(database: { path?: string; url?: string }): Promise<string> {
  try {
    const app = await buildApp(testConfig({ database }));
    await app.ready();
    await app.close();
  } catch (err) {
    assert.ok(err instanceof DatabaseError, String(err));
    return err.message;
  }
  assert.fail('the app started');
}

describe('database', () => {
  it('refuses to start when the SQLite directory does not exist, naming it', async () => {
    const path = join(scratchDir(), 'missing', 'h.sqlite');
    const message = await startError({ path });
    assert.match(message, /does not exist/);
    assert.ok(message.includes(join(path, '..')), message);
  });

  it('refuses to start when the SQLite file cannot be created, naming it', async () => {
    const notADirectory = join(scratchDir(), 'file');
    writeFileSync(notADirectory, '');
    const path = join(notADirectory, 'h.sqlite');
    const message = await startError({ path });
    assert.ok(
      message.startsWith(`database error: cannot write the SQLite database ${path}`),
      message
    );
    assert.match(message, /HOTSTEPPER_DATABASE_PATH/);
  });

  describe('started as a user who may not write there', () => {
    // Permissions only bind non-root users: as root, run the companion as nobody.
    const root = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), 'hs-perm-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const start = (path: string, script = 'src/main.ts') => {
      const [cmd, args] = root
        ? ['runuser', ['-u', 'nobody', '--', process.execPath]]
        : [process.execPath, []];
      const argv = script === 'src/main.ts' ? [] : [path];
      return spawnSync(cmd, [...args, '--import', 'tsx', script, ...argv], {
        cwd: SERVER,
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          ...process.env,
          HOTSTEPPER_DATABASE_PATH: path,
          HOTSTEPPER_PORT: '0',
          HOTSTEPPER_LOG_LEVEL: 'warn'
        }
      });
    };

    it('exits 1 with a message naming the path when the directory is read-only', () => {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(dir, 0o755);
      chmodSync(locked, 0o555);
      const path = join(locked, 'hotstepper.sqlite');
      const run = start(path);
      assert.equal(run.status, 1, run.stderr + run.stdout);
      assert.ok(run.stderr.includes(`cannot write the SQLite database ${path}`), run.stderr);
      assert.match(run.stderr, /SQLITE_CANTOPEN/);
    });

    it('fails with a message naming the path when the file is read-only', () => {
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(dir, 0o755);
      chmodSync(open, 0o777);
      const path = join(open, 'hotstepper.sqlite');
      writeFileSync(path, '');
      chmodSync(path, 0o444);
      // Only the database layer this time: main.ts's way out is covered above.
      const run = start(path, 'test/fixtures/open-database.ts');
      assert.equal(run.status, 1, run.stderr + run.stdout);
      assert.ok(run.stderr.includes(`cannot write the SQLite database ${path}`), run.stderr);
      assert.match(run.stderr, /SQLITE_READONLY/);
    });
  });

  it('names the PostgreSQL server it cannot reach, without the password', async () => {
    const port = await freePort();
    const url = `postgres://hs:very-secret@127.0.0.1:${port}/hotstepper`;
    await assert.rejects(openDatabase({ path: 'unused', url }, {}), (err: Error) => {
      assert.ok(err instanceof DatabaseError);
      assert.ok(
        err.message.includes(
          `cannot connect to PostgreSQL at postgres://hs:***@127.0.0.1:${port}/hotstepper (ECONNREFUSED)`
        ),
        err.message
      );
      assert.ok(!err.message.includes('very-secret'));
      return true;
    });
  });

  it('takes migrations only under dated names of their own feature', () => {
    const m = { up: async () => {} };
    const routes = async () => {};
    assert.deepEqual(
      Object.keys(
        collectMigrations([{ name: 'jobs', routes, migrations: { '2026-11-25_jobs_table': m } }])
      ),
      ['2026-11-25_jobs_table']
    );
    assert.throws(
      () =>
        collectMigrations([{ name: 'jobs', routes, migrations: { '2026-11-25_usage_table': m } }]),
      /must be named YYYY-MM-DD_jobs_<what>/
    );
    assert.throws(
      () => collectMigrations([{ name: 'jobs', routes, migrations: { jobs_table: m } }]),
      /must be named/
    );
  });
});
