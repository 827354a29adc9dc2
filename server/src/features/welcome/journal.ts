/**
 * The journal's storage: cell runs, visits, the per-notebook row. Everything is keyed by the
 * caller's hub name, so one user's journal is invisible to another: another user's notebook
 * reads exactly like one I never opened.
 */
import type { WelcomeExecution, WelcomeNotebook, WelcomeVisit } from '@hotstepper/schema';
import type { Kysely } from 'kysely';
import type { WelcomeExecutionRow, WelcomeNotebookRow, WelcomeTables } from './migrations.js';

const DAY_MS = 86_400_000;
// Rows per INSERT: 10 columns each stays far below SQLite's and PostgreSQL's parameter limits.
const CHUNK = 200;
/** The digest looks at no more runs than this (newest first). */
export const JOURNAL_WINDOW = 2000;

export interface IVisitState {
  lastVisitAt: string | null;
  snapshot: Map<string, string> | null;
}

export function createJournal(db: Kysely<object>) {
  const tables = db.withTables<WelcomeTables>();

  const notebookRow = (user: string, path: string) =>
    tables
      .selectFrom('welcome_notebooks')
      .selectAll()
      .where('user_name', '=', user)
      .where('path', '=', path)
      .executeTakeFirst();

  async function runStats(user: string, path: string) {
    const row = await tables
      .selectFrom('welcome_executions')
      .select(eb => [eb.fn.countAll<number>().as('runs'), eb.fn.max('started_at').as('last')])
      .where('user_name', '=', user)
      .where('path', '=', path)
      .executeTakeFirst();
    return { runs: Number(row?.runs ?? 0), last: (row?.last as string | null) ?? null };
  }

  /**
   * A notebook I never opened nor ran is a normal state, not an error: nulls, no runs, not hidden
   * (nothing to recap). It is also what another user's notebook looks like, so nothing leaks.
   */
  async function describe(user: string, path: string, now = Date.now()): Promise<WelcomeNotebook> {
    const [row, stats] = await Promise.all([notebookRow(user, path), runStats(user, path)]);
    const lastVisitAt = row ? latest(row.last_opened_at, row.last_closed_at) : null;
    const worked = latest(lastVisitAt, stats.last);
    return {
      path,
      lastVisitAt,
      lastExecutionAt: stats.last,
      daysAway: worked ? Math.max(0, round1((now - Date.parse(worked)) / DAY_MS)) : null,
      executions: stats.runs,
      hidden: Boolean(row?.hidden)
    };
  }

  return {
    describe,

    /**
     * Retention: runs and cached summaries from before `days` ago go, and notebook rows (visits,
     * snapshot) last visited before then unless they keep the user's "hidden" choice. One user's
     * rows when `user` is given (on their write), everyone's otherwise (the periodic sweep).
     */
    async sweep(days: number, user?: string, now = Date.now()): Promise<number> {
      const cutoff = new Date(now - days * DAY_MS).toISOString();
      let runs = tables.deleteFrom('welcome_executions').where('started_at', '<', cutoff);
      let summaries = tables.deleteFrom('welcome_summaries').where('created_at', '<', cutoff);
      let notebooks = tables
        .deleteFrom('welcome_notebooks')
        .where('hidden', '=', 0)
        .where(eb =>
          eb.and([
            eb.or([eb('last_opened_at', 'is', null), eb('last_opened_at', '<', cutoff)]),
            eb.or([eb('last_closed_at', 'is', null), eb('last_closed_at', '<', cutoff)])
          ])
        );
      if (user !== undefined) {
        runs = runs.where('user_name', '=', user);
        summaries = summaries.where('user_name', '=', user);
        notebooks = notebooks.where('user_name', '=', user);
      }
      const results = await Promise.all([
        runs.executeTakeFirst(),
        summaries.executeTakeFirst(),
        notebooks.executeTakeFirst()
      ]);
      return results.reduce((n, r) => n + Number(r.numDeletedRows), 0);
    },

    /** All of the batch in one transaction, or none of it. */
    async record(user: string, events: WelcomeExecution[]): Promise<number> {
      const receivedAt = new Date().toISOString();
      const rows: WelcomeExecutionRow[] = events.map(e => ({
        user_name: user,
        path: e.path,
        cell_id: e.cellId,
        started_at: new Date(e.startedAt).toISOString(),
        duration_ms: Math.round(e.durationMs),
        status: e.status,
        error_name: e.errorName ?? null,
        error_value: e.errorValue ?? null,
        execution_count: e.executionCount ?? null,
        received_at: receivedAt
      }));
      await tables.transaction().execute(async trx => {
        for (let i = 0; i < rows.length; i += CHUNK) {
          await trx
            .insertInto('welcome_executions')
            .values(rows.slice(i, i + CHUNK))
            .execute();
        }
      });
      return rows.length;
    },

    /** The newest runs of one notebook, newest first. */
    async executions(user: string, path: string, limit = JOURNAL_WINDOW) {
      return tables
        .selectFrom('welcome_executions')
        .selectAll()
        .where('user_name', '=', user)
        .where('path', '=', path)
        .orderBy('started_at', 'desc')
        .limit(limit)
        .execute();
    },

    async visitState(user: string, path: string): Promise<IVisitState> {
      const row = await notebookRow(user, path);
      return {
        lastVisitAt: row ? latest(row.last_opened_at, row.last_closed_at) : null,
        snapshot: row?.snapshot
          ? new Map(Object.entries(JSON.parse(row.snapshot) as Record<string, string>))
          : null
      };
    },

    async visit(user: string, visit: WelcomeVisit): Promise<WelcomeNotebook> {
      const at = new Date().toISOString();
      const snapshot = JSON.stringify(
        Object.fromEntries(visit.cells.map(c => [c.id, c.sourceHash]))
      );
      const column = visit.event === 'opened' ? 'last_opened_at' : 'last_closed_at';
      const row: WelcomeNotebookRow = {
        user_name: user,
        path: visit.path,
        last_opened_at: null,
        last_closed_at: null,
        snapshot,
        hidden: 0
      };
      row[column] = at;
      await tables
        .insertInto('welcome_notebooks')
        .values(row)
        .onConflict(c => c.columns(['user_name', 'path']).doUpdateSet({ [column]: at, snapshot }))
        .execute();
      return describe(user, visit.path);
    },

    /**
     * A notebook of `user`'s was renamed or moved: their runs, visit record and cached summary
     * under `from` go to `to`, in one transaction. Where `to` has rows already (a visit recorded
     * under the new name before the move arrived), they merge: runs are appended, the newer
     * visit times and snapshot win, a "hidden" choice on either is kept, the newer summary wins.
     * Another user's rows under either path are never read nor written. Nothing under `from` is
     * not an error: the count of rows moved is 0.
     */
    async move(user: string, from: string, to: string): Promise<number> {
      return tables.transaction().execute(async trx => {
        const runs = await trx
          .updateTable('welcome_executions')
          .set({ path: to })
          .where('user_name', '=', user)
          .where('path', '=', from)
          .executeTakeFirst();
        let moved = Number(runs.numUpdatedRows);

        const notebook = (path: string) =>
          trx
            .selectFrom('welcome_notebooks')
            .selectAll()
            .where('user_name', '=', user)
            .where('path', '=', path)
            .executeTakeFirst();
        const [old, there] = [await notebook(from), await notebook(to)];
        if (old) {
          await trx
            .deleteFrom('welcome_notebooks')
            .where('user_name', '=', user)
            .where('path', '=', from)
            .execute();
          if (there) {
            const newer =
              (latest(old.last_opened_at, old.last_closed_at) ?? '') >
              (latest(there.last_opened_at, there.last_closed_at) ?? '')
                ? old
                : there;
            await trx
              .updateTable('welcome_notebooks')
              .set({
                last_opened_at: latest(old.last_opened_at, there.last_opened_at),
                last_closed_at: latest(old.last_closed_at, there.last_closed_at),
                snapshot: newer.snapshot ?? old.snapshot ?? there.snapshot,
                hidden: old.hidden || there.hidden ? 1 : 0
              })
              .where('user_name', '=', user)
              .where('path', '=', to)
              .execute();
          } else {
            await trx
              .insertInto('welcome_notebooks')
              .values({ ...old, path: to })
              .execute();
          }
          moved += 1;
        }

        const summary = (path: string) =>
          trx
            .selectFrom('welcome_summaries')
            .selectAll()
            .where('user_name', '=', user)
            .where('path', '=', path)
            .executeTakeFirst();
        const [cached, cachedThere] = [await summary(from), await summary(to)];
        if (cached) {
          await trx
            .deleteFrom('welcome_summaries')
            .where('user_name', '=', user)
            .where('path', '=', from)
            .execute();
          if (!cachedThere || Date.parse(cached.created_at) > Date.parse(cachedThere.created_at)) {
            await trx
              .deleteFrom('welcome_summaries')
              .where('user_name', '=', user)
              .where('path', '=', to)
              .execute();
            await trx
              .insertInto('welcome_summaries')
              .values({ ...cached, path: to })
              .execute();
          }
          moved += 1;
        }
        return moved;
      });
    },

    async setHidden(user: string, path: string, hidden: boolean): Promise<WelcomeNotebook> {
      await tables
        .insertInto('welcome_notebooks')
        .values({
          user_name: user,
          path,
          last_opened_at: null,
          last_closed_at: null,
          snapshot: null,
          hidden: hidden ? 1 : 0
        })
        .onConflict(c => c.columns(['user_name', 'path']).doUpdateSet({ hidden: hidden ? 1 : 0 }))
        .execute();
      return describe(user, path);
    }
  };
}

export type Journal = ReturnType<typeof createJournal>;

function latest(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
