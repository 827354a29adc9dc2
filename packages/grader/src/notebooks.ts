/**
 * The notebooks open in Lab, as the grader needs them, from Lab's own INotebookTracker: every
 * notebook panel open now and each one opened later. Cell metadata goes through the cell model
 * (the shared model), never the DOM.
 */
import type { Cell, ICellModel } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';

export type ICellModelLike = ICellModel;
export type ICellLike = Cell;
export type INotebookPanelLike = NotebookPanel;

/** w as a notebook panel the tracker knows, when it is one. */
export function asNotebookPanel(tracker: INotebookTracker, w: Widget): NotebookPanel | null {
  return tracker.has(w) ? (w as NotebookPanel) : null;
}

/** Calls onPanel for every notebook panel open now and every one opened later. */
export function watchNotebooks(
  tracker: INotebookTracker,
  onPanel: (panel: NotebookPanel) => void
): void {
  tracker.forEach(onPanel);
  tracker.widgetAdded.connect((_, panel) => onPanel(panel));
}

/**
 * Marks an open notebook as a preview: its cells cannot be edited, its tab's tooltip says so. Not
 * its label: Lab takes a new label of a document's tab as a rename of the file.
 */
export function showReadOnly(panel: NotebookPanel, caption: string): void {
  const apply = () => {
    for (const cell of panel.content.widgets) cell.readOnly = true;
  };
  // Lab writes its own tooltip (name, path, last saved) whenever the file changes on disk: ours
  // goes back on after it, or a late save would leave the preview looking like any notebook.
  const keepCaption = () => {
    if (panel.title.caption !== caption) panel.title.caption = caption;
  };
  void panel.context.ready.then(() => {
    apply();
    panel.content.model?.cells.changed.connect(apply);
    keepCaption();
    panel.title.changed.connect(keepCaption);
    panel.addClass('jp-HotstepperGrader-preview');
  });
}
