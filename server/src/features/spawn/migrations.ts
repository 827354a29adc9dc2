/**
 * The spawn feature's table: each server's last options (kubespawner#917: named servers forget
 * theirs), one row per user and server, written when the hub's spawner checks a spawn that passes.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type SpawnLastTable = {
  user_name: string;
  /** '' for the default server. */
  server: string;
  request: string;
  started_at: string;
};

export type SpawnTables = { spawn_last: SpawnLastTable };

export const migrations: Record<string, Migration> = {
  '2026-12-07_spawn_last': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('spawn_last')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('server', 'text', c => c.notNull())
        .addColumn('request', 'text', c => c.notNull())
        .addColumn('started_at', 'text', c => c.notNull())
        .addPrimaryKeyConstraint('spawn_last_pk', ['user_name', 'server'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('spawn_last').execute();
    }
  }
};
