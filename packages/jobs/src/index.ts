/**
 * @packageDocumentation
 * Hotstepper Jobs: run a notebook or a command as a background job (local process or Kubernetes
 * Job), with the quota shown before submitting, live logs, and a notification when it ends.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILayoutRestorer } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { Job } from '@hotstepper/api';
import { JobFormWidget } from './form.js';
import { JobsModel } from './model.js';
import { jobsIcon, JobsPanel, PANEL_ID } from './panel.js';
import { watchFinishedJobs } from './notify.js';

export const CommandIDs = {
  open: 'jobs:open',
  runAsJob: 'jobs:run-as-job',
  newJob: 'jobs:new'
} as const;

const RUNNABLE = /\.(ipynb|py|sh)$/;

/** The file browser's selection, without depending on the file browser package. */
interface IFileBrowserLike {
  selectedItems(): Iterable<{ path: string; type: string }>;
}

function selectedPath(app: JupyterFrontEnd): string | undefined {
  for (const widget of app.shell.widgets('left')) {
    const browser = widget as unknown as Partial<IFileBrowserLike>;
    if (widget.id === 'filebrowser' && typeof browser.selectedItems === 'function') {
      for (const item of browser.selectedItems()) if (RUNNABLE.test(item.path)) return item.path;
    }
  }
  return undefined;
}

function currentPath(app: JupyterFrontEnd): string | undefined {
  const widget = app.shell.currentWidget as unknown as { context?: { path?: string } } | null;
  const path = widget?.context?.path;
  return path && RUNNABLE.test(path) ? path : undefined;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@hotstepper/jobs:plugin',
  description: 'Background jobs: a Jobs panel, "Run as Job", and notifications when jobs end.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const model = new JobsModel();
    const openForm = (path?: string) => {
      const content = new JobFormWidget({
        start: { path },
        trans,
        onCreated: (job: Job) => {
          widget.dispose();
          show(job);
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `hotstepper-job-form-${Date.now()}`;
      widget.title.label = path
        ? trans.__('Run %1 as job', path.split('/').pop() ?? path)
        : trans.__('New job');
      widget.title.icon = jobsIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };
    // The executed notebook opens in Lab; the companion gives its path relative to the home, which
    // is the root of the user's server.
    const panel = new JobsPanel(
      model,
      trans,
      () => openForm(),
      path => void app.commands.execute('docmanager:open', { path })
    );
    app.shell.add(panel, 'left', { rank: 910 });
    restorer?.add(panel, PANEL_ID);
    const show = (job: Job) => {
      app.shell.activateById(panel.id);
      model.select(job);
      void model.refresh();
    };

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open Jobs'),
      caption: trans.__('My background jobs'),
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.newJob, {
      label: trans.__('New Background Job…'),
      execute: () => openForm()
    });
    app.commands.addCommand(CommandIDs.runAsJob, {
      label: trans.__('Run as Job…'),
      caption: trans.__('Run this notebook or script in the background, with live logs'),
      icon: args => (args['isPalette'] ? undefined : jobsIcon),
      // From the palette or a toolbar it runs the open notebook or script, not a file selected in
      // the browser out of sight.
      isEnabled: args =>
        typeof args['path'] === 'string' ||
        !!currentPath(app) ||
        (!args['isPalette'] && !!selectedPath(app)),
      execute: args => {
        const path =
          typeof args['path'] === 'string'
            ? args['path']
            : args['toolbar'] || args['isPalette']
              ? currentPath(app)
              : (selectedPath(app) ?? currentPath(app));
        openForm(path);
      }
    });
    for (const type of ['notebook', 'python', 'shell']) {
      app.contextMenu.addItem({
        command: CommandIDs.runAsJob,
        selector: `.jp-DirListing-item[data-file-type="${type}"]`,
        rank: 3
      });
    }
    palette?.addItem({ command: CommandIDs.newJob, category: trans.__('Hotstepper') });
    palette?.addItem({ command: CommandIDs.open, category: trans.__('Hotstepper') });
    palette?.addItem({ command: CommandIDs.runAsJob, category: trans.__('Hotstepper') });

    const poll = watchFinishedJobs(trans, show);
    void poll.start();
  }
};

export default [plugin];
