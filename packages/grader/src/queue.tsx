/** The autograde queue of a course: progress bar, counts, failed units with retry and their logs. */
import { requestAPI } from '@hotstepper/api';
import type { GraderQueue, GraderUnit } from '@hotstepper/api';
import * as React from 'react';
import { message } from './hooks.js';
import { useTrans } from './trans.js';

/** A failed unit's reason in a line: the companion's words, without nbgrader's code prefix. */
const reason = (error: string | null | undefined) =>
  (error ?? '')
    .split('\n')[0]
    .replace(/^[a-z_]+:\s*/, '')
    .slice(0, 160);

export function QueueSummary({
  course,
  queue,
  onChange
}: {
  course: string;
  queue: GraderQueue;
  onChange: () => void;
}) {
  const trans = useTrans();
  const count = (s: GraderUnit['state']) => queue.units.filter(u => u.state === s).length;
  const total = queue.units.length;
  const done = count('done') + count('failed');
  const failed = queue.units.filter(u => u.state === 'failed');
  if (!total) return null;
  return (
    <section className="jp-HotstepperGrader-queue" aria-label={trans.__('Autograde queue')}>
      <h3>
        {trans.__('Autograde queue')}{' '}
        <span className="jp-HotstepperGrader-muted">
          {trans.__('(%1 at a time)', queue.concurrency)}
        </span>
      </h3>
      <div
        className="jp-HotstepperGrader-bar"
        title={trans._n(
          '%2 of %1 submission finished',
          '%2 of %1 submissions finished',
          total,
          done
        )}
      >
        <span className="jp-mod-done" style={{ width: `${(100 * count('done')) / total}%` }} />
        <span className="jp-mod-failed" style={{ width: `${(100 * count('failed')) / total}%` }} />
        <span
          className="jp-mod-running"
          style={{ width: `${(100 * count('running')) / total}%` }}
        />
      </div>
      <div className="jp-HotstepperGrader-counts">
        {trans.__(
          '%1 queued · %2 running · %3 done · %4 failed',
          count('queued'),
          count('running'),
          count('done'),
          count('failed')
        )}
      </div>
      {failed.length > 0 && (
        <ul className="jp-HotstepperGrader-failed">
          {failed.slice(0, 20).map(u => (
            <FailedUnit key={u.id} course={course} unit={u} onChange={onChange} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** One failed unit: why, Retry, and its log (paths relative to the course) behind "Details". */
function FailedUnit({
  course,
  unit,
  onChange
}: {
  course: string;
  unit: GraderUnit;
  onChange: () => void;
}) {
  const trans = useTrans();
  const [log, setLog] = React.useState<string | null>(null);
  const params = { course, unit: unit.id };
  return (
    <li>
      <b>{unit.student}</b> · {unit.assignment}: {reason(unit.error)}{' '}
      <button
        className="jp-mod-styled jp-mod-reject"
        onClick={async () => {
          await requestAPI('retryGraderUnit', { params });
          onChange();
        }}
      >
        {trans.__('Retry')}
      </button>
      <details
        className="jp-HotstepperGrader-details"
        onToggle={e => {
          if ((e.currentTarget as HTMLDetailsElement).open && log === null)
            requestAPI('getGraderUnitLog', { params })
              .then(l => setLog(l.log))
              .catch(err => setLog(message(err)));
        }}
      >
        <summary>{trans.__('Details')}</summary>
        {log === null ? (
          <progress />
        ) : (
          <pre className="jp-HotstepperGrader-log" aria-label={trans.__('Unit log')}>
            {log.slice(-6000) || trans.__('(empty)')}
          </pre>
        )}
      </details>
    </li>
  );
}
