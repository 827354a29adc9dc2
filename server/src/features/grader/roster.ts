/**
 * Who may be in nbgrader's gradebook: a roster CSV (a header row naming id (required),
 * first_name, last_name, email; all or nothing), and the members of a course's hub group, whose
 * names JupyterHub allows but nbgrader may not.
 */
import type { GraderStudent } from '@hotstepper/schema';
import { HttpProblem } from '../../platform/problem.js';
import { NAME } from './names.js';

/** Whether nbgrader can take a name as an id and as a path part: NAME, and no "..". */
export const usableName = (value: string): boolean => NAME.test(value) && !value.includes('..');

/**
 * A hub group's members as the gradebook may take them. JupyterHub allows "+", spaces, "..",
 * line breaks and more in names; "+" separates the parts of an exchange folder's name, the
 * rest end up in paths and logs. Those members are skipped (sorted), never passed to nbgrader.
 */
export function usableMembers(members: string[]): { usable: string[]; skipped: string[] } {
  const usable: string[] = [];
  const skipped: string[] = [];
  for (const m of members) (usableName(m) ? usable : skipped).push(m);
  return { usable, skipped: skipped.sort() };
}

/** One CSV line into fields: commas, double quotes with "" inside (RFC 4180, no line breaks in fields). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map(f => f.trim());
}

export function parseRoster(csv: string): GraderStudent[] {
  const lines = csv.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = fields(lines[0] ?? '').map(h => h.toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const invalid = (errors: { path: string; message: string }[]) =>
    new HttpProblem(
      400,
      'roster_invalid',
      `The roster CSV was not imported (nothing was added): ${errors.map(e => `${e.path} ${e.message}`).join('; ')}.`,
      errors
    );
  if (col('id') < 0)
    throw invalid([
      { path: 'line 1', message: 'has no "id" column (expected id,first_name,last_name,email)' }
    ]);
  const seen = new Map<string, number>();
  const errors: { path: string; message: string }[] = [];
  const students: GraderStudent[] = [];
  lines.slice(1).forEach((line, i): void => {
    if (!line.trim()) return;
    const n = i + 2;
    const f = fields(line);
    const id = f[col('id')] ?? '';
    const opt = (name: string) => (col(name) >= 0 && f[col(name)] ? f[col(name)] : null);
    if (!id) {
      errors.push({ path: `line ${n}`, message: 'has no id' });
      return;
    }
    if (!usableName(id)) {
      errors.push({ path: `line ${n}`, message: `id "${id}" is not a plain name` });
      return;
    }
    if (seen.has(id)) {
      errors.push({ path: `line ${n}`, message: `repeats id "${id}" of line ${seen.get(id)}` });
      return;
    }
    seen.set(id, n);
    students.push({
      id,
      firstName: opt('first_name'),
      lastName: opt('last_name'),
      email: opt('email')
    });
  });
  if (errors.length) throw invalid(errors.slice(0, 50));
  if (!students.length) throw invalid([{ path: 'csv', message: 'has no students' }]);
  return students;
}
