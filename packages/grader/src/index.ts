/**
 * @packageDocumentation
 * The Hotstepper Grader: an nbgrader instructor panel native to JupyterLab (courses, assignments,
 * per-student status, the autograde queue, manual grading in its own tab, export) and the
 * students' view of their assignments, due dates, extensions and feedback.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { checkIcon } from '@jupyterlab/ui-components';
import { GradingView } from './grading.js';
import { GraderView } from './view.js';

export const CommandIDs = {
  openGrader: 'hotstepper:open-grader',
  openGrading: 'hotstepper:open-grading'
} as const;

const PLUGIN_ID = '@hotstepper/grader:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The Grader: nbgrader courses for instructors, assignments and feedback for students.',
  autoStart: true,
  optional: [ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    let widget: MainAreaWidget<GraderView> | null = null;
    let refreshSeconds = 15;
    const openGrading = (course: string, assignment: string, student: string) => {
      const content = new GradingView(course, assignment, student);
      const tab = new MainAreaWidget({ content });
      tab.id = `hotstepper-grading-${course}-${assignment}-${student}`;
      tab.title.label = trans.__('Grade %1 · %2', student, assignment);
      tab.title.icon = checkIcon;
      tab.title.closable = true;
      app.shell.add(tab, 'main');
      app.shell.activateById(tab.id);
    };
    app.commands.addCommand(CommandIDs.openGrader, {
      label: trans.__('Open Grader'),
      caption: trans.__(
        'nbgrader courses: assignments, per-student status, autograde queue, grades'
      ),
      execute: () => {
        if (!widget || widget.isDisposed) {
          const content = new GraderView({
            trans,
            openGrading,
            refreshSeconds: () => refreshSeconds
          });
          widget = new MainAreaWidget({ content });
          widget.id = 'hotstepper-grader';
          widget.title.label = trans.__('Grader');
          widget.title.icon = checkIcon;
          widget.title.closable = true;
        }
        if (!widget.isAttached) app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });
    app.commands.addCommand(CommandIDs.openGrading, {
      label: trans.__('Grade a Submission'),
      execute: args =>
        openGrading(String(args.course), String(args.assignment), String(args.student))
    });
    palette?.addItem({ command: CommandIDs.openGrader, category: 'Hotstepper' });
    if (settings) {
      void settings
        .load(PLUGIN_ID)
        .then(s => {
          const apply = () => (refreshSeconds = s.get('refreshInterval').composite as number);
          apply();
          s.changed.connect(apply);
        })
        .catch(reason => console.error(`${PLUGIN_ID}: could not load settings`, reason));
    }
  }
};

export default [plugin];
