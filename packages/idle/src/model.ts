import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { IdleMine, IdleServer, IdleStop } from '@hotstepper/api';
import { PageConfig } from '@jupyterlab/coreutils';
import { Poll } from '@lumino/polling';
import { Signal, type ISignal } from '@lumino/signaling';

/**
 * What the idle guard says about the server this Lab runs on, polled from the companion. It
 * backs off while the companion fails and stands by while the page is hidden.
 */
export class IdleModel {
  constructor(intervalSeconds = 30) {
    this._poll = new Poll({
      factory: () => this._load(),
      frequency: { interval: intervalSeconds * 1000, backoff: true, max: 5 * 60_000 },
      name: '@hotstepper/idle:poll',
      standby: 'when-hidden'
    });
  }

  /** This server's state, null until known or when the guard tracks it not. */
  get server(): IdleServer | null {
    return this._server;
  }

  /** A stop of one of my servers not yet explained to me. */
  get lastStop(): IdleStop | null {
    return this._lastStop;
  }

  get dryRun(): boolean {
    return this._dryRun;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  set refreshInterval(seconds: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: seconds * 1000 };
  }

  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** "Keep running": the answer is this server's new state; throws CompanionError (e.g. snooze_limit). */
  async snooze(): Promise<IdleServer> {
    const server = await HotstepperAPI.snoozeIdle({ body: { server: serverName() } });
    this._server = server;
    this._changed.emit();
    return server;
  }

  async acknowledge(stop: IdleStop): Promise<void> {
    await HotstepperAPI.acknowledgeIdleStop({ params: { id: stop.id }, body: {} });
    this._acknowledged.add(stop.id);
    this._lastStop = null;
    this._changed.emit();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _load(): Promise<void> {
    let mine: IdleMine;
    try {
      mine = await HotstepperAPI.getIdleMine();
    } catch (err) {
      // A companion without the idle guard, or down: no badge rather than a wrong one.
      if (err instanceof CompanionError && err.status === 404) return;
      throw err;
    }
    this._server = mine.servers.find(s => s.server === serverName()) ?? null;
    // A poll answered before the acknowledgement landed must not bring the explanation back.
    const stop = mine.lastStop;
    this._lastStop = stop && !this._acknowledged.has(stop.id) ? stop : null;
    this._dryRun = mine.dryRun;
    this._changed.emit();
  }

  private _poll: Poll;
  private _server: IdleServer | null = null;
  private _lastStop: IdleStop | null = null;
  private _dryRun = false;
  private _acknowledged = new Set<string>();
  private _changed = new Signal<this, void>(this);
}

/** The hub's name of the server this Lab runs on ('' for the default server). */
export function serverName(): string {
  return PageConfig.getOption('hubServerName') || '';
}
