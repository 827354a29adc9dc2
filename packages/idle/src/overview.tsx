/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { IdleOverview, IdleServer, IdleStop } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, VDomModel, VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

const PANEL_CLASS = 'hs-IdleServers';

/** The states in the order operators read them: what is about to happen first. */
const STATE_ORDER: IdleServer['state'][] = [
  'stop_failed',
  'stopping',
  'idle',
  'snoozed',
  'unknown',
  'active',
  'stopped'
];

/** The operators' view of the idle guard (GET /api/v1/idle), loaded on open and on Refresh. */
export class IdleOverviewModel extends VDomModel {
  get overview(): IdleOverview | null {
    return this._overview;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): CompanionError | null {
    return this._error;
  }

  async load(): Promise<void> {
    this._loading = true;
    this.stateChanged.emit();
    try {
      this._overview = await HotstepperAPI.listIdle();
      this._error = null;
    } catch (err) {
      this._error =
        err instanceof CompanionError
          ? err
          : new CompanionError({
              status: 0,
              code: 'client_error',
              title: 'Unexpected error',
              detail: err instanceof Error ? err.message : String(err)
            });
    } finally {
      this._loading = false;
      this.stateChanged.emit();
    }
  }

  private _overview: IdleOverview | null = null;
  private _loading = false;
  private _error: CompanionError | null = null;
}

/**
 * The "Idle servers" panel for operators: every running server grouped by the guard's state with
 * the figures behind its last decision, the guard's last round (and why it had no figures), dry
 * run, and the stops of the last 7 days.
 */
export class IdleOverviewView extends VDomRenderer<IdleOverviewModel> {
  constructor(
    model: IdleOverviewModel,
    private readonly trans: TranslationBundle
  ) {
    super(model);
    this.addClass(PANEL_CLASS);
  }

  protected render(): React.ReactElement {
    const { trans } = this;
    const m = this.model;
    const o = m.overview;
    return (
      <div className={`${PANEL_CLASS}-body`}>
        {m.loading && (
          <div
            className={`${PANEL_CLASS}-progress`}
            role="progressbar"
            aria-label={trans.__('Loading')}
          />
        )}
        <header className={`${PANEL_CLASS}-header`}>
          <h2>{trans.__('Idle servers')}</h2>
          <Button className="jp-mod-styled" disabled={m.loading} onClick={() => void m.load()}>
            {trans.__('Refresh')}
          </Button>
        </header>
        {m.error && (
          <div className={`${PANEL_CLASS}-error`} role="alert">
            <strong>{m.error.title}</strong> {m.error.detail}
          </div>
        )}
        {!o && m.loading && <p className={`${PANEL_CLASS}-note`}>{trans.__('Loading…')}</p>}
        {o && <Overview overview={o} trans={trans} />}
      </div>
    );
  }
}

