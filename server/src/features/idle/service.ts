/**
 * The idle guard as the API shows it: rows and decisions turned into IdleServer and IdleStop,
 * the user's snooze within the policy, the acknowledgement of a stop explanation.
 */
import type { IdleMine, IdleOverview, IdleServer, IdleStop } from '@hotstepper/schema';
import { HttpProblem } from '../../platform/problem.js';
import type { IIdleConfig } from './config.js';
import type { IEvidence } from './notify.js';
import { countdownText, stopTime } from './policy.js';
import type { DecisionRow, IdleStore, ServerRow } from './store.js';

const iso = (ms: number) => new Date(ms).toISOString();
const STATES = new Set([
  'active',
  'idle',
  'snoozed',
  'unknown',
  'stopping',
  'stop_failed',
  'stopped'
]);

export function createIdleService(config: IIdleConfig, store: IdleStore, now = Date.now) {
  function serverView(row: ServerRow): IdleServer {
    const profile = config.profiles[row.profile] ?? config.profiles[config.defaultProfile];
    const evidence = JSON.parse(row.figures) as Partial<IEvidence>;
    const idle = row.idle_windows > 0 && row.state !== 'snoozed';
    const stopAt = idle ? stopTime(profile, row.idle_windows, row.window_start) : null;
    return {
      user: row.user_name,
      server: row.server_name,
      profile: row.profile,
      state: (STATES.has(row.state) ? row.state : 'unknown') as IdleServer['state'],
      idleWindows: row.idle_windows,
      warnAfter: profile.warnAfter,
      stopAfter: profile.stopAfter,
      windowSeconds: profile.windowSeconds,
      windowStart: iso(row.window_start),
      stopAt: stopAt === null ? null : iso(stopAt),
      countdown:
        stopAt === null
          ? null
          : countdownText(profile, row.idle_windows, stopAt, config.quietHours?.timeZone),
      snoozesLeft: Math.max(0, profile.snooze.count - row.snoozes_used),
      snoozedUntil: row.snoozed_until > now() ? iso(row.snoozed_until) : null,
      reasons: evidence.reasons ?? [],
      figures: evidence.figures ?? {}
    };
  }

  function stopView(d: DecisionRow): IdleStop {
    const e = JSON.parse(d.evidence) as Partial<IEvidence>;
    return {
      id: d.id,
      user: d.user_name,
      server: d.server_name,
      at: iso(d.at),
      dryRun: d.action === 'dry_run_stop',
      summary: d.summary,
      profile: e.profile ?? '',
      idleWindows: e.idleWindows ?? 0,
      reasons: e.reasons ?? [],
      figures: e.figures ?? {},
      thresholds: e.thresholds ?? {}
    };
  }

  return {
    async mine(user: string): Promise<IdleMine> {
      const [rows, stop] = await Promise.all([store.serversOf(user), store.unseenStop(user)]);
      return {
        dryRun: config.dryRun,
        servers: rows.filter(r => r.state !== 'stopped').map(serverView),
        lastStop: stop ? stopView(stop) : null
      };
    },

    async snooze(user: string, server: string): Promise<IdleServer> {
      const row = await store.server(user, server);
      if (!row || row.state === 'stopped') {
        throw new HttpProblem(
          404,
          'not_found',
          `The idle guard tracks no running server "${server}" of yours (it may have just started or stopped).`
        );
      }
      const profile = config.profiles[row.profile] ?? config.profiles[config.defaultProfile];
      if (row.snoozes_used >= profile.snooze.count) {
        throw new HttpProblem(
          409,
          'snooze_limit',
          `This server has used all ${profile.snooze.count} snoozes its policy ("${row.profile}") allows; ` +
            'using it (running code, a terminal) starts the idle count again.'
        );
      }
      const at = now();
      const until = Math.max(at, row.snoozed_until) + profile.snooze.seconds * 1000;
      const changes = {
        snoozed_until: until,
        snoozes_used: row.snoozes_used + 1,
        idle_windows: 0,
        warned_at: 0,
        mail_pending: 0,
        window_start: until,
        state: 'snoozed',
        updated_at: Math.max(at, row.updated_at + 1)
      };
      const applied = await store.snooze(row, changes, {
        user_name: user,
        server_name: server,
        at,
        action: 'snooze',
        summary: `Kept running until ${iso(until)} (snooze ${changes.snoozes_used} of ${profile.snooze.count}).`,
        evidence: JSON.stringify({ profile: row.profile, idleWindowsBefore: row.idle_windows })
      });
      if (!applied) {
        throw new HttpProblem(
          409,
          'conflict',
          'The idle guard was judging this server just now; try again.'
        );
      }
      return serverView({ ...row, ...changes });
    },

    async acknowledge(user: string, id: string): Promise<void> {
      if (!(await store.acknowledge(user, id, now()))) {
        throw new HttpProblem(404, 'not_found', `You have no stopped server explanation "${id}".`);
      }
    },

    async overview(): Promise<IdleOverview> {
      const [rows, round, stops] = await Promise.all([
        store.allServers(),
        store.lastRound(),
        store.recentStops(now() - 7 * 86400_000)
      ]);
      const servers = rows.map(serverView);
      const counts: Record<string, number> = {};
      for (const s of servers) counts[s.state] = (counts[s.state] ?? 0) + 1;
      return {
        dryRun: config.dryRun,
        exempt: config.exempt,
        lastRound: round
          ? {
              at: iso(round.at),
              durationMs: Math.round(round.duration_ms),
              servers: round.servers,
              prometheusError: round.prometheus_error,
              hubError: round.hub_error
            }
          : null,
        counts,
        servers,
        stops: stops.map(stopView)
      };
    }
  };
}
