/**
 * An assignment's source notebooks, as the teacher authors them from Lab: add notebooks from
 * their own files, edit one (a copy in their server that goes back to the course on save),
 * validate the nbgrader cells, and preview the student version Generate made.
 */
import { requestAPI } from '@hotstepper/api';
import type { GraderSourceNotebook, GraderValidation } from '@hotstepper/api';
import * as React from 'react';
import { when } from './format.js';
import { message, type Run } from './hooks.js';
import type { ILabFiles } from './lab-files.js';
import { pickNotebooks } from './pick-notebooks.js';
import { useTrans } from './trans.js';

const kib = (bytes: number) => `${Math.max(1, Math.round(bytes / 1024))} KiB`;

export function Sources({
  params,
  sources,
  files,
  busy,
  act
}: {
  params: { course: string; assignment: string };
  sources: readonly GraderSourceNotebook[];
  files: ILabFiles;
  busy: string | null;
  act: Run;
}) {
  const trans = useTrans();
  const [validated, setValidation] = React.useState<GraderValidation | null>(null);
  // Another assignment's validation goes; so does one of notebooks that changed since (the
  // list may lag behind a save the validation already included: that one stays).
  React.useEffect(() => setValidation(null), [params.course, params.assignment]);
  const validation = validated && !Private.changedSince(validated, sources) ? validated : null;

  const add = () =>
    act(trans.__('Add notebooks'), async () => {
      const chosen = await pickNotebooks(await files.listNotebooks(), params.assignment, trans);
      if (!chosen) return trans.__('No notebooks added.');
      const added: string[] = [];
      const failed: string[] = [];
      for (const nb of chosen) {
        try {
          const content = await files.read(nb.path);
          await requestAPI('putGraderNotebook', {
            params: { ...params, notebook: nb.name },
            body: { content }
          });
          added.push(nb.name);
        } catch (e) {
          failed.push(trans.__('%1: %2', nb.path, message(e)));
        }
      }
      if (failed.length)
        throw new Error([trans.__('Added %1.', added.join(', ') || '—'), ...failed].join(' '));
      return trans.__('Added %1 to %2.', added.join(', '), params.assignment);
    });
  const validate = () =>
    act(trans.__("Validate (running the notebooks' tests)"), async () => {
      const v = await requestAPI('validateGraderAssignment', { params });
      setValidation(v);
      // the sentence and the problems are in the validation box itself
      return trans.__('Validated %1.', params.assignment);
    });
  const open = (label: string, fn: () => Promise<string>) =>
    act(label, async () => trans.__('Opened %1', await fn()));

  return (
    <section className="jp-HotstepperGrader-sources" aria-label={trans.__('Source notebooks')}>
      <h3>{trans.__('Source notebooks')}</h3>
      {sources.length === 0 ? (
        <p className="jp-HotstepperGrader-muted">
          {trans.__('No notebooks in this assignment yet.')}
        </p>
      ) : (
        <table className="jp-HotstepperGrader-table">
          <tbody>
            {sources.map(s => (
              <tr key={s.name} data-notebook={s.name}>
                <th scope="row">{s.name}.ipynb</th>
                <td>{kib(s.size)}</td>
                <td>{trans.__('changed %1', when(s.modified))}</td>
                <td>
                  <button
                    className="jp-mod-styled"
                    disabled={!!busy}
                    aria-label={trans.__('Edit %1', s.name)}
                    onClick={() =>
                      open(trans.__('Edit'), () =>
                        files.edit(params.course, params.assignment, s.name)
                      )
                    }
                  >
                    {trans.__('Edit')}
                  </button>{' '}
                  <button
                    className="jp-mod-styled"
                    disabled={!!busy}
                    aria-label={trans.__('Preview student version of %1', s.name)}
                    title={trans.__('The student version Generate made, read-only')}
                    onClick={() =>
                      open(trans.__('Preview student version'), () =>
                        files.preview(params.course, params.assignment, s.name)
                      )
                    }
                  >
                    {trans.__('Preview student version')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="jp-HotstepperGrader-actions">
        <button className="jp-mod-styled" disabled={!!busy} onClick={add}>
          {trans.__('Add notebooks…')}
        </button>
        <button
          className="jp-mod-styled"
          disabled={!!busy || sources.length === 0}
          onClick={validate}
        >
          {trans.__('Validate')}
        </button>
      </div>
      {sources.length > 0 && (
        <p className="jp-HotstepperGrader-muted">
          {trans.__(
            'Edit opens a copy in ~/courses/%1/source/%2/; each save puts it back into the course.',
            params.course,
            params.assignment
          )}
        </p>
      )}
      {validation && (
        <div
          className={`jp-HotstepperGrader-validation ${validation.ready ? 'jp-mod-ready' : 'jp-mod-problems'}`}
          data-testid="grader-validation"
          role="status"
        >
          <b>{validation.message}</b>
          {validation.problems.length > 0 && (
            <ul>
              {validation.problems.map((p, i) => (
                <li key={i}>
                  {p.notebook && `${p.notebook}.ipynb: `}
                  {p.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}

namespace Private {
  /** Whether a listed notebook is newer than the validation's copy of it, or not in it. */
  export function changedSince(
    validation: GraderValidation,
    sources: readonly GraderSourceNotebook[]
  ): boolean {
    const seen = new Map(validation.sources.map(s => [s.name, Date.parse(s.modified)]));
    return sources.some(s => !seen.has(s.name) || Date.parse(s.modified) > seen.get(s.name)!);
  }
}
