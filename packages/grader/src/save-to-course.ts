/**
 * A source notebook's copy (courses/<course>/source/<assignment>/<nb>.ipynb, made by Edit) goes
 * back to the course each time the teacher saves it: one save is one truth, so the course never
 * holds an older version than the one on screen, and there is no second "save" to forget. The
 * outcome is a Lab notification, the companion's sentence on failure (never a server path).
 */
import { requestAPI } from '@hotstepper/api';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { message } from './hooks.js';
import { SOURCE_PATH } from './lab-files.js';
import { watchNotebooks, type INotebookPanelLike } from './notebooks.js';

/** Puts each saved source copy of a course the user teaches (teaching() names them) into it. */
export function saveToCourse(
  tracker: INotebookTracker,
  trans: TranslationBundle,
  teaching: () => ReadonlySet<string>
): void {
  const upload = async (panel: INotebookPanelLike) => {
    // Read at each save: the file may have been renamed out of (or into) the source folder.
    const match = SOURCE_PATH.exec(panel.context.path);
    if (!match || !teaching().has(match[1])) return;
    const [, course, assignment, notebook] = match;
    try {
      const done = await requestAPI('putGraderNotebook', {
        params: { course, assignment, notebook },
        body: { content: JSON.stringify(panel.context.model.toJSON()) }
      });
      Notification.success(trans.__('Saved to %1: %2', course, done.message), {
        autoClose: 4000
      });
    } catch (e) {
      Notification.error(
        trans.__('%1.ipynb is saved here but not in course %2: %3', notebook, course, message(e)),
        { autoClose: false }
      );
    }
  };
  watchNotebooks(tracker, panel => {
    panel.context.saveState.connect((_, state) => {
      if (state === 'completed') void upload(panel);
    });
  });
}
