/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
/**
 * @packageDocumentation
 * Hotstepper usage: live CPU/RAM/GPU in the status bar, and a Usage panel with the 90-day cost
 * chart, the rate card, free GPUs and, for operators, every user's cost.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, IThemeManager, MainAreaWidget } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LiveUsageModel, UsagePanelModel } from './model.js';
import { UsagePanelView } from './panel.js';
import { UsageStatusItem } from './statusbar.js';

export { LiveUsageModel, UsagePanelModel, levelOf } from './model.js';
export { UsagePanelView } from './panel.js';
export { UsageStatusItem } from './statusbar.js';

/** The command ids of this extension. */
export const CommandIDs = {
  /** Open the Usage panel in the main area. */
  openUsage: 'hotstepper:open-usage'
} as const;

const PLUGIN_ID = '@hotstepper/usage:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Live usage in the status bar and the Usage panel with cost history and free GPUs.',
  autoStart: true,
  optional: [IStatusBar, ICommandPalette, ISettingRegistry, IThemeManager, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    themeManager: IThemeManager | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const serverSettings = app.serviceManager.serverSettings;
    const live = new LiveUsageModel({ serverSettings });
    let widget: MainAreaWidget<UsagePanelView> | null = null;

    app.commands.addCommand(CommandIDs.openUsage, {
      label: trans.__('Open Usage'),
      caption: trans.__('Live usage, 90-day cost, rate card and free GPUs'),
      execute: () => {
        if (!widget || widget.isDisposed) {
          const model = new UsagePanelModel({ serverSettings });
          const view = new UsagePanelView(model, live, trans);
          widget = new MainAreaWidget({ content: view });
          widget.id = 'hotstepper-usage';
          widget.title.label = trans.__('Usage');
          widget.title.closable = true;
          themeManager?.themeChanged.connect(() => view.themeChanged(), view);
          void model.load();
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        void live.refresh();
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.openUsage, category: trans.__('Hotstepper') });
    }

    if (statusBar) {
      const item = new UsageStatusItem(live, trans, () => {
        void app.commands.execute(CommandIDs.openUsage);
      });
      statusBar.registerStatusItem(PLUGIN_ID, {
        item,
        align: 'left',
        rank: 50
      });
    }

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            live.interval = settings.get('refreshInterval').composite as number;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error(`${PLUGIN_ID}: could not load settings`, reason);
        });
    }
  }
};

export default [plugin];
