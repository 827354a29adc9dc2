/**
 * Welcome's tables: the execution journal (one row per cell run), one row per notebook a user has
 * opened (last visit, the cells' source hashes then, hidden), the last summary per notebook (the
 * cache) and the LLM tokens each user has spent.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type WelcomeExecutionRow = {
  user_name: string;
  path: string;
  cell_id: string;
  started_at: string;
  duration_ms: number;
  status: string;
  error_name: string | null;
  error_value: string | null;
  execution_count: number | null;
  received_at: string;
};

export type WelcomeNotebookRow = {
  user_name: string;
  path: string;
  last_opened_at: string | null;
  last_closed_at: string | null;
  /** JSON: cell id -> SHA-256 of its source at the last visit. */
  snapshot: string | null;
  hidden: number;
};

export type WelcomeSummaryRow = {
  user_name: string;
  path: string;
  /** SHA-256 of what was sent (redacted digest and model): same input, same summary. */
  input_hash: string;
  summary: string;
  model: string;
  created_at: string;
};

export type WelcomeUsageRow = {
  user_name: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  last_at: string;
};

export type WelcomeTables = {
  welcome_executions: WelcomeExecutionRow;
  welcome_notebooks: WelcomeNotebookRow;
  welcome_summaries: WelcomeSummaryRow;
  welcome_usage: WelcomeUsageRow;
};

export const migrations: Record<string, Migration> = {
  '2026-11-25_welcome_journal': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('welcome_executions')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('path', 'text', c => c.notNull())
        .addColumn('cell_id', 'text', c => c.notNull())
        .addColumn('started_at', 'text', c => c.notNull())
        .addColumn('duration_ms', 'integer', c => c.notNull())
        .addColumn('status', 'text', c => c.notNull())
        .addColumn('error_name', 'text')
        .addColumn('error_value', 'text')
        .addColumn('execution_count', 'integer')
        .addColumn('received_at', 'text', c => c.notNull())
        .execute();
      await db.schema
        .createIndex('welcome_executions_notebook')
        .on('welcome_executions')
        .columns(['user_name', 'path', 'started_at'])
        .execute();
      await db.schema
        .createTable('welcome_notebooks')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('path', 'text', c => c.notNull())
        .addColumn('last_opened_at', 'text')
        .addColumn('last_closed_at', 'text')
        .addColumn('snapshot', 'text')
        .addColumn('hidden', 'integer', c => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('welcome_notebooks_pk', ['user_name', 'path'])
        .execute();
      await db.schema
        .createTable('welcome_summaries')
        .addColumn('user_name', 'text', c => c.notNull())
        .addColumn('path', 'text', c => c.notNull())
        .addColumn('input_hash', 'text', c => c.notNull())
        .addColumn('summary', 'text', c => c.notNull())
        .addColumn('model', 'text', c => c.notNull())
        .addColumn('created_at', 'text', c => c.notNull())
        .addPrimaryKeyConstraint('welcome_summaries_pk', ['user_name', 'path'])
        .execute();
      await db.schema
        .createTable('welcome_usage')
        .addColumn('user_name', 'text', c => c.primaryKey())
        .addColumn('requests', 'integer', c => c.notNull())
        .addColumn('prompt_tokens', 'integer', c => c.notNull())
        .addColumn('completion_tokens', 'integer', c => c.notNull())
        .addColumn('last_at', 'text', c => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of [
        'welcome_usage',
        'welcome_summaries',
        'welcome_notebooks',
        'welcome_executions'
      ]) {
        await db.schema.dropTable(table).execute();
      }
    }
  }
};
