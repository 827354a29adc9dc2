/** The students' view: their released assignments with due dates, extension, submission, feedback. */
import { requestAPI } from '@hotstepper/api';
import type { GraderMyAssignment } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { Feedback } from './feedback.js';
import { day, duration, when } from './format.js';
import { useBusy } from './hooks.js';
import { useTrans } from './trans.js';

/** Where the student stands, in words: fetched, submitted (late by how much), feedback. */
function state(a: GraderMyAssignment, trans: TranslationBundle): string[] {
  if (!a.submittedAt)
    return [a.fetched ? trans.__('Fetched — not submitted') : trans.__('Not fetched yet')];
  const words = [trans.__('Submitted %1', day(a.submittedAt))];
  if (a.late && a.effectiveDuedate) {
    const late = (Date.parse(a.submittedAt) - Date.parse(a.effectiveDuedate)) / 1000;
    words.push(trans.__('Late by %1', duration(late, trans)));
  } else if (a.late) {
    words.push(trans.__('Late'));
  }
  return words;
}

function feedback(a: GraderMyAssignment, trans: TranslationBundle): string {
  if (!a.feedbackReleased) return a.submittedAt ? trans.__('Not released yet') : '';
  if (a.score === null || a.maxScore === null) return trans.__('Feedback ready');
  return trans._n(
    'Feedback ready: %2 / %1 point',
    'Feedback ready: %2 / %1 points',
    a.maxScore,
    a.score
  );
}

export function Student() {
  const trans = useTrans();
  const [list, setList] = React.useState<GraderMyAssignment[] | null>(null);
  const { busy, result, run } = useBusy();
  const hintId = React.useId();
  const refresh = React.useCallback(
    async () => setList((await requestAPI('listMyGraderAssignments')).assignments),
    []
  );
  React.useEffect(() => void refresh().catch(() => undefined), [refresh]);
  const act = (
    label: string,
    fn: () => Promise<{ message: string; log?: string } | string | void>
  ) =>
    run(label, async () => {
      const out = await fn();
      await refresh();
      return out;
    });
  return (
    <section className="jp-HotstepperGrader-student" aria-label={trans.__('My assignments')}>
      <h3>{trans.__('My assignments')}</h3>
      <Feedback busy={busy} result={result} />
      {list === null ? (
        <progress />
      ) : list.length === 0 ? (
        <p className="jp-HotstepperGrader-muted">{trans.__('No released assignments.')}</p>
      ) : (
        <div className="jp-HotstepperGrader-scroll">
          <table className="jp-HotstepperGrader-table">
            <thead>
              <tr>
                <th>{trans.__('Course')}</th>
                <th>{trans.__('Assignment')}</th>
                <th>{trans.__('Due')}</th>
                <th>{trans.__('My extension')}</th>
                <th>{trans.__('State')}</th>
                <th>{trans.__('Feedback')}</th>
                <th>
                  <span className="jp-HotstepperGrader-visuallyHidden">{trans.__('Actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map(a => {
                const params = { course: a.course, assignment: a.assignment };
                const key = `${a.course}/${a.assignment}`;
                const [first, late] = state(a, trans);
                const hint = trans.__('Fetch the assignment first');
                return (
                  <tr key={key} data-assignment={key}>
                    <td>{a.course}</td>
                    <td>{a.assignment}</td>
                    <td>{when(a.effectiveDuedate)}</td>
                    <td>{duration(a.extensionSeconds, trans)}</td>
                    <td className="jp-HotstepperGrader-state">
                      {first}
                      {late && (
                        <>
                          {' · '}
                          <span className="jp-HotstepperGrader-late">{late}</span>
                        </>
                      )}
                    </td>
                    <td>{feedback(a, trans)}</td>
                    <td className="jp-HotstepperGrader-rowActions">
                      <button
                        className="jp-mod-styled"
                        disabled={!!busy}
                        onClick={() =>
                          act(trans.__('Fetch %1', a.assignment), () =>
                            requestAPI('fetchMyGraderAssignment', { params })
                          )
                        }
                      >
                        {trans.__('Fetch')}
                      </button>
                      <button
                        className="jp-mod-styled jp-mod-accept"
                        disabled={!!busy || !a.fetched}
                        title={a.fetched ? undefined : hint}
                        aria-describedby={a.fetched ? undefined : `${hintId}-${key}`}
                        onClick={() =>
                          act(trans.__('Submit %1', a.assignment), () =>
                            requestAPI('submitMyGraderAssignment', { params })
                          )
                        }
                      >
                        {trans.__('Submit')}
                      </button>
                      {!a.fetched && (
                        <span
                          id={`${hintId}-${key}`}
                          className="jp-HotstepperGrader-muted jp-HotstepperGrader-hint"
                        >
                          {hint}
                        </span>
                      )}
                      {a.feedbackReleased && (
                        <button
                          className="jp-mod-styled"
                          disabled={!!busy}
                          onClick={() =>
                            act(trans.__('Fetch feedback'), () =>
                              requestAPI('fetchFeedbackMyGraderAssignment', { params })
                            )
                          }
                        >
                          {trans.__('Fetch feedback')}
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
