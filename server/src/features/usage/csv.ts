/**
 * The usage tables as CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break
 * quoted, quotes doubled). Names come from users and groups, so a leading = + - @ gets a '
 * prefix: a spreadsheet opening the file must not run them as formulas.
 */
import type { RateCard, UsageGroupList, UsageHistory, UsageUserList } from '@hotstepper/schema';
import { unitPrice } from './service.js';

type Cell = string | number;

/** A name a spreadsheet will show as text, never evaluate. */
export const inert = (name: string) => (/^[=+\-@\t\r]/.test(name) ? `'${name}` : name);

export function csvField(value: Cell): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csv(rows: Cell[][]): string {
  return rows.map(r => r.map(csvField).join(',') + '\r\n').join('');
}

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
