/**
 * @packageDocumentation
 * Hotstepper Jobs: run a notebook or a command as a background job (local process or Kubernetes
 * Job), with the quota shown before submitting, live logs, and a notification when it ends.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILayoutRestorer } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { Job } from '@hotstepper/api';
import { JobFormWidget } from './form.js';
import { JobLogView } from './logview.js';
import { JobsModel } from './model.js';
import { jobsIcon, JobsPanel, PANEL_ID } from './panel.js';
import { watchFinishedJobs } from './notify.js';

export const CommandIDs = {
  open: 'jobs:open',
  runAsJob: 'jobs:run-as-job',
  newJob: 'jobs:new',
  openLog: 'hotstepper-jobs:open-log'
} as const;

/** The jobs the command palette offers "Open Log" for: the most recent of the list. */
const PALETTE_LOGS = 10;

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
      path => void app.commands.execute('docmanager:open', { path }),
      job => void app.commands.execute(CommandIDs.openLog, { id: job.id, name: job.name })
    );
    app.shell.add(panel, 'left', { rank: 910 });
    restorer?.add(panel, PANEL_ID);
    const show = (job: Job) => {
      app.shell.activateById(panel.id);
      model.select(job);
      void model.refresh();
    };

    // A job's live log in the main area, one tab per job (the same job again shows its tab).
    const logs = new WidgetTracker<MainAreaWidget<JobLogView>>({
      namespace: 'hotstepper-job-log'
    });
    const openLog = (id: string, name: string): MainAreaWidget<JobLogView> => {
      const open = logs.find(w => w.content.jobId === id);
      if (open) {
        app.shell.activateById(open.id);
        return open;
      }
      const content = new JobLogView({ jobs: model, id, name, trans });
      const widget = new MainAreaWidget({ content });
      widget.id = `hotstepper-job-log-${id}`;
      widget.title.label = trans.__('Log: %1', name);
      widget.title.caption = trans.__('The live log of job "%1"', name);
      widget.title.icon = jobsIcon;
      widget.title.closable = true;
      void logs.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };
    app.commands.addCommand(CommandIDs.openLog, {
      label: args =>
        typeof args['name'] === 'string'
          ? trans.__('Open Log of Job "%1"', args['name'])
          : trans.__('Open Job Log'),
      caption: trans.__("Follow a job's live log in the main area, with a filter"),
      icon: args => (args['isPalette'] ? undefined : jobsIcon),
      isEnabled: args => typeof args['id'] === 'string' && args['id'] !== '',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            id: { type: 'string', description: trans.__("The job's id") },
            name: { type: 'string', description: trans.__("The job's name, for the title") }
          },
          required: ['id']
        }
      },
      execute: args => {
        const id = String(args['id']);
        return openLog(id, typeof args['name'] === 'string' ? args['name'] : id);
      }
    });
    restorer?.restore(logs, {
      command: CommandIDs.openLog,
      args: w => ({ id: w.content.jobId, name: w.content.jobName }),
      name: w => w.content.jobId
    });

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
    if (palette) {
      // "Open Log of Job …" for the latest jobs of the list, kept in step with it.
      const items = new Map<string, ReturnType<ICommandPalette['addItem']>>();
      model.stateChanged.connect(() => {
        const latest = new Map(model.jobs.slice(0, PALETTE_LOGS).map(j => [j.id, j]));
        for (const [id, item] of items) {
          if (!latest.has(id)) {
            item.dispose();
            items.delete(id);
          }
        }
        for (const job of latest.values()) {
          if (items.has(job.id)) continue;
          items.set(
            job.id,
            palette.addItem({
              command: CommandIDs.openLog,
              args: { id: job.id, name: job.name },
              category: trans.__('Hotstepper')
            })
          );
        }
      });
    }

    const poll = watchFinishedJobs(trans, show);
    void poll.start();
  }
};

export default [plugin];
