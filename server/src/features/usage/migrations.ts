/**
 * The tables of the `usage` feature. usage_rollups holds hours per user, UTC day and resource,
 * requested and used; usage_pods holds, per pod, how far it has been metered (the watermark).
 * Both are written in one transaction per meter pass, so a crash or a restart neither counts an
 * hour twice nor leaves one out: the next pass starts at the watermark.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type UsageRollupsTable = {
  user_name: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** cpu, memory, gpu:<model> or mig:<profile>. */
  resource: string;
  /** Units × hours: core-hours, GiB-hours, GPU-hours, MIG-hours. */
  requested: number;
  used: number;
  /** Requested hours with no figure from Prometheus. */
  unmeasured: number;
};

export type UsagePodsTable = {
  uid: string;
  user_name: string;
  namespace: string;
  pod: string;
  /** Epoch milliseconds up to which this pod is in the rollups. */
  metered_until: number;
  /** 1 once the pod has ended and its last interval is written. */
  done: number;
};

export type UsageTables = {
  usage_rollups: UsageRollupsTable;
  usage_pods: UsagePodsTable;
};

export const migrations: Record<string, Migration> = {
  '2026-11-25_usage_rollups': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('usage_rollups')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('day', 'text', c => c.notNull())
        .addColumn('resource', 'text', c => c.notNull())
        .addColumn('requested', 'double precision', c => c.notNull())
        .addColumn('used', 'double precision', c => c.notNull())
        .addColumn('unmeasured', 'double precision', c => c.notNull())
        .addPrimaryKeyConstraint('usage_rollups_pk', ['user_name', 'day', 'resource'])
        .execute();
      // The operators' table sums every user over a range of days.
      await db.schema
        .createIndex('usage_rollups_day')
        .on('usage_rollups')
        .columns(['day', 'user_name'])
        .execute();
      await db.schema
        .createTable('usage_pods')
        .addColumn('uid', 'text', c => c.primaryKey())
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('namespace', 'text', c => c.notNull())
        .addColumn('pod', 'text', c => c.notNull())
        .addColumn('metered_until', 'bigint', c => c.notNull())
        .addColumn('done', 'integer', c => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('usage_pods').execute();
      await db.schema.dropTable('usage_rollups').execute();
    }
  }
};
