import type { IdleStop } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import type { IdleModel } from './model.js';
import { duration as durationOf } from './overview.js';

/**
 * The status-bar badge: this server's state at all times. Quiet while in use or not judged, the
 * countdown while idle, the snooze while kept running. Hidden only when the guard does not track
 * this server (not seen yet, exempt, or a companion without the guard).
 */
export class IdleBadge extends ReactWidget {
  constructor(
    private readonly model: IdleModel,
    private readonly trans: TranslationBundle
  ) {
    super();
    this.addClass('hs-idle-badge');
    model.changed.connect(() => this.update());
  }

  render(): JSX.Element | null {
    const s = this.model.server;
    const { trans } = this;
    let text = '';
    let title = '';
    if (s) {
      switch (s.state) {
        case 'snoozed':
          text = s.snoozedUntil
            ? trans.__('kept running until %1', timeOf(s.snoozedUntil))
            : trans.__('kept running');
          title = trans.__('The idle guard leaves this server alone while the snooze lasts.');
          break;
        case 'active':
          text = trans.__('in use');
          title = s.reasons.length
            ? trans.__('Idle guard: in use (%1)', s.reasons.join('; '))
            : trans.__(
                'Idle guard: in use; its first window of %1 is judged %2',
                durationOf(s.windowSeconds, trans),
                timeOf(new Date(Date.parse(s.windowStart) + s.windowSeconds * 1000).toISOString())
              );
          break;
        case 'unknown':
          text = trans.__('not judged');
          title = trans.__(
            'Idle guard: its last window could not be judged (%1); nothing is done on missing data.',
            s.reasons.join('; ')
          );
          break;
        case 'idle':
        case 'stopping':
        case 'stop_failed':
        case 'stopped':
          text = s.countdown ?? trans.__('idle %1 of %2 windows', s.idleWindows, s.stopAfter);
          title = s.reasons.length ? trans.__('Idle: %1', s.reasons.join('; ')) : '';
      }
    }
    this.node.dataset.state = s?.state ?? 'none';
    this.node.title = title;
    this.setHidden(!text);
    return <span>{text}</span>;
  }
}

const FIGURES: [key: string, label: string, unit: string][] = [
  ['gpuPercent', 'GPU utilisation', '%'],
  ['cpuCores', 'CPU', 'cores'],
  ['memoryGrowthMiB', 'Memory growth', 'MiB']
];

/** What was stopped, when and why, with the figures against the policy's thresholds. */
export function StopExplanation(props: { stop: IdleStop; trans: TranslationBundle }): JSX.Element {
  const { stop, trans } = props;
  const rows = FIGURES.filter(
    ([key]) => stop.thresholds[key] !== undefined || typeof stop.figures[key] === 'number'
  );
  return (
    <div className="hs-idle-explanation">
      <p>
        {trans.__(
          'Your %1 was stopped on %2 after %3 idle periods in a row (policy "%4"). Your files are kept.',
          stop.server ? trans.__('server "%1"', stop.server) : trans.__('server'),
          new Date(stop.at).toLocaleString(),
          stop.idleWindows,
          stop.profile
        )}
      </p>
      <ul>
        {stop.reasons.map(r => (
          <li key={r}>{r}</li>
        ))}
      </ul>
      <table>
        <thead>
          <tr>
            <th>{trans.__('Measure')}</th>
            <th>{trans.__('Busiest stretch')}</th>
            <th>{trans.__('Counts as use from')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([key, label, unit]) => (
            <tr key={key}>
              <td>{trans.__(label)}</td>
              <td>
                {typeof stop.figures[key] === 'number'
                  ? `${round(stop.figures[key] as number)} ${unit}`
                  : '—'}
              </td>
              <td>
                {stop.thresholds[key] !== undefined ? `${stop.thresholds[key]} ${unit}` : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function timeOf(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit'
  });
}