function Overview(props: { overview: IdleOverview; trans: TranslationBundle }): JSX.Element {
  const { overview: o, trans } = props;
  const round = o.lastRound;
  const wouldStop = o.stops.filter(s => s.dryRun);
  const groups = STATE_ORDER.map(state => ({
    state,
    servers: o.servers.filter(s => s.state === state)
  })).filter(g => g.servers.length > 0);
  return (
    <>
      <section className={`${PANEL_CLASS}-round`}>
        {round ? (
          <p>
            {trans._n(
              'Last round %2 (took %3): %1 running server seen.',
              'Last round %2 (took %3): %1 running servers seen.',
              round.servers,
              dateTime(round.at),
              duration(round.durationMs / 1000, trans)
            )}
          </p>
        ) : (
          <p>{trans.__('The idle guard has not run a round yet.')}</p>
        )}
        {round?.prometheusError && (
          <div className={`${PANEL_CLASS}-error`} role="alert">
            {trans.__(
              'No utilisation figures in the last round, so nothing was judged idle: %1',
              round.prometheusError
            )}
          </div>
        )}
        {round?.hubError && (
          <div className={`${PANEL_CLASS}-error`} role="alert">
            {trans.__('JupyterHub could not list the running servers: %1', round.hubError)}
          </div>
        )}
        {o.dryRun && (
          <div className={`${PANEL_CLASS}-dryRun`}>
            {trans.__(
              'Dry run: the guard only reports; nothing is stopped and no mail is sent. In the last 7 days it would have stopped %1 servers.',
              wouldStop.length
            )}
          </div>
        )}
        {o.exempt.length > 0 && (
          <p className={`${PANEL_CLASS}-note`}>
            {trans.__('Never judged (exempt): %1', o.exempt.join(', '))}
          </p>
        )}
      </section>
      {groups.length === 0 && (
        <p className={`${PANEL_CLASS}-note`}>{trans.__('The guard tracks no running server.')}</p>
      )}
      {groups.map(g => (
        <section
          key={g.state}
          className={`${PANEL_CLASS}-group`}
          data-state={g.state}
          aria-label={stateLabel(g.state, trans)}
        >
          <h3>
            {stateLabel(g.state, trans)} ({g.servers.length})
          </h3>
          <ServerTable servers={g.servers} dryRun={o.dryRun} trans={trans} />
        </section>
      ))}
      <section className={`${PANEL_CLASS}-stops`}>
        <h3>{trans.__('Stops in the last 7 days')}</h3>
        {o.stops.length === 0 ? (
          <p className={`${PANEL_CLASS}-note`}>{trans.__('None.')}</p>
        ) : (
          <StopTable stops={o.stops} trans={trans} />
        )}
      </section>
    </>
  );
}

