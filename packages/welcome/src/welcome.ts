/**
 * What happens when a notebook opens: ask the companion what it knows, show the overlay when I
 * have been away long enough, and record the visit (with the cells' source hashes) afterwards.
 */
import { HotstepperAPI } from '@hotstepper/api';
import type { ServerConnection } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { sha256Hex } from './hash.js';
import { notebookCells, type INotebookPanel } from './notebooks.js';
import { WelcomeOverlay } from './overlay.js';

export interface IWelcomeSettings {
  /** Days away before the overlay shows by itself. */
  daysAway: number;
  /** Folders (path prefixes) whose notebooks never go to the LLM. */
  privateFolders: string[];
}

export class WelcomeBack {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _server?: ServerConnection.ISettings
  ) {}

  settings: IWelcomeSettings = { daysAway: 3, privateFolders: [] };

  /** A notebook opened: maybe show the overlay, then record the visit. */
  async opened(panel: INotebookPanel): Promise<void> {
    await panel.context.ready;
    const path = panel.context.path;
    // Both at once: the overlay should not wait for two round trips in a row. A notebook without
    // history answers 200 with no runs (nothing to recap); only a real failure lands here.
    const [known, wanted] = await Promise.all([
      HotstepperAPI.getWelcomeNotebook({ query: { path } }, this._server).catch(error => {
        console.warn('@hotstepper/welcome: could not read the journal for this notebook', error);
        return null;
      }),
      this._wanted()
    ]);
    const away =
      known &&
      !known.hidden &&
      known.executions > 0 &&
      (known.daysAway ?? 0) >= this.settings.daysAway;
    if (away && wanted) await this.show(panel);
    await this.visit(panel, 'opened');
    panel.context.saveState.connect((_, state) => {
      if (state === 'completed') void this.visit(panel, 'closed');
    });
    panel.disposed.connect(() => void this.visit(panel, 'closed'));
  }

  /** Show the overlay now: the digest at once, the summary when it comes. */
  async show(panel: INotebookPanel, refresh = false): Promise<void> {
    this._overlays.get(panel)?.dispose();
    const path = panel.context.path;
    const overlay = new WelcomeOverlay({
      panel,
      trans: this._trans,
      // The path when hidden, not when shown: the notebook may have been renamed since.
      onHide: () =>
        void HotstepperAPI.putWelcomeNotebook(
          { body: { path: panel.context.path, hidden: true } },
          this._server
        )
    });
    this._overlays.set(panel, overlay);
    if (panel.contentHeader) panel.contentHeader.addWidget(overlay);
    else panel.node.prepend(overlay.node);
    const { cells, metadata } = notebookCells(panel);
    const body = {
      path,
      cells,
      metadata,
      private: this._private(path),
      ...(refresh ? { refresh } : {})
    };
    try {
      const digest = await HotstepperAPI.postWelcomeDigest({ body }, this._server);
      overlay.state = { ...overlay.state, digest };
    } catch (error) {
      overlay.state = { ...overlay.state, error: describe(error), summarising: false };
      return;
    }
    try {
      const summary = await HotstepperAPI.postWelcomeSummary({ body }, this._server);
      overlay.state = { ...overlay.state, summary, digest: summary.digest, summarising: false };
    } catch (error) {
      overlay.state = { ...overlay.state, error: describe(error), summarising: false };
    }
  }

  /** Record that the notebook is open (or was just closed or saved) with its cells' hashes. */
  async visit(panel: INotebookPanel, event: 'opened' | 'closed'): Promise<void> {
    if (panel.context.isDisposed && event === 'opened') return;
    try {
      const { cells } = notebookCells(panel);
      const hashed = await Promise.all(
        cells.map(async c => ({ id: c.id, sourceHash: await sha256Hex(String(c.source)) }))
      );
      await HotstepperAPI.postWelcomeVisit(
        { body: { path: panel.context.path, event, cells: hashed } },
        this._server
      );
    } catch (error) {
      console.warn('@hotstepper/welcome: could not record the visit', error);
    }
  }

  private _private(path: string): boolean {
    return this.settings.privateFolders.some(folder => {
      const prefix = folder.replace(/^\/+|\/+$/g, '');
      return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
    });
  }

  /** My preference (status panel) for the overlay; shown when it cannot be read. */
  private async _wanted(): Promise<boolean> {
    try {
      return (await HotstepperAPI.getPreferences(undefined, this._server)).welcomeBack;
    } catch {
      return true;
    }
  }

  private _overlays = new WeakMap<INotebookPanel, WelcomeOverlay>();
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
