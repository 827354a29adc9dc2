/**
 * Usage history and the operators' per-user table, read from the daily rollups and priced with
 * the rate card at read time (a page view never touches the raw intervals or Prometheus).
 */
import type {
  RateCard,
  UsageGroupList,
  UsageHistory,
  UsageRow,
  UsageUserList
} from '@hotstepper/schema';
import { sql, type Kysely } from 'kysely';
import type { IHubGroup } from './hub.js';
import type { UsageTables } from './migrations.js';
import { utcDay } from './rollups.js';

const DAY = 86_400_000;
const round = (n: number) => Math.round(n * 1e6) / 1e6;

const KINDS = {
  cpu: ['cpu', 'core-hours'],
  memory: ['memory', 'GiB-hours'],
  gpu: ['gpu', 'GPU-hours'],
  mig: ['mig', 'MIG-hours']
} as const;

export function kindOf(resource: string): UsageRow['kind'] {
  const head = resource.split(':')[0];
  return head in KINDS ? (head as UsageRow['kind']) : 'gpu';
}

/** Price of one unit-hour of a rollup resource. */
export function unitPrice(card: RateCard, resource: string): number {
  const [head, name = ''] = resource.split(':');
  if (head === 'cpu') return card.cpuCoreHour;
  if (head === 'memory') return card.memoryGibHour;
  const table = head === 'mig' ? card.migHour : card.gpuHour;
  return table[name] ?? table.default ?? 0;
}

/** What is billed under the card's rule; unmeasured hours count as requested. */
export function billable(
  card: RateCard,
  r: { requested: number; used: number; unmeasured: number }
) {
  const used = r.used + r.unmeasured;
  return card.charge === 'requests'
    ? r.requested
    : card.charge === 'usage'
      ? used
      : Math.max(r.requested, used);
}

export function priced(
  card: RateCard,
  day: string,
  resource: string,
  r: { requested: number; used: number; unmeasured: number }
): UsageRow {
  const kind = kindOf(resource);
  return {
    day,
    resource,
    kind,
    unit: KINDS[kind][1],
    requested: round(r.requested),
    used: round(r.used),
    unmeasured: round(r.unmeasured),
    cost: round(billable(card, r) * unitPrice(card, resource))
  };
}

/** The first and last UTC day of a window of `days` ending today. */
export function window(days: number, now: number) {
  return { from: utcDay(now - (days - 1) * DAY), to: utcDay(now) };
}

export interface IUsageServiceDeps {
  db: Kysely<object>;
  rateCard: RateCard;
  now?: () => number;
}

export function createUsageService({ db, rateCard, now = Date.now }: IUsageServiceDeps) {
  const tables = db.withTables<UsageTables>();

  return {
    rateCard: (): RateCard => rateCard,

    async history(user: string, days: number): Promise<UsageHistory> {
      const { from, to } = window(days, now());
      const [rows, mark] = await Promise.all([
        tables
          .selectFrom('usage_rollups')
          .select(['day', 'resource', 'requested', 'used', 'unmeasured'])
          .where('user_name', '=', user)
          .where('day', '>=', from)
          .where('day', '<=', to)
          .orderBy('day')
          .orderBy('resource')
          .execute(),
        tables
          .selectFrom('usage_pods')
          .select(sql<number | string | null>`max(metered_until)`.as('until'))
          .where('user_name', '=', user)
          .executeTakeFirst()
      ]);
      const month = to.slice(0, 7);
      const out = rows.map(r => priced(rateCard, r.day, r.resource, r));
      const sums = new Map<string, { requested: number; used: number; unmeasured: number }>();
      for (const r of rows) {
        const s = sums.get(r.resource) ?? { requested: 0, used: 0, unmeasured: 0 };
        s.requested += r.requested;
        s.used += r.used;
        s.unmeasured += r.unmeasured;
        sums.set(r.resource, s);
      }
      const byResource = [...sums].map(([resource, s]) => priced(rateCard, '', resource, s));
      const until = mark?.until === null || mark?.until === undefined ? null : Number(mark.until);
      return {
        user,
        days,
        from,
        to,
        currency: rateCard.currency,
        charge: rateCard.charge,
        rows: out,
        totals: {
          cost: round(out.reduce((a, r) => a + r.cost, 0)),
          thisMonthCost: round(
            out.filter(r => r.day.startsWith(month)).reduce((a, r) => a + r.cost, 0)
          ),
          byResource
        },
        meteredUntil: until === null ? null : new Date(until).toISOString()
      };
    },

    async users(days: number): Promise<UsageUserList> {
      const { from, to } = window(days, now());
      const rows = await tables
        .selectFrom('usage_rollups')
        .select(['user_name', 'resource'])
        .select(eb => [
          eb.fn.sum<number>('requested').as('requested'),
          eb.fn.sum<number>('used').as('used'),
          eb.fn.sum<number>('unmeasured').as('unmeasured')
        ])
        .where('day', '>=', from)
        .where('day', '<=', to)
        .groupBy(['user_name', 'resource'])
        .execute();
      const users = new Map<string, UsageUserList['users'][number]>();
      for (const r of rows) {
        const u = users.get(r.user_name) ?? {
          user: r.user_name,
          cost: 0,
          cpuCoreHours: 0,
          memoryGibHours: 0,
          gpuHours: 0,
          migHours: 0
        };
        const row = priced(rateCard, '', r.resource, {
          requested: Number(r.requested),
          used: Number(r.used),
          unmeasured: Number(r.unmeasured)
        });
        u.cost += row.cost;
        const hours = billable(rateCard, row);
        if (row.kind === 'cpu') u.cpuCoreHours += hours;
        else if (row.kind === 'memory') u.memoryGibHours += hours;
        else if (row.kind === 'gpu') u.gpuHours += hours;
        else u.migHours += hours;
        users.set(r.user_name, u);
      }
      const list = [...users.values()].map(u => ({
        ...u,
        cost: round(u.cost),
        cpuCoreHours: round(u.cpuCoreHours),
        memoryGibHours: round(u.memoryGibHours),
        gpuHours: round(u.gpuHours),
        migHours: round(u.migHours)
      }));
      list.sort((a, b) => b.cost - a.cost || a.user.localeCompare(b.user));
      return { days, from, to, currency: rateCard.currency, users: list };
    },

    /** Each group's totals: the sum over its current members (a member without usage adds 0). */
    async groups(days: number, hubGroups: IHubGroup[]): Promise<UsageGroupList> {
      const { from, to, currency, users } = await this.users(days);
      const byUser = new Map(users.map(u => [u.user, u]));
      const groups = hubGroups.map(g => {
        const sum = { cost: 0, cpuCoreHours: 0, memoryGibHours: 0, gpuHours: 0, migHours: 0 };
        for (const member of new Set(g.users)) {
          const u = byUser.get(member);
          if (!u) continue;
          for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += u[k];
        }
        return {
          group: g.name,
          members: new Set(g.users).size,
          cost: round(sum.cost),
          cpuCoreHours: round(sum.cpuCoreHours),
          memoryGibHours: round(sum.memoryGibHours),
          gpuHours: round(sum.gpuHours),
          migHours: round(sum.migHours)
        };
      });
      groups.sort((a, b) => b.cost - a.cost || a.group.localeCompare(b.group));
      return { days, from, to, currency, groups };
    }
  };
}

export type UsageService = ReturnType<typeof createUsageService>;
