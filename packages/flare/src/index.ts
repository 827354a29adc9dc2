/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
/**
 * @packageDocumentation
 * Flare: expose a web app running in the notebook server at its own address, with access control.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { FlareModel } from './model.js';
import { FlareView } from './view.js';

export { FlareModel } from './model.js';
export { FlareView } from './view.js';

/** The command ids of this extension. */
export const CommandIDs = {
  /** Open the Flare panel in the main area. */
  openFlare: 'hotstepper:open-flare'
} as const;

const PLUGIN_ID = '@hotstepper/flare:plugin';

/** A flare: a spark rising from a base. `jp-icon3` lets the theme colour it. */
export const flareIcon = new LabIcon({
  name: 'hotstepper:flare',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161"><path d="M12 2l2.2 5.8L20 10l-5.8 2.2L12 18l-2.2-5.8L4 10l5.8-2.2z"/>
  <rect x="4" y="20" width="16" height="2"/></g></svg>`
});

/** The Flare panel, opened from the command palette. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Lists my Flare routes and exposes ports of my notebook server at their own address.',
  autoStart: true,
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    let widget: MainAreaWidget<FlareView> | null = null;
    app.commands.addCommand(CommandIDs.openFlare, {
      label: trans.__('Open Flare'),
      caption: trans.__('Show a web app from your notebook server at its own address'),
      icon: args => (args['isPalette'] ? undefined : flareIcon),
      execute: () => {
        if (!widget || widget.isDisposed) {
          const model = new FlareModel({ serverSettings: app.serviceManager.serverSettings });
          const content = new FlareView(model, trans);
          widget = new MainAreaWidget({ content });
          widget.id = 'hotstepper-flare';
          widget.title.label = trans.__('Flare');
          widget.title.icon = flareIcon;
          widget.title.closable = true;
          widget.disposed.connect(() => model.dispose());
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.openFlare, category: trans.__('Hotstepper') });
    }
  }
};

export default [plugin];
