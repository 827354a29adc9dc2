/**
 * @packageDocumentation
 * The idle guard in JupyterLab: this server's state in the status bar at all times (quiet while
 * in use, the countdown while idle), a notification with "Keep running" when the owner is
 * warned, after a stop why, when Lab is next opened; and for operators an "Idle servers" panel.
 */
import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { IdleServer } from '@hotstepper/api';
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  showDialog,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator, type TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { IdleModel } from './model.js';
import { IdleOverviewModel, IdleOverviewView } from './overview.js';
import { IdleBadge, StopExplanation } from './views.js';

export { IdleModel } from './model.js';
export { IdleOverviewModel, IdleOverviewView } from './overview.js';
export { IdleBadge, StopExplanation } from './views.js';

const PLUGIN_ID = '@hotstepper/idle:plugin';

/** The command ids of this extension. */
export namespace CommandIDs {
  /** Operators: open the "Idle servers" panel in the main area. */
  export const openServers = 'hotstepper-idle:open-servers';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Warns before an idle server is stopped, offers "Keep running", and explains a stop.',
  autoStart: true,
  optional: [IStatusBar, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const model = new IdleModel();
    if (statusBar) {
      statusBar.registerStatusItem(PLUGIN_ID, {
        item: new IdleBadge(model, trans),
        align: 'left',
        rank: 900,
        isActive: () => true
      });
    }
    let notified = '';
    let notificationId = '';
    let explaining = false;
    model.changed.connect(() => {
      const s = model.server;
      // One notification per idle window: a new count replaces the old one.
      const key = s?.countdown ? `${s.windowStart}/${s.idleWindows}` : '';
      if (key && key !== notified) {
        notified = key;
        if (notificationId) Notification.dismiss(notificationId);
        notificationId = warn(model, s!, trans);
      } else if (!key && notificationId) {
        Notification.dismiss(notificationId);
        notificationId = '';
        notified = '';
      }
      const stop = model.lastStop;
      if (stop && !explaining) {
        explaining = true;
        void showDialog({
          title: trans.__('Your server was stopped while idle'),
          body: React.createElement(StopExplanation, { stop, trans }),
          buttons: [Dialog.okButton({ label: trans.__('Got it') })]
        })
          .then(() => model.acknowledge(stop))
          .catch(err => console.error(`${PLUGIN_ID}: could not acknowledge`, err))
          .finally(() => (explaining = false));
      }
    });
    void app.restored.then(() => model.refresh());

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
        .catch(reason => console.error(`${PLUGIN_ID}: could not load settings`, reason));
    }
  }
};

/**
 * Operators: the "Idle servers" panel, opened once and brought to front after. The command is
 * shown only when the companion's /me says the user is an operator (`user.admin`, as the status
 * and usage panels read it): anyone else's load would be refused with 403.
 */
const serversPlugin: JupyterFrontEndPlugin<void> = {
  id: '@hotstepper/idle:servers',
  description: "Operators' panel of every running server by idle state, with the guard's figures.",
  autoStart: true,
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('hotstepper');
    const tracker = new WidgetTracker<MainAreaWidget<IdleOverviewView>>({
      namespace: 'hotstepper-idle-servers'
    });
    let operator = false;

    app.commands.addCommand(CommandIDs.openServers, {
      label: trans.__('Open Idle Servers'),
      caption: trans.__(
        'Operators: every running server by idle state, with the figures behind each decision'
      ),
      isVisible: () => operator,
      execute: () => {
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const model = new IdleOverviewModel();
          widget = new MainAreaWidget({ content: new IdleOverviewView(model, trans) });
          widget.id = 'hotstepper-idle-servers';
          widget.title.label = trans.__('Idle Servers');
          widget.title.closable = true;
          void tracker.add(widget);
          void model.load();
        } else {
          void widget.content.model.load();
        }
        if (!widget.isAttached) {
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.openServers, category: trans.__('Hotstepper') });
    }
    void app.restored
      .then(() => HotstepperAPI.getMe())
      .then(me => {
        operator = !!me.user.admin;
        app.commands.notifyCommandChanged(CommandIDs.openServers);
      })
      .catch(err =>
        console.warn('@hotstepper/idle:servers: cannot tell whether I am an operator', err)
      );
  }
};

/** The warning, with "Keep running" while the policy allows a snooze. */
function warn(model: IdleModel, s: IdleServer, trans: TranslationBundle): string {
  const message = model.dryRun
    ? trans.__(
        'This server is idle: %1 (dry run: it will not really be stopped).',
        s.countdown ?? ''
      )
    : trans.__('This server is idle: %1. Your files are kept.', s.countdown ?? '');
  const actions =
    s.snoozesLeft > 0
      ? [
          {
            label: trans.__('Keep running'),
            caption: trans.__('Snooze the idle guard (%1 left)', s.snoozesLeft),
            displayType: 'accent' as const,
            callback: () => {
              model
                .snooze()
                .then(after =>
                  Notification.success(
                    trans.__(
                      'Kept running until %1.',
                      new Date(after.snoozedUntil ?? Date.now()).toLocaleString()
                    ),
                    { autoClose: 5000 }
                  )
                )
                .catch(err =>
                  Notification.error(
                    err instanceof CompanionError
                      ? err.message
                      : trans.__('Could not keep the server running.'),
                    { autoClose: false }
                  )
                );
            }
          }
        ]
      : [];
  return Notification.warning(message, { autoClose: false, actions });
}

export default [plugin, serversPlugin];
