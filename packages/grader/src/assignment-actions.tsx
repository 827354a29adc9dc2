/** The toolbar of one assignment: nbgrader's steps from generate to released feedback. */
import { requestAPI } from '@hotstepper/api';
import type { GraderQueue } from '@hotstepper/api';
import * as React from 'react';
import type { Run } from './hooks.js';

/** nbgrader's logs end with the line that says what happened (without its "[INFO]" level). */
const lastLine = (log: string) =>
  (log.trim().split('\n').slice(-1)[0] ?? '').replace(/^\[(INFO|WARNING)\]\s*/, '');

export function AssignmentActions({
  params,
  notebooks,
  busy,
  act,
  setQueue
}: {
  params: { course: string; assignment: string };
  /** The notebooks in source/<assignment>: Generate works from them, Release from its output. */
  notebooks: readonly string[];
  busy: string | null;
  act: Run;
  setQueue: (queue: GraderQueue) => void;
}) {
  const hintId = React.useId();
  // An empty source folder is a normal state of a new assignment: say what to do instead of
  // letting Generate fail with nbgrader's error.
  const empty = notebooks.length === 0;
  const hint = `Add notebooks to source/${params.assignment} first`;
  const needsNotebooks = {
    disabled: !!busy || empty,
    title: empty ? hint : undefined,
    'aria-describedby': empty ? hintId : undefined
  };
  return (
    <>
      <div className="jp-HotstepperGrader-actions" role="toolbar" aria-label="Assignment actions">
        <button
          className="jp-mod-styled"
          {...needsNotebooks}
          onClick={() =>
            act('Generate', async () =>
              lastLine((await requestAPI('generateGraderAssignment', { params })).log)
            )
          }
        >
          Generate
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          {...needsNotebooks}
          onClick={() =>
            act('Release', async () =>
              lastLine((await requestAPI('releaseGraderAssignment', { params })).log)
            )
          }
        >
          Release
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act('Unrelease', async () =>
              lastLine((await requestAPI('unreleaseGraderAssignment', { params })).log)
            )
          }
        >
          Unrelease
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act('Collect', async () =>
              lastLine((await requestAPI('collectGraderAssignment', { params })).log)
            )
          }
        >
          Collect
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={!!busy}
          onClick={() =>
            act('Autograde all', async () => {
              const q = await requestAPI('autogradeGrader', { params, body: {} });
              setQueue(q);
              return `Queued ${q.units.filter(u => u.state === 'queued').length} submissions`;
            })
          }
        >
          Autograde all
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act('Autograde new', async () => {
              await requestAPI('autogradeGrader', { params, body: { onlyNew: true } });
            })
          }
        >
          Autograde new
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act('Generate feedback', async () =>
              lastLine((await requestAPI('generateGraderFeedback', { params })).log)
            )
          }
        >
          Generate feedback
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act('Release feedback', async () =>
              lastLine((await requestAPI('releaseGraderFeedback', { params })).log)
            )
          }
        >
          Release feedback
        </button>
      </div>
      {empty && (
        <p id={hintId} className="jp-HotstepperGrader-muted">
          {hint}: Generate makes the student version from them, and Release hands that out.
        </p>
      )}
    </>
  );
}
