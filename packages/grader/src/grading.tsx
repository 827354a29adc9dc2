/**
 * Manual grading in its own tab: the submission's graded cells drawn natively (source, outputs,
 * autograder score) with a score and comment field each, saved to nbgrader's gradebook.
 * nbgrader's formgrader page is not used: in an iframe it is blank under JupyterHub 4.1+.
 */
import { CompanionError, requestAPI } from '@hotstepper/api';
import type { GraderGradeCell, GraderGrades } from '@hotstepper/api';
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

function Cell({
  cell,
  save
}: {
  cell: GraderGradeCell;
  save: (body: { manualScore?: number | null; comment?: string }) => Promise<void>;
}) {
  const [score, setScore] = React.useState(cell.manualScore ?? cell.autoScore ?? '');
  const [comment, setComment] = React.useState(cell.comment ?? '');
  const [state, setState] = React.useState<string>('');
  return (
    <article
      className={`jp-HotstepperGrader-cell ${cell.needsManualGrade ? 'jp-mod-needs' : ''}`}
      data-cell={cell.cell}
    >
      <header>
        <b>{cell.cell}</b> <span className="jp-HotstepperGrader-muted">{cell.cellType}</span>
        {cell.needsManualGrade && <span className="jp-HotstepperGrader-badge">needs grading</span>}
        <span className="jp-HotstepperGrader-muted">
          {' '}
          autograder: {cell.autoScore ?? '—'} / {cell.maxScore}
        </span>
      </header>
      <pre className="jp-HotstepperGrader-source">{cell.source}</pre>
      {cell.outputs && <pre className="jp-HotstepperGrader-output">{cell.outputs}</pre>}
      <div className="jp-HotstepperGrader-gradeRow">
        <label>
          Score{' '}
          <input
            className="jp-mod-styled"
            type="number"
            min={0}
            max={cell.maxScore}
            step={0.5}
            value={score}
            aria-label={`Score for ${cell.cell}`}
            onChange={e => setScore(e.target.value === '' ? '' : Number(e.target.value))}
          />{' '}
          / {cell.maxScore}
        </label>
        {cell.commentId && (
          <label className="jp-HotstepperGrader-comment">
            Comment
            <textarea
              className="jp-mod-styled"
              value={comment}
              aria-label={`Comment for ${cell.cell}`}
              onChange={e => setComment(e.target.value)}
            />
          </label>
        )}
        <button
          className="jp-mod-styled jp-mod-accept"
          onClick={async () => {
            setState('saving…');
            try {
              await save({
                manualScore: score === '' ? null : Number(score),
                ...(cell.commentId ? { comment } : {})
              });
              setState('saved');
            } catch (e) {
              setState(e instanceof CompanionError ? e.detail : String(e));
            }
          }}
        >
          Save
        </button>
        <span role="status">{state}</span>
      </div>
    </article>
  );
}

function Grading({
  course,
  assignment,
  student
}: {
  course: string;
  assignment: string;
  student: string;
}) {
  const [grades, setGrades] = React.useState<GraderGrades | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const load = React.useCallback(
    () =>
      requestAPI('getGraderGrades', { params: { course, assignment, student } })
        .then(setGrades)
        .catch(e => setError(e instanceof CompanionError ? e.detail : String(e))),
    [course, assignment, student]
  );
  React.useEffect(() => void load(), [load]);
  if (error)
    return (
      <div className="jp-HotstepperGrader-error" role="alert">
        {error}
      </div>
    );
  if (!grades) return <progress />;
  return (
    <div className="jp-HotstepperGrader jp-HotstepperGrader-grading">
      <h2>
        {student} · {assignment}
      </h2>
      {grades.notebooks.map(nb => (
        <section key={nb.notebook} aria-label={nb.notebook}>
          <h3>
            {nb.notebook}.ipynb — {nb.score} / {nb.maxScore}
          </h3>
          {nb.cells.map(cell => (
            <Cell
              key={cell.gradeId}
              cell={cell}
              save={async body => {
                await requestAPI('putGraderGrade', {
                  params: { course, assignment, student, grade: cell.gradeId },
                  body
                });
                await load();
              }}
            />
          ))}
        </section>
      ))}
    </div>
  );
}

export class GradingView extends ReactWidget {
  constructor(
    private readonly _course: string,
    private readonly _assignment: string,
    private readonly _student: string
  ) {
    super();
    this.addClass('jp-HotstepperGrader-widget');
  }
  protected render(): React.ReactElement {
    return <Grading course={this._course} assignment={this._assignment} student={this._student} />;
  }
}
