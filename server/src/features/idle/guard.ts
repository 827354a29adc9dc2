/**
 * One round of the idle guard: list running servers, measure them all at once, judge each server
 * whose window has ended, act (warn, stop, retry a refused stop), and write everything in one
 * transaction. Only the leader runs rounds (controller.ts). Missing data never stops a server.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ServerReport } from '@hotstepper/schema';
import type { IMailer } from '../../platform/mail.js';
import { PrometheusError } from '../../platform/prometheus.js';
import type { IIdleConfig, IIdleProfile } from './config.js';
import type { IIdleHub, IRunningServer } from './hub.js';
import type { IPodFigures, IWindowSpec } from './metrics.js';
import { podName } from './metrics.js';
import { stopMessage, warnMessage, type IEvidence } from './notify.js';
import { actionFor, inQuietHours, judgeWindow, profileFor, stopTime } from './policy.js';
import { keyOf, type IdleStore, type NewDecision, type ServerRow } from './store.js';

/**
 * Hub activity this close after the start of a window (or after a look at the kernels through
 * the hub, which older versions of the guard took) is not counted.
 */
export const PROBE_SLACK_MS = 5000;
/** A stop that keeps failing is given up after the configured attempts: never looped. */
const NEVER = Number.MAX_SAFE_INTEGER;

export interface IKernelState {
  busy: boolean;
  /** Epoch ms of the latest kernel activity. */
  lastActivity: number | null;
  count: number;
}

/** What a server's own report says about its kernels. */
export function kernelStateOf(report: ServerReport): IKernelState {
  const { busy, lastActivity, count } = report.kernels;
  return {
    busy: busy > 0,
    lastActivity: lastActivity ? Date.parse(lastActivity) : null,
    count: count ?? busy
  };
}

/**
 * The kernels of a user's server, from the report that server pushed lately (never asked of the
 * server: the companion's token goes to the hub API only); undefined when it has not reported.
 */
export type Kernels = (user: string, server: string) => Promise<IKernelState | undefined>;

export type Measure = (spec: IWindowSpec, time: Date) => Promise<Map<string, IPodFigures>>;

export interface IGuardOptions {
  config: IIdleConfig;
  store: IdleStore;
  hub: IIdleHub;
  kernels: Kernels;
  /** Null: no Prometheus configured; every figure is missing. */
  measure: Measure | null;
  mailer: IMailer | null;
  addresses: Record<string, string>;
  log: FastifyBaseLogger;
  now?: () => number;
  /** How many kernel reports are read at once. */
  probeConcurrency?: number;
}

export interface IRoundResult {
  servers: number;
  /** Running servers with utilisation figures this round (a pod Prometheus has not scraped yet has none). */
  measured: number;
  judged: number;
  warned: number;
  stopped: number;
  prometheusError: string | null;
  hubError: string | null;
}

const specKey = (p: IWindowSpec) => `${p.windowSeconds}/${p.segmentSeconds}`;

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

