import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { Me, Preferences } from '@hotstepper/api';
import type { ServerConnection } from '@jupyterlab/services';
import { VDomModel } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';

/** How the last change of preferences went. */
export type SaveState = 'idle' | 'saving' | 'saved' | 'failed';

/**
 * What the status panel shows: who I am, the platform's connections and my preferences.
 *
 * It polls the companion only while the panel is visible and the page is not hidden, and
 * backs off while the companion keeps failing.
 */
export class StatusModel extends VDomModel {
  /** Create the model; the first request waits until the panel is shown. */
  constructor(options: IStatusModelOptions = {}) {
    super();
    this._serverSettings = options.serverSettings;
    this._poll = new Poll({
      factory: () => this._load(),
      frequency: {
        interval: (options.refreshInterval ?? 30) * 1000,
        backoff: true,
        max: 5 * 60 * 1000
      },
      name: '@hotstepper/status:poll',
      standby: () => !this._visible || 'when-hidden'
    });
  }

  /** Who I am and the connections, from the last successful answer. */
  get me(): Me | null {
    return this._me;
  }

  /** Why the last refresh failed, or null when it succeeded. */
  get error(): CompanionError | null {
    return this._error;
  }

  /** Whether a refresh is under way. */
  get loading(): boolean {
    return this._loading;
  }

  /** When the last successful answer arrived. */
  get updatedAt(): Date | null {
    return this._updatedAt;
  }

  /** My preferences, once loaded. */
  get preferences(): Preferences | null {
    return this._preferences;
  }

  /** Why loading or saving the preferences failed. */
  get preferencesError(): CompanionError | null {
    return this._preferencesError;
  }

  /** How the last change of preferences went. */
  get saveState(): SaveState {
    return this._saveState;
  }

  /** Seconds between refreshes while the companion answers. */
  set refreshInterval(seconds: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: seconds * 1000 };
  }

  /** Whether the panel is on screen; polling stands by while it is not. */
  set visible(visible: boolean) {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    if (visible) {
      void this._poll.refresh();
    }
  }

  /** Refresh everything now, preferences included; the Refresh and Retry buttons call this. */
  async refresh(): Promise<void> {
    this._preferences = null;
    await this._poll.refresh();
  }

  /** Save a changed preference, showing the change at once and undoing it if the save fails. */
  async savePreferences(preferences: Preferences): Promise<void> {
    const previous = this._preferences;
    this._preferences = preferences;
    this._saveState = 'saving';
    this._preferencesError = null;
    this.stateChanged.emit();
    try {
      this._preferences = await HotstepperAPI.putPreferences(
        { body: preferences },
        this._serverSettings
      );
      this._saveState = 'saved';
    } catch (error) {
      this._preferences = previous;
      this._preferencesError = asCompanionError(error);
      this._saveState = 'failed';
    }
    this.stateChanged.emit();
  }

  /** Stop polling. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  /** One poll tick; rethrows so that the poll backs off while the companion fails. */
  private async _load(): Promise<void> {
    const request = ++this._request;
    this._loading = true;
    this.stateChanged.emit();
    try {
      const [me, preferences] = await Promise.all([
        HotstepperAPI.getMe({}, this._serverSettings),
        this._preferences ? null : this._loadPreferences()
      ]);
      if (request !== this._request) {
        return; // a newer refresh started; its answer wins
      }
      this._me = me;
      this._error = null;
      this._updatedAt = new Date();
      if (preferences) {
        this._preferences = preferences;
      }
    } catch (error) {
      if (request === this._request) {
        this._error = asCompanionError(error);
      }
      throw error;
    } finally {
      if (request === this._request) {
        this._loading = false;
        this.stateChanged.emit();
      }
    }
  }

  /** Preferences failing alone shows in their own section, not as the panel's error. */
  private async _loadPreferences(): Promise<Preferences | null> {
    try {
      const preferences = await HotstepperAPI.getPreferences({}, this._serverSettings);
      this._preferencesError = null;
      return preferences;
    } catch (error) {
      this._preferencesError = asCompanionError(error);
      return null;
    }
  }

  private _error: CompanionError | null = null;
  private _loading = false;
  private _me: Me | null = null;
  private _poll: Poll;
  private _preferences: Preferences | null = null;
  private _preferencesError: CompanionError | null = null;
  private _request = 0;
  private _saveState: SaveState = 'idle';
  private _serverSettings: ServerConnection.ISettings | undefined;
  private _updatedAt: Date | null = null;
  private _visible = false;
}

/** Options of a {@link StatusModel}. */
export interface IStatusModelOptions {
  /** Seconds between refreshes while the companion answers; 30 by default. */
  refreshInterval?: number;
  /** The Jupyter server connection; JupyterLab's own page settings by default. */
  serverSettings?: ServerConnection.ISettings;
}

/** Anything thrown on the way becomes a CompanionError the view knows how to show. */
function asCompanionError(error: unknown): CompanionError {
  if (error instanceof CompanionError) {
    return error;
  }
  return new CompanionError({
    status: 0,
    code: 'client_error',
    title: 'Unexpected error',
    detail: `${error instanceof Error ? error.message : String(error)}. Reload the page.`
  });
}
