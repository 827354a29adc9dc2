/**
 * Turning metered intervals into daily rollup rows, and writing them with the pods' watermarks in
 * one transaction. Additions are summed in memory first, so one pass writes each (user, day,
 * resource) once however many pods and intervals it covered.
 */
import { sql, type Kysely } from 'kysely';
import type { UsageTables } from './migrations.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** YYYY-MM-DD of an epoch-ms instant, UTC. */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** [from, to) cut at UTC midnights, as (day, hours) pieces. */
export function splitByDay(from: number, to: number): { day: string; hours: number }[] {
  const out: { day: string; hours: number }[] = [];
  let at = from;
  while (at < to) {
    const midnight = Math.floor(at / DAY) * DAY + DAY;
    const end = Math.min(midnight, to);
    out.push({ day: utcDay(at), hours: (end - at) / HOUR });
    at = end;
  }
  return out;
}

export interface IRollupDelta {
  requested: number;
  used: number;
  unmeasured: number;
}

/** user \u0000 day \u0000 resource -> what to add. */
export class RollupBatch {
  readonly rows = new Map<string, IRollupDelta>();

  add(user: string, day: string, resource: string, delta: IRollupDelta) {
    const key = `${user}\u0000${day}\u0000${resource}`;
    const row = this.rows.get(key);
    if (row) {
      row.requested += delta.requested;
      row.used += delta.used;
      row.unmeasured += delta.unmeasured;
    } else this.rows.set(key, { ...delta });
  }
}

export interface IWatermark {
  uid: string;
  user: string;
  namespace: string;
  pod: string;
  until: number;
  done: boolean;
}

/** Rollups and watermarks together, or neither: what makes a pass safe to repeat after a crash. */
export async function writePass(
  db: Kysely<object>,
  batch: RollupBatch,
  marks: IWatermark[],
  chunk = 500
): Promise<void> {
  const tables = db.withTables<UsageTables>();
  const rows = [...batch.rows].map(([key, d]) => {
    const [user_name, day, resource] = key.split('\u0000');
    return { user_name, day, resource, ...d };
  });
  const pods = marks.map(m => ({
    uid: m.uid,
    user_name: m.user,
    namespace: m.namespace,
    pod: m.pod,
    metered_until: m.until,
    done: m.done ? 1 : 0
  }));
  await tables.transaction().execute(async trx => {
    for (let i = 0; i < rows.length; i += chunk) {
      await trx
        .insertInto('usage_rollups')
        .values(rows.slice(i, i + chunk))
        .onConflict(c =>
          c.columns(['user_name', 'day', 'resource']).doUpdateSet({
            requested: sql`usage_rollups.requested + excluded.requested`,
            used: sql`usage_rollups.used + excluded.used`,
            unmeasured: sql`usage_rollups.unmeasured + excluded.unmeasured`
          })
        )
        .execute();
    }
    for (let i = 0; i < pods.length; i += chunk) {
      await trx
        .insertInto('usage_pods')
        .values(pods.slice(i, i + chunk))
        .onConflict(c =>
          c.column('uid').doUpdateSet({
            metered_until: sql`excluded.metered_until`,
            done: sql`excluded.done`
          })
        )
        .execute();
    }
  });
}
