/**
 * A course's roster: the students in nbgrader's gradebook and in the hub group nbgrader-<course>
 * (the companion reports both, so a student missing from either shows), with adding one, importing
 * a CSV and removing one after a confirmation.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderStudent } from '@hotstepper/api';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';
import { Feedback } from './feedback.js';
import { message, useBusy } from './hooks.js';
import { RosterAdd } from './roster-add.js';
import { RosterImport } from './roster-import.js';
import { useTrans } from './trans.js';

const fullName = (s: GraderStudent) => [s.firstName, s.lastName].filter(Boolean).join(' ');

const matches = (s: GraderStudent, query: string) =>
  [s.id, fullName(s), s.email ?? ''].some(v => v.toLowerCase().includes(query));

/** Removing a student is not undone: nbgrader deletes their submissions and grades with them. */
async function confirmRemove(course: string, student: string): Promise<boolean> {
  const answer = await showDialog({
    title: `Remove ${student} from ${course}?`,
    body:
      `${student} leaves the gradebook of ${course} and the hub group nbgrader-${course}. ` +
      'nbgrader deletes their submissions and grades in this course with them; this cannot be undone.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
  });
  return answer.button.accept;
}

export function Roster({ course, onChange }: { course: string; onChange: () => void }) {
  const [students, setStudents] = React.useState<GraderStudent[] | null>(null);
  // Members of the hub group whose names nbgrader cannot use: never in the gradebook.
  const [skipped, setSkipped] = React.useState<string[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [query, setQuery] = React.useState('');
  const { busy, result, run } = useBusy();

  const load = React.useCallback(async () => {
    try {
      const roster = await requestAPI('getGraderRoster', { params: { course } });
      setStudents(roster.students);
      setSkipped(roster.skipped ?? []);
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  }, [course]);
  React.useEffect(() => void load(), [load]);

  /** Every change answers with (or is followed by) the roster as the companion now sees it. */
  const changed = (roster: GraderStudent[]) => {
    setStudents(roster);
    onChange();
  };

  const remove = async (student: string) => {
    if (!(await confirmRemove(course, student))) return;
    await run(`Remove ${student}`, async () => {
      await requestAPI('deleteGraderStudent', { params: { course, student } });
      changed((await requestAPI('getGraderRoster', { params: { course } })).students);
      return `Removed ${student} from ${course}`;
    });
  };

  const trans = useTrans();
  const shown = students?.filter(s => matches(s, query.trim().toLowerCase())) ?? [];
  const outside = students?.filter(s => !s.inHubGroup).length ?? 0;
  const group = `nbgrader-${course}`;
  return (
    <section className="jp-HotstepperGrader-roster" aria-label="Roster">
      <header className="jp-HotstepperGrader-rosterHeader">
        <h2>Roster of {course}</h2>
        {students && (
          <div>
            {trans._n('%1 student', '%1 students', students.length)} ·{' '}
            {trans.__('%1 in the hub group %2', students.length - outside, group)}
            {outside > 0 && (
              <span className="jp-HotstepperGrader-late">
                {' · '}
                {trans.__('%1 not', outside)}
              </span>
            )}
          </div>
        )}
      </header>
      {error && (
        <div className="jp-HotstepperGrader-error" role="alert">
          {error}
        </div>
      )}
      {skipped.length > 0 && (
        <p className="jp-HotstepperGrader-skipped">
          Not in the roster: {skipped.map(name => JSON.stringify(name)).join(', ')} of {group}:
          nbgrader cannot use a name with +, .., spaces, line breaks or a leading dot. Rename them
          in the hub.
        </p>
      )}
      <div className="jp-HotstepperGrader-rosterTools">
        <RosterAdd
          course={course}
          students={students ?? []}
          busy={busy}
          run={run}
          onAdded={changed}
        />
        <RosterImport
          course={course}
          students={students ?? []}
          busy={busy}
          run={run}
          onImported={changed}
        />
      </div>
      <Feedback busy={busy} result={result} />
      {students === null ? (
        !error && <progress aria-label="Loading the roster" />
      ) : (
        <>
          <input
            className="jp-mod-styled jp-HotstepperGrader-search"
            type="search"
            placeholder="Filter by id, name or email"
            aria-label="Filter students"
            value={query}
            onChange={e => setQuery(e.target.value)}
          />
          <div className="jp-HotstepperGrader-scroll">
            <table className="jp-HotstepperGrader-table" aria-label={`Students of ${course}`}>
              <thead>
                <tr>
                  <th>Student</th>
                  <th>Name</th>
                  <th>Email</th>
                  <th>Hub group</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {shown.map(s => (
                  <tr key={s.id} data-student={s.id}>
                    <td>{s.id}</td>
                    <td>{fullName(s)}</td>
                    <td>{s.email ?? ''}</td>
                    <td>
                      {s.inHubGroup ? (
                        <span className="jp-HotstepperGrader-running">✓ {group}</span>
                      ) : (
                        <span className="jp-HotstepperGrader-late">not in the group</span>
                      )}
                    </td>
                    <td className="jp-HotstepperGrader-rowActions">
                      <button
                        className="jp-mod-styled"
                        disabled={!!busy}
                        aria-label={`Remove ${s.id}`}
                        onClick={() => void remove(s.id)}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {students.length === 0 && (
            <p className="jp-HotstepperGrader-muted">No students yet: add one or import a CSV.</p>
          )}
          {students.length > 0 && shown.length === 0 && (
            <p className="jp-HotstepperGrader-muted">No student matches “{query}”.</p>
          )}
        </>
      )}
    </section>
  );
}
