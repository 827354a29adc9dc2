/**
 * The notebook panels as this extension sees them. @jupyterlab/notebook is not among our build
 * dependencies, so panels are recognised by shape (a document widget whose model is a notebook)
 * and executions are read from the kernel's own messages, which carry JupyterLab's cell id.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { WelcomeDigestRequest } from '@hotstepper/api';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

type Cell = WelcomeDigestRequest['cells'][number];

/** The parts of a NotebookPanel we use. */
export interface INotebookPanel extends Widget {
  context: {
    path: string;
    ready: Promise<void>;
    isDisposed: boolean;
    model: { toJSON(): unknown; metadata?: Record<string, unknown> };
    sessionContext: ISessionContext;
    saveState: ISignal<unknown, string>;
    /**
     * The document context's new path after a rename or move (File > Rename, the file browser,
     * the rename dialog of a first save, a folder renamed around it); cell ids persist through it.
     */
    pathChanged: ISignal<unknown, string>;
  };
  content: {
    widgets: readonly { model: { id: string } }[];
    activeCellIndex: number;
    deselectAll(): void;
    scrollToItem?(index: number, behavior?: string): Promise<void>;
  };
  contentHeader?: { addWidget(widget: Widget): void };
}

export function isNotebookPanel(widget: Widget | null | undefined): widget is INotebookPanel {
  const w = widget as Partial<INotebookPanel> | null | undefined;
  return Boolean(
    w && widget!.hasClass('jp-NotebookPanel') && w.context?.sessionContext && w.content?.widgets
  );
}

/** Per-cell limits of what goes to the companion: outputs only as far as errors are concerned. */
const MAX_SOURCE = 20_000;

/** The notebook's cells as the digest request wants them (binary outputs left out). */
export function notebookCells(panel: INotebookPanel): {
  cells: Cell[];
  metadata: Record<string, unknown>;
} {
  const json = panel.context.model.toJSON() as {
    cells?: Record<string, unknown>[];
    metadata?: Record<string, unknown>;
  };
  const cells = (json.cells ?? []).map((c, i) => {
    const source = Array.isArray(c.source) ? c.source.join('') : String(c.source ?? '');
    const outputs = Array.isArray(c.outputs) ? (c.outputs as Record<string, unknown>[]) : [];
    return {
      id: typeof c.id === 'string' && c.id ? c.id : `index-${i}`,
      cell_type: (c.cell_type as Cell['cell_type']) ?? 'code',
      source: source.slice(0, MAX_SOURCE),
      execution_count: typeof c.execution_count === 'number' ? c.execution_count : null,
      // Only error outputs are read; the others would only weigh (images are base64).
      outputs: outputs
        .filter(o => o.output_type === 'error')
        .slice(0, 5)
        .map(o => ({
          output_type: 'error',
          ename: o.ename,
          evalue: o.evalue,
          traceback: Array.isArray(o.traceback) ? o.traceback.slice(-5) : []
        }))
    };
  });
  return { cells, metadata: json.metadata ?? {} };
}

/** Scroll to a cell and select it; false when the cell is no longer in the notebook. */
export function jumpToCell(panel: INotebookPanel, cellId: string): boolean {
  const notebook = panel.content;
  const index = notebook.widgets.findIndex(w => w.model.id === cellId);
  if (index < 0) return false;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  void notebook.scrollToItem?.(index, 'center');
  return true;
}
