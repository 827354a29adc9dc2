/**
 * The Create Assignment cell toolbar: above each cell of a notebook, nbgrader's kind of cell, its
 * grade id and points, written to the cell model's `nbgrader` metadata (the shared model, so an
 * undo, a collaborator and the saved file all see the same). Shown while the "Create Assignment"
 * toggle is on, to users who teach a course.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { PanelLayout } from '@lumino/widgets';
import * as React from 'react';
import { graded, KINDS, kindOf, metadataFor, type INbgraderMetadata } from './cell-types.js';
import type { ICellLike, ICellModelLike, INotebookPanelLike } from './notebooks.js';

const TOOLBAR_CLASS = 'jp-HotstepperGrader-cellToolbar';
const KEY = 'nbgrader';

function CellToolbar({ model, trans }: { model: ICellModelLike; trans: TranslationBundle }) {
  const read = () => model.getMetadata(KEY) as Partial<INbgraderMetadata> | undefined;
  const [meta, setMeta] = React.useState(read);
  React.useEffect(() => {
    const changed = () => setMeta(read());
    model.metadataChanged.connect(changed);
    return () => void model.metadataChanged.disconnect(changed);
  }, [model]);
  const kind = kindOf(meta);
  const write = (next: INbgraderMetadata | null) =>
    next ? model.setMetadata(KEY, next) : model.deleteMetadata(KEY);
  const fits = KINDS.filter(k => k.cells.includes(model.type) || k.kind === kind);
  return (
    <div className={`${TOOLBAR_CLASS}-row`} data-kind={kind || 'none'}>
      <select
        className="jp-mod-styled"
        aria-label={trans.__('nbgrader cell type')}
        value={kind}
        onChange={e => write(metadataFor(e.target.value as typeof kind, meta))}
      >
        {fits.map(k => (
          <option key={k.kind} value={k.kind}>
            {trans.__(k.label)}
          </option>
        ))}
      </select>
      {kind && (
        <label>
          {trans.__('ID')}{' '}
          <input
            className="jp-mod-styled"
            aria-label={trans.__('Grade id')}
            // Written on blur or Enter: every keystroke would be its own undo step.
            defaultValue={meta?.grade_id ?? ''}
            key={meta?.grade_id}
            onBlur={e => {
              const gradeId = e.target.value.trim();
              if (gradeId && gradeId !== meta?.grade_id)
                write(metadataFor(kind, meta, { gradeId }));
            }}
            onKeyDown={e => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
          />
        </label>
      )}
      {graded(kind) && (
        <label>
          {trans.__('Points')}{' '}
          <input
            className="jp-mod-styled"
            type="number"
            min={0}
            step="any"
            aria-label={trans.__('Points')}
            defaultValue={meta?.points ?? 1}
            key={`${meta?.grade_id}-${meta?.points}`}
            onBlur={e => {
              const points = Number(e.target.value);
              if (Number.isFinite(points) && points !== meta?.points)
                write(metadataFor(kind, meta, { points }));
            }}
            onKeyDown={e => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
          />
        </label>
      )}
    </div>
  );
}

/** Adds the toolbar to each cell of panel that has none, and keeps adding it to new cells. */
export function addCellToolbars(panel: INotebookPanelLike, trans: TranslationBundle): void {
  const add = (cell: ICellLike) => {
    const layout = cell.layout as PanelLayout;
    if (layout.widgets.some(w => w.hasClass(TOOLBAR_CLASS))) return;
    const toolbar = ReactWidget.create(<CellToolbar model={cell.model} trans={trans} />);
    toolbar.addClass(TOOLBAR_CLASS);
    toolbar.node.dataset.testid = 'grader-cell-toolbar';
    // The notebook's own mousedown handling (cell selection, command mode) would take the focus
    // from these inputs; a click here is for the toolbar alone.
    toolbar.node.addEventListener('mousedown', e => e.stopPropagation());
    layout.insertWidget(0, toolbar);
  };
  panel.content.widgets.forEach(add);
}

/** Removes every toolbar addCellToolbars added to panel. */
export function removeCellToolbars(panel: INotebookPanelLike): void {
  for (const cell of panel.content.widgets) {
    for (const w of [...(cell.layout as PanelLayout).widgets]) {
      if (w.hasClass(TOOLBAR_CLASS)) w.dispose();
    }
  }
}
