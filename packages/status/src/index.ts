/**
 * @packageDocumentation
 * The Hotstepper status panel: who I am, the state of each part of the platform, my preferences.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILayoutRestorer } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { hotstepperIcon } from './icon.js';
import { StatusModel } from './model.js';
import { PANEL_ID, StatusPanel } from './panel.js';

export { StatusModel } from './model.js';
export { PANEL_ID, StatusPanel } from './panel.js';
export { StatusView } from './view.js';

/** The command ids of this extension. */
export const CommandIDs = {
  /** Show the status panel in the left sidebar. */
  openStatus: 'hotstepper:open-status'
} as const;

const PLUGIN_ID = '@hotstepper/status:plugin';

/** The status panel in the left sidebar, with a palette command to open it. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Shows who you are to Hotstepper, the state of the platform and your preferences.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const model = new StatusModel({ serverSettings: app.serviceManager.serverSettings });
    const panel = new StatusPanel({ model, translator });
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }

    app.commands.addCommand(CommandIDs.openStatus, {
      label: trans.__('Open Hotstepper Status'),
      caption: trans.__('Who you are, the state of the platform and your preferences'),
      icon: args => (args['isPalette'] ? undefined : hotstepperIcon),
      execute: () => app.shell.activateById(panel.id)
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.openStatus, category: trans.__('Hotstepper') });
    }

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            model.refreshInterval = settings.get('refreshInterval').composite as number;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          // The default interval still applies; the panel works without settings.
          console.error(`${PLUGIN_ID}: could not load settings`, reason);
        });
    }
  }
};

export default [plugin];
