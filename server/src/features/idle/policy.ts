/**
 * The idle guard's judgement, pure: which profile judges a server, whether a window was used, and
 * what follows from a count of consecutive idle windows. No clock, no I/O — the controller passes
 * in what it measured, so tests can walk a server through days in microseconds.
 */
import type { IIdleConfig, IIdleProfile } from './config.js';

/** What was measured over one window; null: no figure (no series, or Prometheus down). */
export interface IWindowFigures {
  /** Busiest segment's CPU use, cores. */
  cpuCores: number | null;
  /** Busiest segment's GPU engine utilisation, percent (the busiest GPU of the server). */
  gpuPercent: number | null;
  /** Working-set growth over the window, MiB. */
  memoryGrowthMiB: number | null;
  /** The hub saw activity (Lab, terminals, proxy traffic) after the window began. */
  hubActivity: boolean;
  /** A kernel was busy when looked at (a long computation that prints nothing). */
  kernelBusy: boolean;
}

export type Verdict =
  | { kind: 'used'; reasons: string[] }
  | { kind: 'idle'; reasons: string[] }
  | { kind: 'unknown'; reasons: string[] };

export interface IServerFacts {
  serverName: string;
  /** The server holds a GPU or MIG slice (its options or its metrics say so). */
  gpu: boolean;
}

/** The first profile whose match selects the server, else the default profile. */
export function profileFor(config: IIdleConfig, server: IServerFacts): string {
  for (const [name, profile] of Object.entries(config.profiles)) {
    const { gpu, serverName } = profile.match;
    if (gpu === undefined && serverName === undefined) continue;
    if (gpu !== undefined && gpu !== server.gpu) continue;
    if (serverName !== undefined && !new RegExp(serverName).test(server.serverName)) continue;
    return name;
  }
  return config.defaultProfile;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Was the window used? Any figure at or above its threshold, or activity that counts, is use.
 * A threshold whose figure is missing makes the verdict unknown: a server is never counted idle
 * on data we do not have.
 */
export function judgeWindow(profile: IIdleProfile, f: IWindowFigures): Verdict {
  const used: string[] = [];
  const idle: string[] = [];
  const missing: string[] = [];
  const check = (
    name: string,
    value: number | null,
    threshold: number | undefined,
    unit: string
  ) => {
    if (threshold === undefined) return;
    if (value === null) missing.push(`no ${name} figures`);
    else if (value >= threshold) used.push(`${name} ${round(value)} ${unit} ≥ ${threshold}`);
    else idle.push(`${name} ${round(value)} ${unit} < ${threshold}`);
  };
  const t = profile.thresholds;
  check('CPU', f.cpuCores, t.cpuCores, 'cores');
  check('GPU', f.gpuPercent, t.gpuPercent, '%');
  check('memory growth', f.memoryGrowthMiB, t.memoryGrowthMiB, 'MiB');
  if (profile.activityCountsAsUse.hubActivity && f.hubActivity) used.push('Jupyter activity');
  if (profile.activityCountsAsUse.kernelBusy && f.kernelBusy) used.push('a kernel is busy');
  if (used.length) return { kind: 'used', reasons: used };
  if (missing.length) return { kind: 'unknown', reasons: missing };
  return { kind: 'idle', reasons: idle };
}

export type Action = 'none' | 'warn' | 'stop';

/** What a count of consecutive idle windows calls for. */
export function actionFor(profile: IIdleProfile, idleWindows: number): Action {
  if (idleWindows >= profile.stopAfter) return 'stop';
  if (idleWindows >= profile.warnAfter) return 'warn';
  return 'none';
}

/**
 * When the server will be stopped if it stays idle: the remaining windows after the current one
 * began (epoch ms). The controller looks once per interval, so it may be up to one interval later.
 */
export function stopTime(profile: IIdleProfile, idleWindows: number, windowStart: number): number {
  const remaining = Math.max(1, profile.stopAfter - idleWindows);
  return windowStart + remaining * profile.windowSeconds * 1000;
}

/** Whether `at` falls in the quiet hours (HH:MM to HH:MM in a time zone, may span midnight). */
export function inQuietHours(quiet: IIdleConfig['quietHours'], at: Date): boolean {
  if (!quiet) return false;
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: quiet.timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23'
  }).formatToParts(at);
  const part = (type: string) => Number(parts.find(p => p.type === type)?.value ?? 0);
  const now = part('hour') * 60 + part('minute');
  const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const from = minutes(quiet.from);
  const to = minutes(quiet.to);
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

/** "idle 1 of 2 days — will stop Thu 14:00": the countdown the badge and the mail show. */
export function countdownText(
  profile: IIdleProfile,
  idleWindows: number,
  stopAt: number,
  timeZone = 'UTC'
): string {
  const unit = windowUnit(profile.windowSeconds);
  const when = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23'
  }).format(new Date(stopAt));
  return `idle ${idleWindows} of ${profile.stopAfter} ${unit} — will stop ${when.replace(',', '')}`;
}

/** A window's length in words: days, hours, minutes or seconds (plural: the countdown's unit). */
export function windowUnit(windowSeconds: number): string {
  const units: [number, string][] = [
    [86400, 'days'],
    [3600, 'hours'],
    [60, 'minutes']
  ];
  for (const [size, name] of units) {
    if (windowSeconds === size) return name;
    if (windowSeconds % size === 0) return `windows of ${windowSeconds / size} ${name}`;
  }
  return `windows of ${windowSeconds} s`;
}
