/**
 * The "Create Assignment" toggle (notebook toolbar, View menu, palette): while on, every open
 * notebook shows nbgrader's cell toolbar. Built here on Lab's own services rather than installing
 * nbgrader's lab extension into the notebook image, which would show it to every user (students
 * too) and bring nbgrader's server side into each user's pod.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { addCellToolbars, removeCellToolbars } from './cell-toolbar.js';
import { PREVIEW_PATH } from './lab-files.js';
import { watchNotebooks, type INotebookPanelLike } from './notebooks.js';

export const CREATE_ASSIGNMENT = 'hotstepper:create-assignment';

export function setupCreateAssignment(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  trans: TranslationBundle,
  teaches: () => boolean
): void {
  let on = false;
  const panels = new Set<INotebookPanelLike>();
  // A preview of the student version is read-only: no toolbar to change its cells.
  const show = (panel: INotebookPanelLike) =>
    on && !PREVIEW_PATH.test(panel.context.path)
      ? addCellToolbars(panel, trans)
      : removeCellToolbars(panel);

  watchNotebooks(tracker, panel => {
    panels.add(panel);
    panel.disposed.connect(() => panels.delete(panel));
    void panel.context.ready.then(() => {
      show(panel);
      // New cells get theirs once the notebook has made their widgets (after this signal).
      panel.content.model?.cells.changed.connect(() =>
        requestAnimationFrame(() => on && show(panel))
      );
    });
  });

  app.commands.addCommand(CREATE_ASSIGNMENT, {
    label: trans.__('Create Assignment'),
    caption: trans.__(
      'Mark cells as nbgrader expects: answers, tests, read-only, grade ids and points'
    ),
    isToggled: () => on,
    isVisible: teaches,
    isEnabled: teaches,
    execute: () => {
      on = !on;
      panels.forEach(show);
      app.commands.notifyCommandChanged(CREATE_ASSIGNMENT);
    }
  });
}
