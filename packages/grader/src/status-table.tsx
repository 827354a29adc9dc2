/** One assignment's per-student status table, with filters and the per-student actions. */
import { requestAPI } from '@hotstepper/api';
import type { GraderAssignment, GraderSubmission } from '@hotstepper/api';
import * as React from 'react';
import { askExtension } from './dialogs.js';
import { ago, duration, when } from './format.js';
import type { Run } from './hooks.js';
import { useTrans } from './trans.js';

type Filter = 'all' | 'late' | 'grading' | 'missing';

/** Whether the row's autograde is still to finish: its score and "needs grading" are not news yet. */
const autograding = (r: GraderSubmission) => r.unit === 'queued' || r.unit === 'running';

export function StatusTable(props: {
  course: string;
  assignment: GraderAssignment;
  rows: GraderSubmission[];
  onGrade: (student: string) => void;
  onChange: () => void;
  run: Run;
}) {
  const trans = useTrans();
  const [filter, setFilter] = React.useState<Filter>('all');
  const { rows } = props;
  const counts = {
    all: rows.length,
    late: rows.filter(r => r.secondsLate > 0).length,
    grading: rows.filter(r => r.needsManualGrade && !autograding(r)).length,
    missing: rows.filter(r => !r.submitted).length
  };
  const shown = rows.filter(r =>
    filter === 'late'
      ? r.secondsLate > 0
      : filter === 'grading'
        ? r.needsManualGrade && !autograding(r)
        : filter === 'missing'
          ? !r.submitted
          : true
  );
  const labels: Record<Filter, string> = {
    all: trans.__('All'),
    late: trans.__('Late'),
    grading: trans.__('Needs grading'),
    missing: trans.__('Not submitted')
  };
  const params = { course: props.course, assignment: props.assignment.name };
  return (
    <section aria-label={trans.__('Students')}>
      <div
        className="jp-HotstepperGrader-filters"
        role="group"
        aria-label={trans.__('Filter students')}
      >
        {(Object.keys(labels) as Filter[]).map(f => (
          <button
            key={f}
            className={`jp-mod-styled ${filter === f ? 'jp-mod-accept' : ''}`}
            aria-pressed={filter === f}
            onClick={() => setFilter(f)}
          >
            {trans.__('%1 (%2)', labels[f], counts[f])}
          </button>
        ))}
      </div>
      <div className="jp-HotstepperGrader-scroll jp-HotstepperGrader-statusScroll">
        <table className="jp-HotstepperGrader-table jp-HotstepperGrader-statusTable">
          <thead>
            <tr>
              <th className="jp-HotstepperGrader-sticky">{trans.__('Student')}</th>
              <th>{trans.__('Fetched')}</th>
              <th>{trans.__('Submitted')}</th>
              <th>{trans.__('Late by')}</th>
              <th>{trans.__('Extension')}</th>
              <th>{trans.__('Autograded')}</th>
              <th>{trans.__('Score')}</th>
              <th>{trans.__('Feedback')}</th>
              <th>{trans.__('Server')}</th>
              <th>{trans.__('Last active')}</th>
              <th className="jp-HotstepperGrader-rowActions">
                <span className="jp-HotstepperGrader-visuallyHidden">{trans.__('Actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map(r => (
              <tr key={r.student} data-student={r.student}>
                <th scope="row" className="jp-HotstepperGrader-sticky">
                  {r.student}
                </th>
                <td>{r.fetched ? trans.__('Yes') : ''}</td>
                <td>
                  {r.submitted ? (
                    when(r.submittedAt)
                  ) : (
                    <span className="jp-HotstepperGrader-muted">{trans.__('Not submitted')}</span>
                  )}
                </td>
                <td className={r.secondsLate > 0 ? 'jp-HotstepperGrader-late' : ''}>
                  {duration(r.secondsLate, trans)}
                </td>
                <td>{duration(r.extensionSeconds, trans)}</td>
                <td>
                  {r.unit === 'queued' ? (
                    <span className="jp-HotstepperGrader-unit">{trans.__('Queued')}</span>
                  ) : r.unit === 'running' ? (
                    <span className="jp-HotstepperGrader-unit">{trans.__('Running')}</span>
                  ) : r.unit === 'failed' && !r.autograded ? (
                    <span className="jp-HotstepperGrader-late">{trans.__('Failed')}</span>
                  ) : r.autograded ? (
                    trans.__('Yes')
                  ) : (
                    ''
                  )}
                </td>
                <td>
                  {autograding(r) ? (
                    <span className="jp-HotstepperGrader-unit">
                      {r.unit === 'queued'
                        ? trans.__('Autograding… (queued)')
                        : trans.__('Autograding… (running)')}
                    </span>
                  ) : (
                    <>
                      {r.score === null || r.maxScore === null
                        ? ''
                        : trans._n('%2 / %1 point', '%2 / %1 points', r.maxScore, r.score)}
                      {r.needsManualGrade && (
                        <span className="jp-HotstepperGrader-badge">
                          {trans.__('needs grading')}
                        </span>
                      )}
                    </>
                  )}
                </td>
                <td>
                  {r.feedbackReleased
                    ? trans.__('Released')
                    : r.feedbackGenerated
                      ? trans.__('Generated')
                      : ''}
                </td>
                <td>
                  {r.serverRunning ? (
                    <span className="jp-HotstepperGrader-running">{trans.__('Running')}</span>
                  ) : (
                    trans.__('Stopped')
                  )}
                </td>
                <td>{ago(r.lastActivity, trans)}</td>
                <td className="jp-HotstepperGrader-rowActions">
                  {r.autograded && (
                    <button className="jp-mod-styled" onClick={() => props.onGrade(r.student)}>
                      {trans.__('Grade')}
                    </button>
                  )}
                  {r.collected && (
                    <button
                      className="jp-mod-styled"
                      onClick={() =>
                        props.run(trans.__('Autograde %1', r.student), async () => {
                          await requestAPI('autogradeGrader', {
                            params,
                            body: { students: [r.student] }
                          });
                          props.onChange();
                          return trans.__('%1 queued for autograding', r.student);
                        })
                      }
                    >
                      {trans.__('Autograde')}
                    </button>
                  )}
                  <button
                    className="jp-mod-styled"
                    onClick={async () => {
                      const seconds = await askExtension(r.student, r.extensionSeconds);
                      if (seconds === undefined) return;
                      void props.run(trans.__('Extension for %1', r.student), async () => {
                        await requestAPI('putGraderExtension', {
                          params: { ...params, student: r.student },
                          body: { seconds }
                        });
                        props.onChange();
                      });
                    }}
                  >
                    {trans.__('Extension')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
