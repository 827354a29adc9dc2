/**
 * The jobs table: one row per job, the source of truth of the list. The spec is a JSON document
 * (without secret env); what an executor needs to find its job again after a restart (pid and
 * start time, or the Kubernetes Job's name) is in `runtime`.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type JobsTable = {
  id: string;
  user_name: string;
  name: string;
  state: string;
  executor: string;
  spec: string;
  secret_env_names: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  message: string | null;
  output: string | null;
  unseen: number;
  runtime: string;
};

export type JobsTables = { jobs: JobsTable };

export const migrations: Record<string, Migration> = {
  '2026-11-25_jobs_table': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', c => c.primaryKey())
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('name', 'text', c => c.notNull())
        .addColumn('state', 'text', c => c.notNull())
        .addColumn('executor', 'text', c => c.notNull())
        .addColumn('spec', 'text', c => c.notNull())
        .addColumn('secret_env_names', 'text', c => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'text', c => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('message', 'text')
        .addColumn('output', 'text')
        .addColumn('unseen', 'integer', c => c.notNull().defaultTo(0))
        .addColumn('runtime', 'text', c => c.notNull().defaultTo('{}'))
        .execute();
      // The list: a user's jobs newest first (the cursor is created_at, id).
      await db.schema
        .createIndex('jobs_user_created')
        .on('jobs')
        .columns(['user_name', 'created_at', 'id'])
        .execute();
      // Start-up: the jobs still pending or running, to reattach.
      await db.schema.createIndex('jobs_state').on('jobs').columns(['state']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('jobs').execute();
    }
  }
};
