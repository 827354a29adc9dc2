/**
 * @packageDocumentation
 * The idle guard in JupyterLab: a status-bar countdown while this server is idle, a notification
 * with "Keep running" when the owner is warned, and after a stop, why, when Lab is next opened.
 */
import { CompanionError } from '@hotstepper/api';
import type { IdleServer } from '@hotstepper/api';
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator, type TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { IdleModel } from './model.js';
import { IdleBadge, StopExplanation } from './views.js';

export { IdleModel } from './model.js';
export { IdleBadge, StopExplanation } from './views.js';

const PLUGIN_ID = '@hotstepper/idle:plugin';

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

export default [plugin];
