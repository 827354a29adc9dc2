/**
 * The companion's own records: SQLite by default (nothing to install), PostgreSQL when a URL is
 * given. One Kysely query layer for both, and versioned migrations that the features contribute
 * (see feature.ts) and that run at start.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration } from 'kysely';
import pg from 'pg';
import type { IConfig } from './config.js';
import { describeFailure, type IProbe } from './probes.js';

export type Dialect = 'sqlite' | 'postgres';

/** The database cannot be used; main.ts prints the message and exits. */
export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseError';
  }
}

export interface IDatabase {
  /** Untyped at this level: each feature adds its own tables with `db.withTables<...>()`. */
  db: Kysely<object>;
  dialect: Dialect;
  migrations(): Promise<{ applied: string[]; pending: string[] }>;
  probe: IProbe;
  close(): Promise<void>;
}

/** Open the database, make sure we can write to it, and apply every pending migration. */
export async function openDatabase(
  config: IConfig['database'],
  migrations: Record<string, Migration>,
  log?: FastifyBaseLogger
): Promise<IDatabase> {
  const dialect: Dialect = config.url ? 'postgres' : 'sqlite';
  const location = config.url ? maskPassword(config.url) : config.path;
  const db = config.url ? await openPostgres(config.url, location, log) : openSqlite(config.path);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'hotstepper_migrations',
    migrationLockTableName: 'hotstepper_migrations_lock',
    // Features land in parallel, so a migration dated earlier can arrive after a later one ran.
    // Each feature migrates only its own tables, which makes the order across features free.
    allowUnorderedMigrations: true
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find(r => r.status === 'Error')?.migrationName;
    if (dialect === 'sqlite' && isSqliteAccessError(error)) throw sqliteError(config.path, error);
    throw new DatabaseError(
      `database error: migration ${failed ?? '(setup)'} failed on ${location}: ${describeFailure(error)}`
    );
  }
  for (const r of results ?? [])
    log?.info({ migration: r.migrationName }, 'database migration applied');

  // Every user sees this in /me: no credentials, not even the user name.
  const label = config.url
    ? `PostgreSQL at ${withoutCredentials(config.url)}`
    : `SQLite at ${location}`;
  const state = async () => {
    const all = await migrator.getMigrations();
    return {
      applied: all.filter(m => m.executedAt).map(m => m.name),
      pending: all.filter(m => !m.executedAt).map(m => m.name)
    };
  };
  return {
    db,
    dialect,
    migrations: state,
    probe: {
      name: 'database',
      async check() {
        try {
          await sql`select 1`.execute(db);
        } catch (err) {
          throw new Error(`${label} did not answer: ${describeFailure(err)}`);
        }
        const { applied, pending } = await state();
        if (pending.length) {
          throw new Error(`${label} answers, but migrations are pending: ${pending.join(', ')}`);
        }
        return `${label} answers; ${applied.length} migration${applied.length === 1 ? '' : 's'} applied`;
      }
    },
    close: () => db.destroy()
  };
}

function openSqlite(path: string): Kysely<object> {
  if (!existsSync(dirname(path))) {
    throw new DatabaseError(
      `database error: the directory of the SQLite database ${path} does not exist. Create ` +
        `${dirname(path)}, or set database.path (HOTSTEPPER_DATABASE_PATH) to a file in a ` +
        'writable directory, or use PostgreSQL with DATABASE_URL.'
    );
  }
  try {
    const sqlite = new SQLite(path);
    // WAL: readers do not wait for the writer; switching to it also proves we can write.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    return new Kysely<object>({ dialect: new SqliteDialect({ database: sqlite }) });
  } catch (err) {
    throw sqliteError(path, err);
  }
}

const isSqliteAccessError = (err: unknown) =>
  /^(SQLITE_(CANTOPEN|READONLY|PERM|AUTH|IOERR)|EACCES|EROFS|EPERM)/.test(
    String((err as { code?: string }).code ?? '')
  );

function sqliteError(path: string, err: unknown): DatabaseError {
  const uid = process.getuid?.();
  return new DatabaseError(
    `database error: cannot write the SQLite database ${path} (${describeFailure(err)}: ` +
      `${(err as Error).message}). The companion writes this file and its -wal and -shm files ` +
      `next to it, so ${dirname(path)} and the file must be writable by the user it runs as` +
      `${uid === undefined ? '' : ` (uid ${uid})`}. Fix the permissions, or set database.path ` +
      '(HOTSTEPPER_DATABASE_PATH) to a writable place, or use PostgreSQL with DATABASE_URL.'
  );
}

async function openPostgres(url: string, location: string, log?: FastifyBaseLogger) {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', err => log?.warn({ err: describeFailure(err) }, 'PostgreSQL connection lost'));
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy();
    throw new DatabaseError(
      `database error: cannot connect to PostgreSQL at ${location} (${describeFailure(err)}). ` +
        'Check database.url (DATABASE_URL) and that the server accepts connections from here.'
    );
  }
  return db;
}

/** postgres://user:secret@host/db -> postgres://user:***@host/db */
export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable database URL)';
  }
}

/** postgres://user:secret@host/db -> postgres://host/db */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(an unparsable database URL)';
  }
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    database: IDatabase;
  }
}

export const databasePlugin = fp<{ migrations: Record<string, Migration> }>(
  async (app, { migrations }) => {
    const database = await openDatabase(app.config.database, migrations, app.log);
    app.decorate('database', database);
    app.addHook('onClose', async () => database.close());
  },
  { name: 'database', dependencies: ['config'] }
);
