/**
 * The idle guard's database: per-server state, decisions, the last round. Writes of a round are
 * one transaction; a state row is only overwritten if nobody changed it since the round read it
 * (a snooze from another replica wins and is judged next round).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { IdleDecisionsTable, IdleServersTable, IdleTables } from './migrations.js';

export type ServerRow = IdleServersTable;
export type DecisionRow = IdleDecisionsTable;
export type NewDecision = Omit<DecisionRow, 'id' | 'acknowledged_at'>;

export const keyOf = (user: string, server: string) => `${user}\u0000${server}`;

export interface IRoundWrite {
  /** Rows to write, each with the updated_at it was read with (null: a new row). */
  rows: { row: ServerRow; readAt: number | null }[];
  /** Servers no longer running. */
  gone: { user: string; server: string }[];
  decisions: NewDecision[];
  round: {
    at: number;
    durationMs: number;
    servers: number;
    prometheusError: string | null;
    hubError: string | null;
  };
}

export function createIdleStore(database: Kysely<object>) {
  const db = database.withTables<IdleTables>();

  return {
    async all(): Promise<Map<string, ServerRow>> {
      const rows = await db.selectFrom('idle_servers').selectAll().execute();
      return new Map(rows.map(r => [keyOf(r.user_name, r.server_name), r]));
    },

    async write({ rows, gone, decisions, round }: IRoundWrite): Promise<void> {
      await db.transaction().execute(async tx => {
        for (const { row, readAt } of rows) {
          if (readAt === null) {
            await tx
              .insertInto('idle_servers')
              .values(row)
              .onConflict(oc => oc.columns(['user_name', 'server_name']).doNothing())
              .execute();
          } else {
            const { user_name, server_name, ...rest } = row;
            await tx
              .updateTable('idle_servers')
              .set(rest)
              .where('user_name', '=', user_name)
              .where('server_name', '=', server_name)
              .where('updated_at', '=', readAt)
              .execute();
          }
        }
        for (const g of gone) {
          await tx
            .deleteFrom('idle_servers')
            .where('user_name', '=', g.user)
            .where('server_name', '=', g.server)
            .execute();
        }
        for (let i = 0; i < decisions.length; i += 500) {
          const chunk = decisions.slice(i, i + 500);
          await tx
            .insertInto('idle_decisions')
            .values(chunk.map(d => ({ ...d, id: randomUUID(), acknowledged_at: null })))
            .execute();
        }
        const r = {
          at: round.at,
          duration_ms: round.durationMs,
          servers: round.servers,
          prometheus_error: round.prometheusError,
          hub_error: round.hubError
        };
        await tx
          .insertInto('idle_rounds')
          .values({ key: 'last', ...r })
          .onConflict(oc => oc.column('key').doUpdateSet(r))
          .execute();
      });
    },

    async lastRound() {
      return db.selectFrom('idle_rounds').selectAll().where('key', '=', 'last').executeTakeFirst();
    },

    async serversOf(user: string): Promise<ServerRow[]> {
      return db.selectFrom('idle_servers').selectAll().where('user_name', '=', user).execute();
    },

    async server(user: string, server: string): Promise<ServerRow | undefined> {
      return db
        .selectFrom('idle_servers')
        .selectAll()
        .where('user_name', '=', user)
        .where('server_name', '=', server)
        .executeTakeFirst();
    },

    /** Apply a snooze if the row is still as read; false when it changed meanwhile. */
    async snooze(row: ServerRow, changes: Partial<ServerRow>, decision: NewDecision) {
      return db.transaction().execute(async tx => {
        const res = await tx
          .updateTable('idle_servers')
          .set(changes)
          .where('user_name', '=', row.user_name)
          .where('server_name', '=', row.server_name)
          .where('updated_at', '=', row.updated_at)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        await tx
          .insertInto('idle_decisions')
          .values({ ...decision, id: randomUUID(), acknowledged_at: null })
          .execute();
        return true;
      });
    },

    /** The newest stop of the user's servers not yet shown to them. */
    async unseenStop(user: string): Promise<DecisionRow | undefined> {
      return db
        .selectFrom('idle_decisions')
        .selectAll()
        .where('user_name', '=', user)
        .where('action', '=', 'stop')
        .where('acknowledged_at', 'is', null)
        .orderBy('at', 'desc')
        .limit(1)
        .executeTakeFirst();
    },

    /** Marks a stop as shown; false when it is not the user's (or does not exist). */
    async acknowledge(user: string, id: string, at: number): Promise<boolean> {
      const res = await db
        .updateTable('idle_decisions')
        .set({ acknowledged_at: at })
        .where('id', '=', id)
        .where('user_name', '=', user)
        .where('action', '=', 'stop')
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },

    async allServers(): Promise<ServerRow[]> {
      return db.selectFrom('idle_servers').selectAll().orderBy('user_name').execute();
    },

    async recentStops(since: number): Promise<DecisionRow[]> {
      return db
        .selectFrom('idle_decisions')
        .selectAll()
        .where('action', 'in', ['stop', 'dry_run_stop'])
        .where('at', '>=', since)
        .orderBy('at', 'desc')
        .limit(500)
        .execute();
    },

    async decisionsOf(user: string, server: string, limit = 50): Promise<DecisionRow[]> {
      return db
        .selectFrom('idle_decisions')
        .selectAll()
        .where('user_name', '=', user)
        .where('server_name', '=', server)
        .orderBy('at', 'desc')
        .limit(limit)
        .execute();
    }
  };
}

export type IdleStore = ReturnType<typeof createIdleStore>;
