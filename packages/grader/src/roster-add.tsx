/**
 * Adding one student (or updating one already on the roster). The id is checked here as the
 * companion checks it, so a typo is named before anything is sent; what the companion refuses
 * (e.g. a user the hub does not know) comes back as its own problem message.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderStudent } from '@hotstepper/api';
import * as React from 'react';
import type { Run } from './hooks.js';

/** nbgrader ids as the companion accepts them (schema GraderStudent.id): no path separators. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

interface IFields {
  id: string;
  firstName: string;
  lastName: string;
  email: string;
}

const EMPTY: IFields = { id: '', firstName: '', lastName: '', email: '' };

/** What is wrong with each field, if anything. */
function invalid(f: IFields): Partial<Record<keyof IFields, string>> {
  const out: Partial<Record<keyof IFields, string>> = {};
  const id = f.id.trim();
  if (!id) out.id = 'A student id is required.';
  else if (!ID.test(id))
    out.id =
      'The id is the hub user name: letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters.';
  const email = f.email.trim();
  if (email && !EMAIL.test(email)) out.email = `"${email}" is not an email address.`;
  return out;
}

export function RosterAdd({
  course,
  students,
  busy,
  run,
  onAdded
}: {
  course: string;
  students: GraderStudent[];
  busy: string | null;
  run: Run;
  onAdded: (roster: GraderStudent[]) => void;
}) {
  const [fields, setFields] = React.useState<IFields>(EMPTY);
  const [checked, setChecked] = React.useState(false);
  const problems = checked ? invalid(fields) : {};
  const known = students.some(s => s.id === fields.id.trim());
  const set = (k: keyof IFields) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setFields({ ...fields, [k]: e.target.value });

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (Object.keys(invalid(fields)).length) return;
    const id = fields.id.trim();
    const or = (v: string) => v.trim() || null;
    void run(`${known ? 'Update' : 'Add'} ${id}`, async () => {
      await requestAPI('putGraderStudent', {
        params: { course, student: id },
        body: {
          id,
          firstName: or(fields.firstName),
          lastName: or(fields.lastName),
          email: or(fields.email)
        }
      });
      onAdded((await requestAPI('getGraderRoster', { params: { course } })).students);
      setFields(EMPTY);
      setChecked(false);
      return `${known ? 'Updated' : 'Added'} ${id} ${known ? 'in' : 'to'} ${course}`;
    });
  };

  const field = (k: keyof IFields, label: string, type = 'text') => (
    <label className="jp-HotstepperGrader-field">
      {label}
      <input
        className="jp-mod-styled"
        type={type}
        value={fields[k]}
        onChange={set(k)}
        aria-invalid={!!problems[k]}
        aria-describedby={problems[k] ? `jp-HotstepperGrader-add-${k}` : undefined}
        disabled={!!busy}
      />
    </label>
  );

  return (
    <form
      className="jp-HotstepperGrader-rosterAdd"
      aria-label="Add a student"
      noValidate
      onSubmit={submit}
    >
      <h3>Add a student</h3>
      <div className="jp-HotstepperGrader-fields">
        {field('id', 'Student id')}
        {field('firstName', 'First name')}
        {field('lastName', 'Last name')}
        {field('email', 'Email', 'email')}
        <button className="jp-mod-styled jp-mod-accept" type="submit" disabled={!!busy}>
          {known ? 'Update student' : 'Add student'}
        </button>
      </div>
      {(Object.keys(problems) as (keyof IFields)[]).map(k => (
        <div
          key={k}
          id={`jp-HotstepperGrader-add-${k}`}
          className="jp-HotstepperGrader-fieldError"
          role="alert"
        >
          {problems[k]}
        </div>
      ))}
      <p className="jp-HotstepperGrader-muted">
        The id is the student's hub user name; they join the hub group nbgrader-{course}.
      </p>
    </form>
  );
}
