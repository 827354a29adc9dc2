/**
 * The idle guard's tables. idle_servers holds, per running server, where its judgement stands
 * (so a restart of the companion changes nothing); idle_decisions records every decision with
 * its evidence, and is what a user's "why was my server stopped" and the admin view read.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type IdleServersTable = {
  user_name: string;
  /** '' for the default server. */
  server_name: string;
  /** The hub's `started` of the server: another start is another server, judged afresh. */
  started: string;
  profile: string;
  /** Epoch ms: the current (unjudged) window began. */
  window_start: number;
  idle_windows: number;
  snoozes_used: number;
  /** Epoch ms; 0: not snoozed. */
  snoozed_until: number;
  /** Epoch ms of our last look at the server's kernels (its traffic is ours, not the user's). */
  probed_at: number;
  /** Epoch ms when the owner was last warned (0: not warned in this idle stretch). */
  warned_at: number;
  /** A warning mail waits for the end of the quiet hours. */
  mail_pending: number;
  stop_attempts: number;
  /** Epoch ms before which a refused stop is not retried. */
  retry_at: number;
  /** active | idle | snoozed | stopping | stop_failed | unknown */
  state: string;
  /** JSON of the last window's figures and reasons. */
  figures: string;
  updated_at: number;
};

export type IdleDecisionsTable = {
  id: string;
  user_name: string;
  server_name: string;
  at: number;
  /** used | idle | unknown | warn | stop | stop_failed | snooze | dry_run_stop */
  action: string;
  /** One sentence a person reads. */
  summary: string;
  /** JSON: figures, thresholds, window, profile. */
  evidence: string;
  /** Epoch ms the owner saw it (stop explanations are shown once). */
  acknowledged_at: number | null;
};

/** The leader's last round, for the admin view on any replica (one row, key 'last'). */
export type IdleRoundsTable = {
  key: string;
  at: number;
  duration_ms: number;
  servers: number;
  /** Why Prometheus gave no figures this round; null when it did. */
  prometheus_error: string | null;
  hub_error: string | null;
};

export type IdleTables = {
  idle_servers: IdleServersTable;
  idle_decisions: IdleDecisionsTable;
  idle_rounds: IdleRoundsTable;
};

export const migrations: Record<string, Migration> = {
  '2026-11-25_idle_state': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('idle_servers')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('server_name', 'text', c => c.notNull())
        .addColumn('started', 'text', c => c.notNull())
        .addColumn('profile', 'text', c => c.notNull())
        .addColumn('window_start', 'double precision', c => c.notNull())
        .addColumn('idle_windows', 'integer', c => c.notNull())
        .addColumn('snoozes_used', 'integer', c => c.notNull())
        .addColumn('snoozed_until', 'double precision', c => c.notNull())
        .addColumn('probed_at', 'double precision', c => c.notNull())
        .addColumn('warned_at', 'double precision', c => c.notNull())
        .addColumn('mail_pending', 'integer', c => c.notNull())
        .addColumn('stop_attempts', 'integer', c => c.notNull())
        .addColumn('retry_at', 'double precision', c => c.notNull())
        .addColumn('state', 'text', c => c.notNull())
        .addColumn('figures', 'text', c => c.notNull())
        .addColumn('updated_at', 'double precision', c => c.notNull())
        .addPrimaryKeyConstraint('idle_servers_pk', ['user_name', 'server_name'])
        .execute();
      await db.schema
        .createTable('idle_decisions')
        .addColumn('id', 'text', c => c.primaryKey())
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('server_name', 'text', c => c.notNull())
        .addColumn('at', 'double precision', c => c.notNull())
        .addColumn('action', 'text', c => c.notNull())
        .addColumn('summary', 'text', c => c.notNull())
        .addColumn('evidence', 'text', c => c.notNull())
        .addColumn('acknowledged_at', 'double precision')
        .execute();
      await db.schema
        .createIndex('idle_decisions_user')
        .on('idle_decisions')
        .columns(['user_name', 'action', 'at'])
        .execute();
      await db.schema
        .createTable('idle_rounds')
        .addColumn('key', 'text', c => c.primaryKey())
        .addColumn('at', 'double precision', c => c.notNull())
        .addColumn('duration_ms', 'double precision', c => c.notNull())
        .addColumn('servers', 'integer', c => c.notNull())
        .addColumn('prometheus_error', 'text')
        .addColumn('hub_error', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('idle_rounds').execute();
      await db.schema.dropTable('idle_decisions').execute();
      await db.schema.dropTable('idle_servers').execute();
    }
  }
};
