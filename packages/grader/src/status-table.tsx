/** One assignment's per-student status table, with filters and the per-student actions. */
import { requestAPI } from '@hotstepper/api';
import type { GraderAssignment, GraderSubmission } from '@hotstepper/api';
import * as React from 'react';
import { askExtension } from './dialogs.js';
import { ago, duration, when } from './format.js';
import type { Run } from './hooks.js';

type Filter = 'all' | 'late' | 'grading' | 'missing';

export function StatusTable(props: {
  course: string;
  assignment: GraderAssignment;
  rows: GraderSubmission[];
  onGrade: (student: string) => void;
  onChange: () => void;
  run: Run;
}) {
  const [filter, setFilter] = React.useState<Filter>('all');
  const { rows } = props;
  const counts = {
    all: rows.length,
    late: rows.filter(r => r.secondsLate > 0).length,
    grading: rows.filter(r => r.needsManualGrade).length,
    missing: rows.filter(r => !r.submitted).length
  };
  const shown = rows.filter(r =>
    filter === 'late'
      ? r.secondsLate > 0
      : filter === 'grading'
        ? r.needsManualGrade
        : filter === 'missing'
          ? !r.submitted
          : true
  );
  const labels: Record<Filter, string> = {
    all: 'All',
    late: 'Late',
    grading: 'Needs grading',
    missing: 'Not submitted'
  };
  const params = { course: props.course, assignment: props.assignment.name };
  return (
    <section aria-label="Students">
      <div className="jp-HotstepperGrader-filters" role="group" aria-label="Filter students">
        {(Object.keys(labels) as Filter[]).map(f => (
          <button
            key={f}
            className={`jp-mod-styled ${filter === f ? 'jp-mod-accept' : ''}`}
            aria-pressed={filter === f}
            onClick={() => setFilter(f)}
          >
            {labels[f]} ({counts[f]})
          </button>
        ))}
      </div>
      <div className="jp-HotstepperGrader-scroll">
        <table className="jp-HotstepperGrader-table">
          <thead>
            <tr>
              <th>Student</th>
              <th>Fetched</th>
              <th>Submitted</th>
              <th>Late by</th>
              <th>Extension</th>
              <th>Autograded</th>
              <th>Score</th>
              <th>Feedback</th>
              <th>Server</th>
              <th>Last active</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map(r => (
              <tr key={r.student} data-student={r.student}>
                <td>{r.student}</td>
                <td>{r.fetched ? '✓' : ''}</td>
                <td>
                  {r.submitted ? (
                    when(r.submittedAt)
                  ) : (
                    <span className="jp-HotstepperGrader-muted">not submitted</span>
                  )}
                </td>
                <td className={r.secondsLate > 0 ? 'jp-HotstepperGrader-late' : ''}>
                  {duration(r.secondsLate)}
                </td>
                <td>{duration(r.extensionSeconds)}</td>
                <td>
                  {r.unit === 'queued' || r.unit === 'running' ? (
                    <span className="jp-HotstepperGrader-unit">{r.unit}…</span>
                  ) : r.unit === 'failed' && !r.autograded ? (
                    <span className="jp-HotstepperGrader-late">failed</span>
                  ) : r.autograded ? (
                    '✓'
                  ) : (
                    ''
                  )}
                </td>
                <td>
                  {r.score === null ? '' : `${r.score} / ${r.maxScore}`}
                  {r.needsManualGrade && (
                    <span className="jp-HotstepperGrader-badge">needs grading</span>
                  )}
                </td>
                <td>{r.feedbackReleased ? 'released' : r.feedbackGenerated ? 'generated' : ''}</td>
                <td>
                  {r.serverRunning ? (
                    <span className="jp-HotstepperGrader-running">running</span>
                  ) : (
                    'stopped'
                  )}
                </td>
                <td>{ago(r.lastActivity)}</td>
                <td className="jp-HotstepperGrader-rowActions">
                  {r.autograded && (
                    <button className="jp-mod-styled" onClick={() => props.onGrade(r.student)}>
                      Grade
                    </button>
                  )}
                  {r.collected && (
                    <button
                      className="jp-mod-styled"
                      onClick={() =>
                        props.run(`Autograde ${r.student}`, async () => {
                          await requestAPI('autogradeGrader', {
                            params,
                            body: { students: [r.student] }
                          });
                          props.onChange();
                          return `${r.student} queued`;
                        })
                      }
                    >
                      Autograde
                    </button>
                  )}
                  <button
                    className="jp-mod-styled"
                    onClick={async () => {
                      const seconds = await askExtension(r.student, r.extensionSeconds);
                      if (seconds === undefined) return;
                      void props.run(`Extension for ${r.student}`, async () => {
                        await requestAPI('putGraderExtension', {
                          params: { ...params, student: r.student },
                          body: { seconds }
                        });
                        props.onChange();
                      });
                    }}
                  >
                    Extension
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
