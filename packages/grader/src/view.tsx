/**
 * The Grader panel: the courses the hub puts the user in. Instructors pick a course and get its
 * assignments (actions, autograde queue, per-student status) and its roster; students get their
 * assignments with due dates, their extension and feedback.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderCourse } from '@hotstepper/api';
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';
import { message } from './hooks.js';
import { Instructor } from './instructor.js';
import type { IGraderViewOptions } from './options.js';
import { Student } from './student.js';
import { TransContext, useTrans } from './trans.js';

export type { IGraderViewOptions } from './options.js';

function Grader({ options }: { options: IGraderViewOptions }) {
  const trans = useTrans();
  const [courses, setCourses] = React.useState<GraderCourse[] | null>(null);
  const [course, setCourse] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  // Loaded again after a roster change, for each course's number of students; a failure then
  // keeps the panel as it is rather than replacing it with the error.
  const load = React.useCallback(
    (first: boolean) =>
      requestAPI('listGraderCourses')
        .then(r => {
          setCourses(r.courses);
          setCourse(c => c ?? r.courses.find(x => x.role === 'instructor')?.name ?? null);
        })
        .catch(e => first && setError(message(e))),
    []
  );
  React.useEffect(() => void load(true), [load]);
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
            {trans.__('Course')}{' '}
            <select
              className="jp-mod-styled"
              value={course ?? ''}
              onChange={e => setCourse(e.target.value)}
            >
              {teaching.map(c => (
                <option key={c.name} value={c.name}>
                  {trans._n('%2 (%1 student)', '%2 (%1 students)', c.students, c.name)}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {course && (
        <Instructor
          key={course}
          course={course}
          options={options}
          onRosterChange={() => void load(false)}
        />
      )}
      {taking.length > 0 && <Student />}
      {teaching.length === 0 && taking.length === 0 && (
        <p className="jp-HotstepperGrader-muted">
          {trans.__('You are in no nbgrader course on this hub.')}
        </p>
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
    return (
      <TransContext.Provider value={this._options.trans}>
        <Grader options={this._options} />
      </TransContext.Provider>
    );
  }
}
