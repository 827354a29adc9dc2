/**
 * The tables of the `me` feature. Preferences are one JSON document per user rather than a column
 * per choice: a new preference needs no migration, its default applies until the user picks.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type PreferencesTable = {
  user_name: string;
  document: string;
  updated_at: string;
};

export type MeTables = {
  preferences: PreferencesTable;
};

export const migrations: Record<string, Migration> = {
  '2026-11-25_me_preferences': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('preferences')
        .addColumn('user_name', 'text', c => c.primaryKey())
        .addColumn('document', 'text', c => c.notNull())
        .addColumn('updated_at', 'text', c => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('preferences').execute();
    }
  }
};
