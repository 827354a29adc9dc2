/**
 * A real PostgreSQL (Debian's server packages) in a temporary directory, on a free loopback port,
 * trust auth. initdb and pg_ctl refuse to run as root, so as root they run as `postgres`.
 * If it cannot start, the tests that need it fail: they never skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

export interface IPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  if (process.env.HOTSTEPPER_PG_BIN) return process.env.HOTSTEPPER_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map(v => join(base, v, 'bin')).find(d => existsSync(join(d, 'initdb')));
  if (!found) {
    throw new Error(
      `no PostgreSQL server binaries under ${base} (apt-get install postgresql, or set HOTSTEPPER_PG_BIN)`
    );
  }
  return found;
}

let counter = 0;

export async function startPostgres(): Promise<IPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'hs-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[], timeoutMs?: number) => {
    const [cmd, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args];
    try {
      return execFileSync(cmd, argv, {
        stdio: 'pipe',
        ...(timeoutMs ? { timeout: timeoutMs, killSignal: 'SIGKILL' as const } : {})
      }).toString();
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(
        `${tool} failed: ${e.stderr?.toString() || e.stdout?.toString() || e.message}`
      );
    }
  };
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`;
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    '-o',
    options,
    'start'
  ]);

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    async createDatabase() {
      const name = `hs_test_${process.pid}_${++counter}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      // The postmaster's pid, read before pg_ctl removes the file.
      const pidFile = join(data, 'postmaster.pid');
      const postmaster = existsSync(pidFile)
        ? Number(readFileSync(pidFile, 'utf8').split('\n')[0])
        : 0;
      try {
        // SIGQUIT (immediate), up to 10 s for it to exit...
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop'], 15_000);
      } catch {
        // ...then SIGKILL: its backends end themselves when the postmaster is gone.
        if (postmaster > 0) {
          try {
            process.kill(postmaster, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  };
}
