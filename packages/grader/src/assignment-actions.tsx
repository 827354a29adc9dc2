/** The toolbar of one assignment: nbgrader's steps from generate to released feedback. */
import { requestAPI } from '@hotstepper/api';
import type { GraderQueue } from '@hotstepper/api';
import * as React from 'react';
import type { Run } from './hooks.js';
import { useTrans } from './trans.js';

type Step = 'generate' | 'release' | 'unrelease' | 'collect' | 'feedback' | 'releaseFeedback';

const OPERATIONS = {
  generate: 'generateGraderAssignment',
  release: 'releaseGraderAssignment',
  unrelease: 'unreleaseGraderAssignment',
  collect: 'collectGraderAssignment',
  feedback: 'generateGraderFeedback',
  releaseFeedback: 'releaseGraderFeedback'
} as const;

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
  const trans = useTrans();
  const hintId = React.useId();
  // An empty source folder is a normal state of a new assignment: say what to do instead of
  // letting Generate fail with nbgrader's error.
  const empty = notebooks.length === 0;
  const hint = trans.__('Add notebooks to %1 first (Add notebooks… above)', params.assignment);
  const needsNotebooks = {
    disabled: !!busy || empty,
    title: empty ? hint : undefined,
    'aria-describedby': empty ? hintId : undefined
  };
  // The companion's sentence is the result; nbgrader's log waits behind "Details".
  const step = (label: string, which: Step) => () =>
    act(label, async () => {
      const { message, log } = await requestAPI(OPERATIONS[which], { params });
      return { message, log };
    });
  return (
    <>
      <div
        className="jp-HotstepperGrader-actions"
        role="toolbar"
        aria-label={trans.__('Assignment actions')}
      >
        <button
          className="jp-mod-styled"
          {...needsNotebooks}
          onClick={step(trans.__('Generate'), 'generate')}
        >
          {trans.__('Generate')}
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          {...needsNotebooks}
          onClick={step(trans.__('Release'), 'release')}
        >
          {trans.__('Release')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={step(trans.__('Unrelease'), 'unrelease')}
        >
          {trans.__('Unrelease')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={step(trans.__('Collect'), 'collect')}
        >
          {trans.__('Collect')}
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={!!busy}
          onClick={() =>
            act(trans.__('Autograde all'), async () => {
              const q = await requestAPI('autogradeGrader', { params, body: {} });
              setQueue(q);
              const n = q.units.filter(
                u => u.assignment === params.assignment && u.state === 'queued'
              ).length;
              return trans._n('Queued %1 submission', 'Queued %1 submissions', n);
            })
          }
        >
          {trans.__('Autograde all')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={() =>
            act(trans.__('Autograde new'), async () => {
              await requestAPI('autogradeGrader', { params, body: { onlyNew: true } });
            })
          }
        >
          {trans.__('Autograde new')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={step(trans.__('Generate feedback'), 'feedback')}
        >
          {trans.__('Generate feedback')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy}
          onClick={step(trans.__('Release feedback'), 'releaseFeedback')}
        >
          {trans.__('Release feedback')}
        </button>
      </div>
      {empty && (
        <p id={hintId} className="jp-HotstepperGrader-muted">
          {trans.__(
            '%1: Generate makes the student version from them, and Release hands that out.',
            hint
          )}
        </p>
      )}
    </>
  );
}
