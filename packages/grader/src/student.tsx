/** The students' view: their released assignments with due dates, extension, submission, feedback. */
import { requestAPI } from '@hotstepper/api';
import type { GraderMyAssignment } from '@hotstepper/api';
import * as React from 'react';
import { Feedback } from './feedback.js';
import { duration, when } from './format.js';
import { useBusy } from './hooks.js';

export function Student() {
  const [list, setList] = React.useState<GraderMyAssignment[] | null>(null);
  const { busy, result, run } = useBusy();
  const refresh = React.useCallback(
    async () => setList((await requestAPI('listMyGraderAssignments')).assignments),
    []
  );
  React.useEffect(() => void refresh().catch(() => undefined), [refresh]);
  const act = (label: string, fn: () => Promise<string | void>) =>
    run(label, async () => {
      const text = await fn();
      await refresh();
      return text;
    });
  return (
    <section className="jp-HotstepperGrader-student" aria-label="My assignments">
      <h3>My assignments</h3>
      <Feedback busy={busy} result={result} />
      {list === null ? (
        <progress />
      ) : list.length === 0 ? (
        <p className="jp-HotstepperGrader-muted">No released assignments.</p>
      ) : (
        <div className="jp-HotstepperGrader-scroll">
          <table className="jp-HotstepperGrader-table">
            <thead>
              <tr>
                <th>Course</th>
                <th>Assignment</th>
                <th>Due</th>
                <th>My extension</th>
                <th>Submitted</th>
                <th>Feedback</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map(a => {
                const params = { course: a.course, assignment: a.assignment };
                return (
                  <tr key={`${a.course}/${a.assignment}`}>
                    <td>{a.course}</td>
                    <td>{a.assignment}</td>
                    <td>{when(a.effectiveDuedate)}</td>
                    <td>{duration(a.extensionSeconds)}</td>
                    <td className={a.late ? 'jp-HotstepperGrader-late' : ''}>
                      {a.submittedAt ? `${when(a.submittedAt)}${a.late ? ' (late)' : ''}` : ''}
                    </td>
                    <td>
                      {a.feedbackReleased
                        ? `released${a.score === null ? '' : ` · ${a.score} / ${a.maxScore}`}`
                        : ''}
                    </td>
                    <td className="jp-HotstepperGrader-rowActions">
                      <button
                        className="jp-mod-styled"
                        onClick={() =>
                          act(
                            `Fetch ${a.assignment}`,
                            async () =>
                              (await requestAPI('fetchMyGraderAssignment', { params })).log
                          )
                        }
                      >
                        Fetch
                      </button>
                      <button
                        className="jp-mod-styled jp-mod-accept"
                        onClick={() =>
                          act(
                            `Submit ${a.assignment}`,
                            async () =>
                              (await requestAPI('submitMyGraderAssignment', { params })).log
                          )
                        }
                      >
                        Submit
                      </button>
                      {a.feedbackReleased && (
                        <button
                          className="jp-mod-styled"
                          onClick={() =>
                            act('Fetch feedback', async () =>
                              (
                                await requestAPI('fetchFeedbackMyGraderAssignment', { params })
                              ).files?.join(', ')
                            )
                          }
                        >
                          Fetch feedback
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
