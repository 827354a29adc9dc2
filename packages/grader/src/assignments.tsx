/**
 * The instructor's assignments of one course: the list, the selected assignment's actions, its
 * autograde queue and per-student status table, and the grades export.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderAssignment, GraderQueue, GraderSubmission } from '@hotstepper/api';
import * as React from 'react';
import { AssignmentActions } from './assignment-actions.js';
import { askNewAssignment } from './dialogs.js';
import { download } from './download.js';
import { Feedback } from './feedback.js';
import { when } from './format.js';
import { message, useBusy } from './hooks.js';
import { QueueSummary } from './queue.js';
import { Sources } from './sources.js';
import { StatusTable } from './status-table.js';
import type { IGraderViewOptions } from './options.js';
import type { IOutcome } from './hooks.js';
import { useTrans } from './trans.js';

export function Assignments({ course, options }: { course: string; options: IGraderViewOptions }) {
  const trans = useTrans();
  const [assignments, setAssignments] = React.useState<GraderAssignment[] | null>(null);
  const [selected, setSelectedState] = React.useState<string | null>(null);
  // What the teacher chose, read by refreshes when their answer arrives: one that started before a
  // click must not put the earlier (or the first) assignment back.
  const chosen = React.useRef<string | null>(null);
  const setSelected = React.useCallback((name: string | null) => {
    chosen.current = name;
    setSelectedState(name);
  }, []);
  const [rows, setRows] = React.useState<GraderSubmission[] | null>(null);
  const [queue, setQueue] = React.useState<GraderQueue | null>(null);
  const [exported, setExported] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const { busy, result, run } = useBusy();
  const current = assignments?.find(a => a.name === selected) ?? null;

  // One refresh at a time: a slow answer must not land after (and over) a newer one. One asked for
  // while another runs (after an action) follows it: the running one may have read before the change.
  const inflight = React.useRef<Promise<void> | null>(null);
  const following = React.useRef<Promise<void> | null>(null);
  const refresh = React.useCallback(async (): Promise<void> => {
    if (inflight.current) {
      following.current ??= inflight.current.then(() => {
        following.current = null;
        return refresh();
      });
      return following.current;
    }
    const run = (async () => {
      try {
        const list = (await requestAPI('listGraderAssignments', { params: { course } }))
          .assignments;
        setAssignments(list);
        // The list may predate an assignment just created and chosen: the choice stands.
        const name = chosen.current ?? list[0]?.name ?? null;
        if (name !== chosen.current) setSelected(name);
        const [q, table] = await Promise.all([
          requestAPI('getGraderQueue', { params: { course } }),
          name
            ? requestAPI('listGraderSubmissions', { params: { course, assignment: name } })
            : null
        ]);
        setQueue(q);
        // Another assignment chosen meanwhile: its own refresh brings its table.
        if (table && name === chosen.current) setRows(table.submissions);
        setError(null);
      } catch (e) {
        setError(message(e));
      } finally {
        inflight.current = null;
      }
    })();
    inflight.current = run;
    return run;
  }, [course, setSelected]);

  const active = queue?.units.some(u => u.state === 'queued' || u.state === 'running') ?? false;
  React.useEffect(() => void refresh(), [refresh, selected]);
  React.useEffect(() => {
    const timer = setInterval(() => void refresh(), (active ? 2 : options.refreshSeconds()) * 1000);
    return () => clearInterval(timer);
  }, [refresh, active]);

  const act = (label: string, fn: () => Promise<string | void | IOutcome>) =>
    run(label, async () => {
      const text = await fn();
      await refresh();
      return text;
    });
  const params = current ? { course, assignment: current.name } : null;

  return (
    <div className="jp-HotstepperGrader-assignmentsView">
      {error && (
        <div className="jp-HotstepperGrader-error" role="alert">
          {error}
        </div>
      )}
      <div className="jp-HotstepperGrader-columns">
        <nav className="jp-HotstepperGrader-assignments" aria-label={trans.__('Assignments')}>
          <h3>{trans.__('Assignments')}</h3>
          {assignments === null ? (
            <progress />
          ) : assignments.length === 0 ? (
            <p className="jp-HotstepperGrader-muted">{trans.__('No assignments yet.')}</p>
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
                    <small>{trans.__('due %1', when(a.duedate))}</small>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <button
            className="jp-mod-styled"
            onClick={async () => {
              const answer = await askNewAssignment();
              if (!answer) return;
              void act(trans.__('Create %1', answer.name), async () => {
                await requestAPI('putGraderAssignment', {
                  params: { course, assignment: answer.name },
                  body: { duedate: answer.duedate }
                });
                setSelected(answer.name);
              });
            }}
          >
            {trans.__('New assignment')}
          </button>
          <button
            className="jp-mod-styled"
            onClick={() =>
              act(trans.__('Export grades'), async () => {
                const out = await requestAPI('exportGraderGrades', { params: { course } });
                setExported(out.csv);
                download(`${course}-grades.csv`, out.csv);
                const n = out.csv.trim().split('\n').length - 1;
                return trans._n(
                  'Exported %1 row (%2)',
                  'Exported %1 rows (%2)',
                  n,
                  out.columns.join(', ')
                );
              })
            }
          >
            {trans.__('Export grades (CSV)')}
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
                  {[
                    trans.__('Due %1', when(current.duedate)),
                    trans._n('%1 submission', '%1 submissions', current.numSubmissions),
                    trans._n('max %1 point', 'max %1 points', current.maxScore),
                    trans.__('average %1', current.averageScore.toFixed(2))
                  ].join(' · ')}
                </div>
              </header>
              <Sources
                params={params}
                sources={current.sources}
                files={options.files}
                busy={busy}
                act={act}
              />
              <AssignmentActions
                params={params}
                notebooks={current.notebooks}
                busy={busy}
                act={act}
                setQueue={setQueue}
              />
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
              <summary>{trans.__('Last export')}</summary>
              <pre>{exported}</pre>
            </details>
          )}
        </main>
      </div>
    </div>
  );
}
