/**
 * The teacher's own server, for authoring: the course's source folder is on the companion's side
 * (never in the teacher's pod), so a source notebook is edited as a copy at a stable place,
 * ~/courses/<course>/source/<assignment>/<notebook>.ipynb, which goes back to the course each
 * time it is saved (see save-to-course.ts). Previews go to ~/courses/<course>/preview/.
 */
import { requestAPI } from '@hotstepper/api';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Contents } from '@jupyterlab/services';
import { PathExt } from '@jupyterlab/coreutils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';
import { asNotebookPanel, showReadOnly } from './notebooks.js';

/** Where copies live in the teacher's home; save-to-course.ts reads paths back with SOURCE_PATH. */
export const COURSES_DIR = 'courses';
/** courses/<course>/source/<assignment>/<notebook>.ipynb, as the contents API names it. */
export const SOURCE_PATH = /^courses\/([^/]+)\/source\/([^/]+)\/([^/]+)\.ipynb$/;

/** courses/<course>/preview/...: copies of the student version, never given the cell toolbar. */
export const PREVIEW_PATH = /^courses\/[^/]+\/preview\//;

export const sourcePath = (course: string, assignment: string, notebook: string) =>
  `${COURSES_DIR}/${course}/source/${assignment}/${notebook}.ipynb`;
// The file's own name says what it is: a document's tab is its file name (Lab renames the file when
// a tab's label is changed).
export const previewPath = (course: string, assignment: string, notebook: string) =>
  `${COURSES_DIR}/${course}/preview/${assignment}/${notebook} (student version).ipynb`;

/** A notebook of the teacher's server, for "Add notebooks…". */
export interface ILocalNotebook {
  path: string;
  /** The name the course gives it: the file name without .ipynb. */
  name: string;
}

export interface ILabFiles {
  /** Notebooks in the teacher's home and the folders below it (two levels, hidden ones and courses/ left out). */
  listNotebooks(): Promise<ILocalNotebook[]>;
  /** A notebook of the teacher's server as nbformat JSON text. */
  read(path: string): Promise<string>;
  /** Copies the course's source notebook into the teacher's server and opens it; its path. */
  edit(course: string, assignment: string, notebook: string): Promise<string>;
  /** Copies the student version into the teacher's server and opens it read-only; its path. */
  preview(course: string, assignment: string, notebook: string): Promise<string>;
}

/** The most notebooks listed, so a home with thousands does not freeze the dialog. */
const MAX_LISTED = 300;

export function createLabFiles(app: JupyterFrontEnd, tracker: INotebookTracker): ILabFiles {
  const contents = app.serviceManager.contents;

  /** Creates each missing folder of path (the contents API makes one level at a time). */
  async function ensureDir(path: string): Promise<void> {
    let at = '';
    for (const part of path.split('/')) {
      at = at ? `${at}/${part}` : part;
      try {
        await contents.get(at, { content: false });
      } catch {
        await contents.save(at, { type: 'directory' });
      }
    }
  }

  /** Writes a notebook's JSON text at path and opens it: the notebook panel. */
  async function writeAndOpen(path: string, content: string): Promise<Widget> {
    await ensureDir(PathExt.dirname(path));
    await contents.save(path, { type: 'notebook', format: 'json', content: JSON.parse(content) });
    return app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
  }

  return {
    async listNotebooks() {
      const out: ILocalNotebook[] = [];
      const walk = async (dir: string, depth: number) => {
        const listing = await contents.get(dir, { content: true });
        for (const item of (listing.content ?? []) as Contents.IModel[]) {
          if (out.length >= MAX_LISTED || item.name.startsWith('.')) continue;
          if (item.type === 'notebook') {
            out.push({ path: item.path, name: item.name.replace(/\.ipynb$/, '') });
          } else if (item.type === 'directory' && depth > 0 && item.path !== COURSES_DIR) {
            await walk(item.path, depth - 1).catch(() => undefined);
          }
        }
      };
      await walk('', 2);
      return out.sort((a, b) => a.path.localeCompare(b.path));
    },

    async read(path) {
      const model = await contents.get(path, { type: 'notebook', format: 'json', content: true });
      return JSON.stringify(model.content);
    },

    async edit(course, assignment, notebook) {
      const path = sourcePath(course, assignment, notebook);
      // An open copy may hold unsaved edits: show it instead of replacing it with the course's.
      const open = findOpen(tracker, path);
      if (open) {
        app.shell.activateById(open.id);
        return path;
      }
      const { content } = await requestAPI('getGraderNotebook', {
        params: { course, assignment, notebook }
      });
      await writeAndOpen(path, content);
      return path;
    },

    async preview(course, assignment, notebook) {
      const path = previewPath(course, assignment, notebook);
      const { content } = await requestAPI('getGraderStudentVersion', {
        params: { course, assignment, notebook }
      });
      // Always the latest Generate: an open preview is closed first, then opened again.
      findOpen(tracker, path)?.close();
      const panel = asNotebookPanel(tracker, await writeAndOpen(path, content));
      if (panel) showReadOnly(panel, `The student version of ${notebook}, read-only`);
      return path;
    }
  };
}

/** The main-area notebook showing path, if one is open. */
function findOpen(tracker: INotebookTracker, path: string): NotebookPanel | null {
  return tracker.find(panel => panel.context.path === path) ?? null;
}
