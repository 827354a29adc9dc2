/**
 * Flare's tables: one row per route, and the login tickets used (see flare_tickets below). The name is the primary key, so two users racing for one
 * name cannot both win (first come, first served) and a deleted route frees its name at once.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type FlareRouteRow = {
  name: string;
  owner: string;
  port: number;
  /** The FlareAccess document as JSON. */
  access: string;
  /** The share link's token in mode link: the owner may copy the link again at any time. */
  share_token: string | null;
  hits: number;
  last_access: string | null;
  created_at: string;
};

/** A login ticket that was used: kept until it expires, so no replica takes it twice. */
export type FlareTicketRow = {
  nonce: string;
  /** Unix seconds: after this the ticket is refused anyway, and the row may go. */
  expires_at: number;
};

export type FlareTables = { flare_routes: FlareRouteRow; flare_tickets: FlareTicketRow };

export const migrations: Record<string, Migration> = {
  '2026-11-25_flare_routes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('flare_routes')
        .addColumn('name', 'text', c => c.primaryKey())
        .addColumn('owner', 'text', c => c.notNull())
        .addColumn('port', 'integer', c => c.notNull())
        .addColumn('access', 'text', c => c.notNull())
        .addColumn('share_token', 'text')
        .addColumn('hits', 'integer', c => c.notNull().defaultTo(0))
        .addColumn('last_access', 'text')
        .addColumn('created_at', 'text', c => c.notNull())
        .execute();
      await db.schema
        .createIndex('flare_routes_owner')
        .on('flare_routes')
        .column('owner')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('flare_routes').execute();
    }
  },
  '2026-12-07_flare_tickets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('flare_tickets')
        .addColumn('nonce', 'text', c => c.primaryKey())
        .addColumn('expires_at', 'bigint', c => c.notNull())
        .execute();
      await db.schema
        .createIndex('flare_tickets_expires_at')
        .on('flare_tickets')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('flare_tickets').execute();
    }
  }
};