function ServerTable(props: {
  servers: IdleServer[];
  dryRun: boolean;
  trans: TranslationBundle;
}): JSX.Element {
  const { servers, dryRun, trans } = props;
  return (
    <table className={`${PANEL_CLASS}-table`}>
      <thead>
        <tr>
          <th>{trans.__('User')}</th>
          <th>{trans.__('Server')}</th>
          <th>{trans.__('Policy')}</th>
          <th>{trans.__('Where it stands')}</th>
          <th>{trans.__('CPU (cores)')}</th>
          <th>{trans.__('GPU (%)')}</th>
          <th>{trans.__('Memory growth (MiB)')}</th>
          <th>{trans.__('Hub activity')}</th>
          <th>{trans.__('Kernel busy')}</th>
          <th>{trans.__('Why')}</th>
        </tr>
      </thead>
      <tbody>
        {servers.map(s => {
          const judged = Object.keys(s.figures).length > 0;
          return (
            <tr key={`${s.user}/${s.server}`} data-user={s.user} data-state={s.state}>
              <td>{s.user}</td>
              <td>{s.server || trans.__('default')}</td>
              <td>
                {trans.__(
                  '%1: windows of %2, warn after %3, stop after %4',
                  s.profile,
                  duration(s.windowSeconds, trans),
                  s.warnAfter,
                  s.stopAfter
                )}
              </td>
              <td>{standing(s, dryRun, trans)}</td>
              <td>{num(s.figures.cpuCores)}</td>
              <td>{num(s.figures.gpuPercent)}</td>
              <td>{num(s.figures.memoryGrowthMiB)}</td>
              <td>{yesNo(s.figures.hubActivity, trans)}</td>
              <td>{yesNo(s.figures.kernelBusy, trans)}</td>
              <td>
                {judged
                  ? s.reasons.join('; ') || '—'
                  : trans.__(
                      'Not judged yet: its first window ends %1',
                      dateTime(
                        new Date(Date.parse(s.windowStart) + s.windowSeconds * 1000).toISOString()
                      )
                    )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function StopTable(props: { stops: IdleStop[]; trans: TranslationBundle }): JSX.Element {
  const { stops, trans } = props;
  return (
    <table className={`${PANEL_CLASS}-table`}>
      <thead>
        <tr>
          <th>{trans.__('When')}</th>
          <th>{trans.__('User')}</th>
          <th>{trans.__('Server')}</th>
          <th>{trans.__('What')}</th>
          <th>{trans.__('Idle windows')}</th>
          <th>{trans.__('CPU (cores)')}</th>
          <th>{trans.__('GPU (%)')}</th>
          <th>{trans.__('Why')}</th>
        </tr>
      </thead>
      <tbody>
        {stops.map(s => (
          <tr key={s.id} data-user={s.user}>
            <td>{dateTime(s.at)}</td>
            <td>{s.user}</td>
            <td>{s.server || trans.__('default')}</td>
            <td>{s.dryRun ? trans.__('Would have stopped (dry run)') : trans.__('Stopped')}</td>
            <td>{s.idleWindows}</td>
            <td>{num(s.figures.cpuCores)}</td>
            <td>{num(s.figures.gpuPercent)}</td>
            <td>{s.reasons.join('; ') || s.summary}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A state's heading. */
export function stateLabel(state: IdleServer['state'], trans: TranslationBundle): string {
  switch (state) {
    case 'active':
      return trans.__('Active');
    case 'idle':
      return trans.__('Idle');
    case 'snoozed':
      return trans.__('Kept running (snoozed)');
    case 'unknown':
      return trans.__('Not judged (no figures)');
    case 'stopping':
      return trans.__('Stopping');
    case 'stop_failed':
      return trans.__('Stop failed');
    case 'stopped':
      return trans.__('Stopped');
  }
}

/** Where one server stands: its idle count and when it will stop, or its snooze. */
function standing(s: IdleServer, dryRun: boolean, trans: TranslationBundle): string {
  switch (s.state) {
    case 'idle': {
      const count = trans.__('idle %1 of %2 windows', s.idleWindows, s.stopAfter);
      const warned = s.idleWindows >= s.warnAfter ? trans.__('owner warned') : '';
      const stop = !s.stopAt
        ? ''
        : dryRun
          ? trans.__('would stop %1 (dry run: it will not)', dateTime(s.stopAt))
          : trans.__('will stop %1', dateTime(s.stopAt));
      return [count, warned, stop].filter(Boolean).join(' — ');
    }
    case 'snoozed':
      return s.snoozedUntil
        ? trans.__('kept running until %1', dateTime(s.snoozedUntil))
        : trans.__('kept running');
    case 'active':
      return trans.__('in use');
    case 'unknown':
      return trans.__('no figures for its last window: nothing is done');
    case 'stopping':
      return trans.__('being stopped');
    case 'stop_failed':
      return trans.__('the hub refused to stop it; see the stops below');
    case 'stopped':
      return trans.__('stopped');
  }
}

const num = (v: number | boolean | null | undefined): string =>
  typeof v === 'number' ? String(Math.round(v * 100) / 100) : '—';

const yesNo = (v: number | boolean | null | undefined, trans: TranslationBundle): string =>
  typeof v === 'boolean' ? (v ? trans.__('yes') : trans.__('no')) : '—';

/** A date and time in the user's own zone and locale. */
export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit'
  });
}

/** A duration as people say it: "2 h 5 min", "1 d 4 h", "30 s", "0.2 s". */
export function duration(seconds: number, trans: TranslationBundle): string {
  if (seconds < 1) return trans.__('%1 s', Math.round(seconds * 10) / 10);
  if (seconds < 60) return trans.__('%1 s', Math.round(seconds));
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return trans.__('%1 min', minutes);
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return minutes % 60 ? trans.__('%1 h %2 min', hours, minutes % 60) : trans.__('%1 h', hours);
  }
  const days = Math.floor(hours / 24);
  return hours % 24 ? trans.__('%1 d %2 h', days, hours % 24) : trans.__('%1 d', days);
}
