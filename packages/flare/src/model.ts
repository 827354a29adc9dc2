/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { FlareAccess, FlarePorts, FlareRoute, FlareRouteList } from '@hotstepper/api';
import type { ServerConnection } from '@jupyterlab/services';
import { VDomModel } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';

/** A detected port of my server, as the companion reports it. */
export type FlarePort = FlarePorts['ports'][number];

/**
 * What the Flare panel shows: my routes and the ports my server listens on. It polls only while
 * the panel is visible and the page is not hidden, and backs off while the companion fails.
 */
export class FlareModel extends VDomModel {
  /** Create the model; the first request waits until the panel is shown. */
  constructor(options: IFlareModelOptions = {}) {
    super();
    this._serverSettings = options.serverSettings;
    this._poll = new Poll({
      factory: () => this._load(),
      frequency: { interval: (options.refreshInterval ?? 15) * 1000, backoff: true, max: 300_000 },
      name: '@hotstepper/flare:poll',
      standby: () => !this._visible || 'when-hidden'
    });
  }

  /** My routes, newest first, from the last successful answer. */
  get routes(): FlareRoute[] {
    return this._list?.routes ?? [];
  }

  /** The list answer (routes, limit, domain), or null before the first one. */
  get list(): FlareRouteList | null {
    return this._list;
  }

  /**
   * The exact address a route named `name` will have (scheme, host and port as the companion
   * writes it), or null before the companion has answered.
   */
  urlFor(name: string): string | null {
    const template = this._list?.urlTemplate;
    return template ? template.replace('{name}', name) : null;
  }

  /**
   * Hub user names to suggest: those named in my routes already. (The companion lists no hub
   * users to a non-operator; a hub-wide picker would need an endpoint for it.)
   */
  get knownUsers(): string[] {
    return Private.sorted(this.routes.flatMap(r => r.access.users ?? []));
  }

  /** Hub groups to suggest: my own groups and those named in my routes already. */
  get knownGroups(): string[] {
    return Private.sorted([...this._myGroups, ...this.routes.flatMap(r => r.access.groups ?? [])]);
  }

  /** The ports my server listens on, or null while unknown. */
  get ports(): FlarePort[] | null {
    return this._ports;
  }

  /** Why the last refresh failed. */
  get error(): CompanionError | null {
    return this._error;
  }

  /** Why my server's ports are unknown (e.g. it is not running). */
  get portsError(): CompanionError | null {
    return this._portsError;
  }

  /** Whether a refresh or a change is under way. */
  get busy(): boolean {
    return this._busy;
  }

  /** Whether the panel is on screen: polling stops while it is not. */
  set visible(value: boolean) {
    if (value === this._visible) {
      return;
    }
    this._visible = value;
    if (value) {
      void this._poll.refresh();
    }
  }

  /** Ask the companion again now. */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Expose a port; throws the companion's error for the form to show. */
  async create(name: string, port: number, access: FlareAccess): Promise<FlareRoute> {
    return this._change(() =>
      HotstepperAPI.createFlareRoute({ body: { name, port, access } }, this._serverSettings)
    );
  }

  /** Change who may open a route. */
  async setAccess(name: string, access: FlareAccess): Promise<FlareRoute> {
    return this._change(() =>
      HotstepperAPI.updateFlareRoute({ params: { name }, body: { access } }, this._serverSettings)
    );
  }

  /** Make a new share link; the old one stops working. */
  async rotate(name: string): Promise<FlareRoute> {
    return this._change(() =>
      HotstepperAPI.rotateFlareShareLink({ params: { name } }, this._serverSettings)
    );
  }

  /** Delete a route: its address answers 404 and the name is free again. */
  async remove(name: string): Promise<void> {
    await this._change(() =>
      HotstepperAPI.deleteFlareRoute({ params: { name } }, this._serverSettings)
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  private async _change<T>(action: () => Promise<T>): Promise<T> {
    this._busy = true;
    this.stateChanged.emit(void 0);
    try {
      const result = await action();
      await this._load();
      return result;
    } finally {
      this._busy = false;
      this.stateChanged.emit(void 0);
    }
  }

  private async _load(): Promise<void> {
    if (!this._meAsked) {
      // Once: my own hub groups, as suggestions for named-groups access.
      this._meAsked = true;
      void HotstepperAPI.getMe({}, this._serverSettings)
        .then(me => {
          this._myGroups = me.user.groups;
          this.stateChanged.emit(void 0);
        })
        .catch(() => undefined);
    }
    const [list, ports] = await Promise.allSettled([
      HotstepperAPI.listFlareRoutes({}, this._serverSettings),
      HotstepperAPI.listFlarePorts({}, this._serverSettings)
    ]);
    if (list.status === 'fulfilled') {
      this._list = list.value;
      this._error = null;
    } else {
      this._error = Private.asError(list.reason);
    }
    if (ports.status === 'fulfilled') {
      this._ports = ports.value.ports;
      this._portsError = null;
    } else {
      this._ports = null;
      this._portsError = Private.asError(ports.reason);
    }
    this.stateChanged.emit(void 0);
    if (this._error) {
      throw this._error; // lets the poll back off
    }
  }

  private _serverSettings?: ServerConnection.ISettings;
  private _poll: Poll;
  private _visible = false;
  private _busy = false;
  private _list: FlareRouteList | null = null;
  private _ports: FlarePort[] | null = null;
  private _error: CompanionError | null = null;
  private _portsError: CompanionError | null = null;
  private _meAsked = false;
  private _myGroups: string[] = [];
}

/** Options of a {@link FlareModel}. */
export interface IFlareModelOptions {
  serverSettings?: ServerConnection.ISettings;
  /** Seconds between refreshes while the panel is open. */
  refreshInterval?: number;
}

namespace Private {
  export function sorted(names: string[]): string[] {
    return [...new Set(names)].sort((a, b) => a.localeCompare(b));
  }

  export function asError(reason: unknown): CompanionError {
    return reason instanceof CompanionError
      ? reason
      : new CompanionError({
          status: 0,
          code: 'unexpected',
          title: 'Unexpected error',
          detail: String(reason)
        });
  }
}
