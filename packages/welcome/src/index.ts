/**
 * @packageDocumentation
 * Hotstepper welcome back: an execution journal kept by the companion, and an overlay that recaps
 * a notebook (digest at once, LLM summary when it arrives) when I reopen it after days away.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILabShell } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';
import { ExecutionJournal } from './journal.js';
import { isNotebookPanel, type INotebookPanel } from './notebooks.js';
import { WelcomeBack } from './welcome.js';

export { WelcomeOverlay } from './overlay.js';

/** The command ids of this extension. */
export const CommandIDs = {
  /** Show the welcome overlay for the current notebook, whatever the time away. */
  summarise: 'welcome:summarise'
} as const;

const PLUGIN_ID = '@hotstepper/welcome:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Records cell executions and recaps a notebook you reopen after days away: what you did, where you stopped, what failed.',
  autoStart: true,
  optional: [ILabShell, ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const server = app.serviceManager.serverSettings;
    const journal = new ExecutionJournal(server);
    const welcome = new WelcomeBack(trans, server);
    const seen = new WeakSet<Widget>();
    const ready = settingRegistry
      ? settingRegistry
          .load(PLUGIN_ID)
          .then(settings => {
            const apply = (): void => {
              welcome.settings = {
                daysAway: settings.get('daysAway').composite as number,
                privateFolders: settings.get('privateFolders').composite as string[]
              };
              journal.enabled = settings.get('journal').composite as boolean;
            };
            apply();
            settings.changed.connect(apply);
          })
          .catch(reason => console.error(`${PLUGIN_ID}: could not load settings`, reason))
      : Promise.resolve();

    // Notebook panels are found by shape in the main area (see notebooks.ts for why).
    const scan = (): void => {
      for (const widget of app.shell.widgets('main')) {
        if (seen.has(widget) || !isNotebookPanel(widget)) continue;
        seen.add(widget);
        journal.watch(widget);
        void ready.then(() => welcome.opened(widget));
      }
    };
    void app.restored.then(scan);
    labShell?.layoutModified.connect(scan);

    const current = (): INotebookPanel | null => {
      const widget = app.shell.currentWidget;
      return isNotebookPanel(widget) ? widget : null;
    };
    app.commands.addCommand(CommandIDs.summarise, {
      label: trans.__('Summarise this notebook'),
      caption: trans.__('What you did, where you stopped and what failed, from your journal'),
      isEnabled: () => current() !== null,
      execute: async () => {
        const panel = current();
        if (panel) await welcome.show(panel);
      }
    });
    palette?.addItem({ command: CommandIDs.summarise, category: trans.__('Hotstepper') });
  }
};

export default [plugin];