export function createIdleGuard(options: IGuardOptions) {
  const { config, store, hub, kernels, measure, mailer, log } = options;
  const now = options.now ?? Date.now;

  async function measureAll(at: number) {
    const specs = new Map<string, IWindowSpec>();
    for (const p of Object.values(config.profiles)) specs.set(specKey(p), p);
    const figures = new Map<string, Map<string, IPodFigures>>();
    if (!measure) return { figures, error: 'Prometheus is not configured (prometheus.url)' };
    try {
      for (const [key, spec] of specs) figures.set(key, await measure(spec, new Date(at)));
      return { figures, error: null };
    } catch (err) {
      const why = err instanceof PrometheusError ? err.detail : (err as Error).message;
      log.warn({ err }, 'idle guard: no utilisation figures this round; nothing is judged idle');
      return { figures: new Map(), error: why };
    }
  }

  function freshRow(s: IRunningServer, profile: string, at: number): ServerRow {
    return {
      user_name: s.user,
      server_name: s.name,
      started: s.started,
      profile,
      // From the guard's first look: the time before it is not held against the server.
      window_start: at,
      idle_windows: 0,
      snoozes_used: 0,
      snoozed_until: 0,
      probed_at: 0,
      warned_at: 0,
      mail_pending: 0,
      stop_attempts: 0,
      retry_at: 0,
      state: 'active',
      figures: '{}',
      updated_at: at
    };
  }

  async function round(): Promise<IRoundResult> {
    const at = now();
    const t0 = performance.now();
    const decisions: NewDecision[] = [];
    const result: IRoundResult = {
      servers: 0,
      measured: 0,
      judged: 0,
      warned: 0,
      stopped: 0,
      prometheusError: null,
      hubError: null
    };
    let running: IRunningServer[];
    try {
      running = await hub.running();
    } catch (err) {
      result.hubError = (err as Error).message;
      log.warn({ err }, 'idle guard: cannot list running servers; nothing done this round');
      await store.write({
        rows: [],
        gone: [],
        decisions: [],
        round: {
          at,
          durationMs: performance.now() - t0,
          servers: 0,
          prometheusError: null,
          hubError: result.hubError
        }
      });
      return result;
    }
    const exempt = new Set(config.exempt);
    running = running.filter(s => !exempt.has(s.user));
    result.servers = running.length;
    const [states, measured] = await Promise.all([store.all(), measureAll(at)]);
    result.prometheusError = measured.error;

    const rows: { row: ServerRow; readAt: number | null }[] = [];
    const toJudge: {
      s: IRunningServer;
      row: ServerRow;
      profile: IIdleProfile;
      pod: IPodFigures | undefined;
    }[] = [];
    const seen = new Set<string>();
    for (const s of running) {
      const key = keyOf(s.user, s.name);
      seen.add(key);
      const pod = podName(config.podTemplate, s.user, s.name);
      const anyFigures = [...measured.figures.values()].map(m => m.get(pod)).find(Boolean);
      if (anyFigures) result.measured++;
      const gpuOption = Number(s.userOptions.gpu ?? 0) > 0 || Boolean(s.userOptions.mig);
      const name = profileFor(config, {
        serverName: s.name,
        gpu: gpuOption || Boolean(anyFigures?.gpu)
      });
      const profile = config.profiles[name];
      const old = states.get(key);
      const fresh = !old || old.started !== s.started;
      const row = fresh ? freshRow(s, name, at) : { ...old };
      row.profile = name;
      const readAt = fresh ? null : old.updated_at;
      if (row.snoozed_until > at) row.state = 'snoozed';
      else if (row.state === 'snoozed') row.state = 'active';
      const figures = measured.figures.get(specKey(profile))?.get(pod);
      if (row.state === 'stop_failed' || row.state === 'stopping') {
        if (row.retry_at <= at) toJudge.push({ s, row, profile, pod: figures });
      } else if (row.snoozed_until <= at && at - row.window_start >= profile.windowSeconds * 1000) {
        toJudge.push({ s, row, profile, pod: figures });
      }
      rows.push({ row, readAt });
    }

    // Kernels are looked at only for servers utilisation and hub activity call idle.
    const verdicts = new Map<ServerRow, ReturnType<typeof judgeWindow>>();
    const needsKernels: typeof toJudge = [];
    for (const j of toJudge) {
      if (j.row.state === 'stop_failed' || j.row.state === 'stopping') continue;
      const v = judgeWindow(j.profile, figuresOf(j, false, measured.error));
      verdicts.set(j.row, v);
      if (v.kind === 'idle' && j.profile.activityCountsAsUse.kernelBusy) needsKernels.push(j);
    }
    await pool(needsKernels, options.probeConcurrency ?? 8, async j => {
      try {
        const k = await kernels(j.s.user, j.s.name);
        verdicts.set(
          j.row,
          k
            ? judgeWindow(j.profile, figuresOf(j, k.busy, measured.error))
            : // Missing data never stops a server: no report is no verdict.
              { kind: 'unknown', reasons: ['its server has not reported its kernels lately'] }
        );
      } catch (err) {
        verdicts.set(j.row, {
          kind: 'unknown',
          reasons: [`its kernels' report could not be read (${(err as Error).message})`]
        });
      }
    });

    for (const j of toJudge) {
      const { row, profile, s } = j;
      result.judged++;
      if (row.state === 'stop_failed' || row.state === 'stopping') {
        await attemptStop(j, JSON.parse(row.figures) as IEvidence, decisions, result, at);
        continue;
      }
      const verdict = verdicts.get(row)!;
      const evidence: IEvidence = {
        profile: row.profile,
        windowStart: row.window_start,
        windowEnd: at,
        idleWindows: row.idle_windows,
        reasons: verdict.reasons,
        figures: {
          ...figuresOf(j, false, measured.error),
          kernelBusy: verdict.reasons.includes('a kernel is busy')
        },
        thresholds: { ...profile.thresholds }
      };
      const base = { user_name: s.user, server_name: s.name, at };
      if (verdict.kind === 'used') {
        Object.assign(row, {
          idle_windows: 0,
          snoozes_used: 0,
          warned_at: 0,
          mail_pending: 0,
          state: 'active'
        });
        decisions.push({
          ...base,
          action: 'used',
          summary: `In use: ${verdict.reasons.join('; ')}.`,
          evidence: JSON.stringify(evidence)
        });
      } else if (verdict.kind === 'unknown') {
        row.state = 'unknown';
        decisions.push({
          ...base,
          action: 'unknown',
          summary: `Not judged: ${verdict.reasons.join('; ')}. Nothing is done on missing data.`,
          evidence: JSON.stringify(evidence)
        });
      } else {
        row.idle_windows += 1;
        evidence.idleWindows = row.idle_windows;
        const action = actionFor(profile, row.idle_windows);
        row.state = 'idle';
        decisions.push({
          ...base,
          action: 'idle',
          summary: `Idle window ${row.idle_windows} of ${profile.stopAfter}: ${verdict.reasons.join('; ')}.`,
          evidence: JSON.stringify(evidence)
        });
        if (action === 'warn') {
          row.warned_at = at;
          row.mail_pending = 1;
          result.warned++;
          const stopAt = stopTime(profile, row.idle_windows, at);
          decisions.push({
            ...base,
            action: 'warn',
            summary: warnMessage(config, profile, s.name, evidence, stopAt).countdown,
            evidence: JSON.stringify(evidence)
          });
        } else if (action === 'stop') {
          row.figures = JSON.stringify(evidence);
          if (config.dryRun) {
            decisions.push({
              ...base,
              action: 'dry_run_stop',
              summary: 'Would be stopped now (dry run: nothing is done).',
              evidence: JSON.stringify(evidence)
            });
          } else {
            await attemptStop(j, evidence, decisions, result, at);
          }
        }
      }
      if (row.state !== 'stop_failed' && row.state !== 'stopping' && row.state !== 'stopped') {
        row.figures = JSON.stringify(evidence);
        row.window_start = at;
      }
    }

    await sendPendingMail(
      rows.map(r => r.row),
      at,
      running,
      decisions
    );

    const gone = [...states.values()]
      .filter(r => !seen.has(keyOf(r.user_name, r.server_name)))
      .map(r => ({ user: r.user_name, server: r.server_name }));
    // Only rows this round changed are written: between windows a round writes next to nothing.
    const changed = rows.filter(
      r =>
        r.readAt === null ||
        JSON.stringify(r.row) !==
          JSON.stringify(states.get(keyOf(r.row.user_name, r.row.server_name)))
    );
    for (const r of changed) r.row.updated_at = Math.max(at, (r.readAt ?? 0) + 1);
    await store.write({
      rows: changed,
      gone,
      decisions,
      round: {
        at,
        durationMs: performance.now() - t0,
        servers: running.length,
        prometheusError: measured.error,
        hubError: null
      }
    });
    return result;

    function figuresOf(j: (typeof toJudge)[number], kernelBusy: boolean, missing: string | null) {
      const p = j.pod;
      const activity = j.s.lastActivity ?? 0;
      return {
        cpuCores: missing ? null : (p?.cpuCores ?? null),
        gpuPercent: missing ? null : (p?.gpuPercent ?? null),
        memoryGrowthMiB: missing ? null : (p?.memoryGrowthMiB ?? null),
        hubActivity: activity > Math.max(j.row.window_start, j.row.probed_at) + PROBE_SLACK_MS,
        kernelBusy
      };
    }
  }

  async function attemptStop(
    j: { s: IRunningServer; row: ServerRow },
    evidence: IEvidence,
    decisions: NewDecision[],
    result: IRoundResult,
    at: number
  ) {
    const { s, row } = j;
    const base = { user_name: s.user, server_name: s.name, at };
    try {
      await hub.stop(s.user, s.name);
      row.state = 'stopped';
      result.stopped++;
      const message = stopMessage(config, s.name, evidence, at);
      decisions.push({
        ...base,
        action: 'stop',
        summary: message.text.split('\n')[0],
        evidence: JSON.stringify(evidence)
      });
      await mail(s, message.subject, message.text, decisions, base);
    } catch (err) {
      row.stop_attempts += 1;
      const last = row.stop_attempts >= config.maxStopAttempts;
      row.state = 'stop_failed';
      row.retry_at = last ? NEVER : at + config.retrySeconds * 1000 * 2 ** (row.stop_attempts - 1);
      row.figures = JSON.stringify(evidence);
      const why = (err as Error).message;
      log.warn({ user: s.user, server: s.name, attempt: row.stop_attempts }, `idle guard: ${why}`);
      decisions.push({
        ...base,
        action: 'stop_failed',
        summary: last
          ? `Stop attempt ${row.stop_attempts} failed (${why}); given up — an operator must look.`
          : `Stop attempt ${row.stop_attempts} failed (${why}); retried after ${new Date(row.retry_at).toISOString()}.`,
        evidence: JSON.stringify(evidence)
      });
    }
  }

  async function mail(
    s: IRunningServer,
    subject: string,
    text: string,
    decisions: NewDecision[],
    base: { user_name: string; server_name: string; at: number }
  ) {
    if (config.dryRun) return;
    const to = options.addresses[s.user] ?? s.email;
    const fail = (why: string) => {
      decisions.push({ ...base, action: 'mail_failed', summary: why, evidence: '{}' });
    };
    if (!mailer) {
      fail('No mail sent: mail is not configured (mail.smtp.host).');
      return;
    }
    if (!to) {
      fail(`No mail sent: no address for ${s.user} (mail.addresses or the hub's auth state).`);
      return;
    }
    try {
      await mailer.send({ to, subject, text });
      decisions.push({
        ...base,
        action: 'mail',
        summary: `Mailed ${to}: ${subject}`,
        evidence: '{}'
      });
    } catch (err) {
      fail((err as Error).message);
    }
  }

  async function sendPendingMail(
    rows: ServerRow[],
    at: number,
    running: IRunningServer[],
    decisions: NewDecision[]
  ) {
    if (inQuietHours(config.quietHours, new Date(at))) return;
    const byKey = new Map(running.map(s => [keyOf(s.user, s.name), s]));
    for (const row of rows) {
      if (!row.mail_pending || row.state !== 'idle') continue;
      const s = byKey.get(keyOf(row.user_name, row.server_name));
      if (!s) continue;
      const profile = config.profiles[row.profile];
      const evidence = JSON.parse(row.figures) as IEvidence;
      const stopAt = stopTime(profile, row.idle_windows, row.window_start);
      const m = warnMessage(config, profile, s.name, evidence, stopAt);
      row.mail_pending = 0;
      await mail(s, m.subject, m.text, decisions, { user_name: s.user, server_name: s.name, at });
    }
  }

  return { round };
}

export type IdleGuard = ReturnType<typeof createIdleGuard>;
