/**
 * The Grader panel: courses → assignments → students. Instructors get actions with progress and
 * results, the per-student status table with filters, the autograde queue with logs, and export;
 * students get their assignments with due dates, their extension and feedback.
 */
import { CompanionError, requestAPI } from '@hotstepper/api';
import type {
  GraderAssignment,
  GraderCourse,
  GraderMyAssignment,
  GraderQueue,
  GraderSubmission,
  GraderUnit
} from '@hotstepper/api';
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';
import { ago, duration, when } from './format.js';

export interface IGraderViewOptions {
  openGrading: (course: string, assignment: string, student: string) => void;
  refreshSeconds: () => number;
}

type Filter = 'all' | 'late' | 'grading' | 'missing';

const message = (e: unknown) => (e instanceof CompanionError ? e.detail : String(e));

function useBusy() {
  const [busy, setBusy] = React.useState<string | null>(null);
  const [result, setResult] = React.useState<{ ok: boolean; text: string } | null>(null);
  const run = async (label: string, fn: () => Promise<string | void>) => {
    setBusy(label);
    setResult(null);
    try {
      const text = await fn();
      setResult({ ok: true, text: text || `${label}: done` });
    } catch (e) {
      setResult({ ok: false, text: `${label}: ${message(e)}` });
    } finally {
      setBusy(null);
    }
  };
  return { busy, result, run };
}

function Feedback({
  busy,
  result
}: {
  busy: string | null;
  result: { ok: boolean; text: string } | null;
}) {
  if (busy) {
    return (
      <div className="jp-HotstepperGrader-progress" role="status">
        <progress /> {busy}…
      </div>
    );
  }
  if (!result) return null;
  return (
    <div
      className={result.ok ? 'jp-HotstepperGrader-ok' : 'jp-HotstepperGrader-error'}
      role={result.ok ? 'status' : 'alert'}
    >
      {result.text}
    </div>
  );
}

