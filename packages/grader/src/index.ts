/**
 * @packageDocumentation
 * The Hotstepper Grader: an nbgrader instructor panel native to JupyterLab (courses, assignments,
 * per-student status, the autograde queue, manual grading in its own tab, export) and the
 * students' view of their assignments, due dates, extensions and feedback.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { checkIcon } from '@jupyterlab/ui-components';
import { CREATE_ASSIGNMENT, setupCreateAssignment } from './create-assignment.js';
import { GradingView } from './grading.js';
import { createLabFiles } from './lab-files.js';
import { saveToCourse } from './save-to-course.js';
import { teachingCourses } from './teaching.js';
import { GraderView } from './view.js';

export const CommandIDs = {
  openGrader: 'hotstepper:open-grader',
  openGrading: 'hotstepper:open-grading',
  createAssignment: CREATE_ASSIGNMENT
} as const;

const PLUGIN_ID = '@hotstepper/grader:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The Grader: nbgrader courses for instructors, assignments and feedback for students.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const files = createLabFiles(app, tracker);
    let teaching: ReadonlySet<string> = new Set();
    void teachingCourses().then(t => (teaching = t));
    saveToCourse(tracker, trans, () => teaching);
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
            refreshSeconds: () => refreshSeconds,
            files
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

/** nbgrader's cell toolbar for teachers; its menu and notebook toolbar items are in its schema. */
const createAssignment: JupyterFrontEndPlugin<void> = {
  id: '@hotstepper/grader:create-assignment',
  description: 'The Create Assignment toggle: nbgrader cell types, grade ids and points per cell.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    let teaches = false;
    setupCreateAssignment(app, tracker, trans, () => teaches);
    void teachingCourses().then(t => {
      teaches = t.size > 0;
      app.commands.notifyCommandChanged(CREATE_ASSIGNMENT);
    });
    palette?.addItem({ command: CREATE_ASSIGNMENT, category: 'Hotstepper' });
  }
};

export default [plugin, createAssignment];
