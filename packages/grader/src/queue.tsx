/** The autograde queue of a course: progress bar, counts, failed units with retry and their logs. */
import { requestAPI } from '@hotstepper/api';
import type { GraderQueue, GraderUnit } from '@hotstepper/api';
import * as React from 'react';

export function QueueSummary({
  course,
  queue,
  onChange
}: {
  course: string;
  queue: GraderQueue;
  onChange: () => void;
}) {
  const [log, setLog] = React.useState<{ id: string; text: string } | null>(null);
  const count = (s: GraderUnit['state']) => queue.units.filter(u => u.state === s).length;
  const total = queue.units.length;
  const done = count('done') + count('failed');
  const failed = queue.units.filter(u => u.state === 'failed');
  if (!total) return null;
  return (
    <section className="jp-HotstepperGrader-queue" aria-label="Autograde queue">
      <h3>
        Autograde queue{' '}
        <span className="jp-HotstepperGrader-muted">(concurrency {queue.concurrency})</span>
      </h3>
      <div className="jp-HotstepperGrader-bar" title={`${done} of ${total} finished`}>
        <span className="jp-mod-done" style={{ width: `${(100 * count('done')) / total}%` }} />
        <span className="jp-mod-failed" style={{ width: `${(100 * count('failed')) / total}%` }} />
        <span
          className="jp-mod-running"
          style={{ width: `${(100 * count('running')) / total}%` }}
        />
      </div>
      <div className="jp-HotstepperGrader-counts">
        <span>{count('queued')} queued</span> · <span>{count('running')} running</span> ·{' '}
        <span>{count('done')} done</span> · <span>{count('failed')} failed</span>
      </div>
      {failed.length > 0 && (
        <ul className="jp-HotstepperGrader-failed">
          {failed.slice(0, 20).map(u => (
            <li key={u.id}>
              <b>{u.student}</b> · {u.assignment}: {(u.error ?? '').split('\n')[0].slice(0, 160)}{' '}
              <button
                className="jp-mod-styled jp-mod-reject"
                onClick={async () => {
                  await requestAPI('retryGraderUnit', { params: { course, unit: u.id } });
                  onChange();
                }}
              >
                Retry
              </button>{' '}
              <button
                className="jp-mod-styled"
                onClick={async () => {
                  const l = await requestAPI('getGraderUnitLog', {
                    params: { course, unit: u.id }
                  });
                  setLog({ id: u.id, text: l.log });
                }}
              >
                Log
              </button>
            </li>
          ))}
        </ul>
      )}
      {log && (
        <pre className="jp-HotstepperGrader-log" aria-label="Unit log">
          {log.text.slice(-6000) || '(empty)'}
        </pre>
      )}
    </section>
  );
}
