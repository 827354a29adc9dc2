/**
 * Importing a roster CSV (header row: id, first_name, last_name, email; id required). The
 * companion imports all rows or none and names each line with a missing or duplicate id; the
 * counts of added and updated students come from comparing the roster before and after.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderStudent } from '@hotstepper/api';
import * as React from 'react';
import type { Run } from './hooks.js';
import { useTrans } from './trans.js';

/** The companion's limit on the CSV's length (schema GraderRosterImport.csv). */
const MAX_CHARS = 2_000_000;

/** Data rows: every non-blank line after the header (the companion skips blank ones too). */
const rowsOf = (csv: string) =>
  csv
    .split(/\r?\n/)
    .slice(1)
    .filter(l => l.trim()).length;

export function RosterImport({
  course,
  students,
  busy,
  run,
  onImported
}: {
  course: string;
  students: GraderStudent[];
  busy: string | null;
  run: Run;
  onImported: (roster: GraderStudent[]) => void;
}) {
  const trans = useTrans();
  const input = React.useRef<HTMLInputElement>(null);

  const chosen = async (e: React.ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    // Cleared, so that choosing the same file again (after fixing it) imports again.
    e.target.value = '';
    if (!file) return;
    const before = new Set(students.map(s => s.id));
    await run(`Import ${file.name}`, async () => {
      const csv = await file.text();
      if (!csv.trim()) throw new Error(`${file.name} is empty.`);
      if (csv.length > MAX_CHARS)
        throw new Error(`${file.name} is larger than ${MAX_CHARS / 1e6} million characters.`);
      const roster = (await requestAPI('importGraderRoster', { params: { course }, body: { csv } }))
        .students;
      onImported(roster);
      const added = roster.filter(s => !before.has(s.id)).length;
      const updated = Math.max(rowsOf(csv) - added, 0);
      return trans._n(
        'Imported %2: %3 added, %4 updated (%1 student in %5)',
        'Imported %2: %3 added, %4 updated (%1 students in %5)',
        roster.length,
        file.name,
        added,
        updated,
        course
      );
    });
  };

  return (
    <div className="jp-HotstepperGrader-rosterImport" role="group" aria-label="Import a CSV">
      <h3>Import a CSV</h3>
      <input
        ref={input}
        type="file"
        accept=".csv,text/csv"
        aria-label="Roster CSV file"
        hidden
        onChange={e => void chosen(e)}
      />
      <button className="jp-mod-styled" disabled={!!busy} onClick={() => input.current?.click()}>
        Import CSV…
      </button>
      <p className="jp-HotstepperGrader-muted">
        A header row naming <code>id</code> (required), <code>first_name</code>,{' '}
        <code>last_name</code>, <code>email</code>; one student per line. Students already on the
        roster are updated. If any line has a missing or repeated id, nothing is imported.
      </p>
    </div>
  );
}
