/**
 * The usage tables as CSV (platform/csv.ts). Names come from users and groups, so they go through
 * `inert`: a spreadsheet opening the file must not run them as formulas.
 */
import type { RateCard, UsageGroupList, UsageHistory, UsageUserList } from '@hotstepper/schema';
import { csv, inert } from '../../platform/csv.js';
import { unitPrice } from './service.js';

export function historyCsv(history: UsageHistory, card: RateCard): string {
  const c = history.currency;
  const head = ['day', 'resource', 'unit', 'requested', 'used', 'unmeasured', 'unit_price', 'cost'];
  return csv([
    [...head, 'currency'],
    ...history.rows.map(r => [
      r.day,
      inert(r.resource),
      r.unit,
      r.requested,
      r.used,
      r.unmeasured,
      unitPrice(card, r.resource),
      r.cost,
      c
    ]),
    ['total', '', '', '', '', '', '', history.totals.cost, c]
  ]);
}

const HOURS = ['cpu_core_hours', 'memory_gib_hours', 'gpu_hours', 'mig_hours'];

export function usersCsv(list: UsageUserList): string {
  return csv([
    ['user', ...HOURS, 'cost', 'currency'],
    ...list.users.map(u => [
      inert(u.user),
      u.cpuCoreHours,
      u.memoryGibHours,
      u.gpuHours,
      u.migHours,
      u.cost,
      list.currency
    ])
  ]);
}

export function groupsCsv(list: UsageGroupList): string {
  return csv([
    ['group', 'members', ...HOURS, 'cost', 'currency'],
    ...list.groups.map(g => [
      inert(g.group),
      g.members,
      g.cpuCoreHours,
      g.memoryGibHours,
      g.gpuHours,
      g.migHours,
      g.cost,
      list.currency
    ])
  ]);
}