function QueueSummary({
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

function StatusTable(props: {
  course: string;
  assignment: GraderAssignment;
  rows: GraderSubmission[];
  onGrade: (student: string) => void;
  onChange: () => void;
  run: (label: string, fn: () => Promise<string | void>) => Promise<void>;
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
                    onClick={() => {
                      const hours = window.prompt(
                        `Extension for ${r.student} in hours (0 removes it)`,
                        String(r.extensionSeconds / 3600)
                      );
                      if (hours === null || Number.isNaN(Number(hours))) return;
                      void props.run(`Extension for ${r.student}`, async () => {
                        await requestAPI('putGraderExtension', {
                          params: { ...params, student: r.student },
                          body: { seconds: Math.round(Number(hours) * 3600) }
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

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Instructor({ course, options }: { course: string; options: IGraderViewOptions }) {
  const [assignments, setAssignments] = React.useState<GraderAssignment[] | null>(null);
  const [selected, setSelected] = React.useState<string | null>(null);
  const [rows, setRows] = React.useState<GraderSubmission[] | null>(null);
  const [queue, setQueue] = React.useState<GraderQueue | null>(null);
  const [exported, setExported] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const { busy, result, run } = useBusy();
  const current = assignments?.find(a => a.name === selected) ?? null;

  // One refresh at a time: a slow answer must not land after (and over) a newer one.
  const inflight = React.useRef<Promise<void> | null>(null);
  const refresh = React.useCallback(async () => {
    if (inflight.current) return inflight.current;
    const run = (async () => {
      try {
        const list = (await requestAPI('listGraderAssignments', { params: { course } }))
          .assignments;
        setAssignments(list);
        const name = selected ?? list[0]?.name ?? null;
        if (name !== selected) setSelected(name);
        const [q, table] = await Promise.all([
          requestAPI('getGraderQueue', { params: { course } }),
          name
            ? requestAPI('listGraderSubmissions', { params: { course, assignment: name } })
            : null
        ]);
        setQueue(q);
        if (table) setRows(table.submissions);
        setError(null);
      } catch (e) {
        setError(message(e));
      } finally {
        inflight.current = null;
      }
    })();
    inflight.current = run;
    return run;
  }, [course, selected]);

  const active = queue?.units.some(u => u.state === 'queued' || u.state === 'running') ?? false;
  React.useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), (active ? 2 : options.refreshSeconds()) * 1000);
    return () => clearInterval(timer);
  }, [refresh, active]);

  const act = (label: string, fn: () => Promise<string | void>) =>
    run(label, async () => {
      const text = await fn();
      await refresh();
      return text;
    });
  const params = current ? { course, assignment: current.name } : null;
  const lastLine = (log: string) => log.trim().split('\n').slice(-1)[0] ?? '';

  return (
    <div className="jp-HotstepperGrader-instructor">
      {error && (
        <div className="jp-HotstepperGrader-error" role="alert">
          {error}
        </div>
      )}
      <div className="jp-HotstepperGrader-columns">
        <nav className="jp-HotstepperGrader-assignments" aria-label="Assignments">
          <h3>Assignments</h3>
          {assignments === null ? (
            <progress />
          ) : assignments.length === 0 ? (
            <p className="jp-HotstepperGrader-muted">No assignments yet.</p>
          ) : (
            <ul>
              {assignments.map(a => (
                <li key={a.name}>
                  <button
                    className={`jp-HotstepperGrader-assignment ${a.name === selected ? 'jp-mod-selected' : ''}`}
                    onClick={() => setSelected(a.name)}
                  >
                    <b>{a.name}</b>{' '}
                    <span className={`jp-HotstepperGrader-status jp-mod-${a.status}`}>
                      {a.status}
                    </span>
                    <br />
                    <small>due {when(a.duedate)}</small>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <button
            className="jp-mod-styled"
            onClick={() => {
              const name = window.prompt('New assignment name (letters, digits, _ - .)');
              if (!name) return;
              const due = window.prompt(
                'Due date (ISO 8601 with zone, e.g. 2026-12-01T17:00:00Z), empty for none',
                ''
              );
              void act(`Create ${name}`, async () => {
                await requestAPI('putGraderAssignment', {
                  params: { course, assignment: name },
                  body: { duedate: due ? due : null }
                });
                setSelected(name);
              });
            }}
          >
            New assignment
          </button>
          <button
            className="jp-mod-styled"
            onClick={() =>
              act('Export grades', async () => {
                const out = await requestAPI('exportGraderGrades', { params: { course } });
                setExported(out.csv);
                download(`${course}-grades.csv`, out.csv);
                return `Exported ${out.csv.trim().split('\n').length - 1} rows (${out.columns.join(', ')})`;
              })
            }
          >
            Export grades (CSV)
          </button>
        </nav>
        <main className="jp-HotstepperGrader-main">
          {current && params && (
            <>
              <header className="jp-HotstepperGrader-header">
                <h2>
                  {current.name}{' '}
                  <span className={`jp-HotstepperGrader-status jp-mod-${current.status}`}>
                    {current.status}
                  </span>
                </h2>
                <div>
                  Due {when(current.duedate)} · {current.numSubmissions} submissions · max{' '}
                  {current.maxScore} points · average {current.averageScore.toFixed(2)}
                </div>
              </header>
              <div
                className="jp-HotstepperGrader-actions"
                role="toolbar"
                aria-label="Assignment actions"
              >
                <button
                  className="jp-mod-styled"
                  disabled={!!busy}
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
                  disabled={!!busy}
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
              <Feedback busy={busy} result={result} />
              {queue && (
                <QueueSummary course={course} queue={queue} onChange={() => void refresh()} />
              )}
              {rows === null ? (
                <progress />
              ) : (
                <StatusTable
                  course={course}
                  assignment={current}
                  rows={rows}
                  onGrade={student => options.openGrading(course, current.name, student)}
                  onChange={() => void refresh()}
                  run={act}
                />
              )}
            </>
          )}
          {!current && <Feedback busy={busy} result={result} />}
          {exported && (
            <details className="jp-HotstepperGrader-export">
              <summary>Last export</summary>
              <pre>{exported}</pre>
            </details>
          )}
        </main>
      </div>
    </div>
  );
}

function Student() {
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

function Grader({ options }: { options: IGraderViewOptions }) {
  const [courses, setCourses] = React.useState<GraderCourse[] | null>(null);
  const [course, setCourse] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    requestAPI('listGraderCourses')
      .then(r => {
        setCourses(r.courses);
        setCourse(r.courses.find(c => c.role === 'instructor')?.name ?? null);
      })
      .catch(e => setError(message(e)));
  }, []);
  if (error)
    return (
      <div className="jp-HotstepperGrader-error" role="alert">
        {error}
      </div>
    );
  if (!courses) return <progress />;
  const teaching = courses.filter(c => c.role === 'instructor');
  const taking = courses.filter(c => c.role === 'student');
  return (
    <div className="jp-HotstepperGrader">
      {teaching.length > 0 && (
        <div className="jp-HotstepperGrader-courses">
          <label>
            Course{' '}
            <select
              className="jp-mod-styled"
              value={course ?? ''}
              onChange={e => setCourse(e.target.value)}
            >
              {teaching.map(c => (
                <option key={c.name} value={c.name}>
                  {c.name} ({c.students} students)
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {course && <Instructor key={course} course={course} options={options} />}
      {taking.length > 0 && <Student />}
      {teaching.length === 0 && taking.length === 0 && (
        <p className="jp-HotstepperGrader-muted">You are in no nbgrader course on this hub.</p>
      )}
    </div>
  );
}

/** The Grader as a Lumino widget for the main area. */
export class GraderView extends ReactWidget {
  constructor(private readonly _options: IGraderViewOptions) {
    super();
    this.addClass('jp-HotstepperGrader-widget');
  }
  protected render(): React.ReactElement {
    return <Grader options={this._options} />;
  }
}
