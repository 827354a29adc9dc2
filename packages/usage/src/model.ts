/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import { CompanionError, HotstepperAPI, operationUrl } from '@hotstepper/api';
import type {
  GpuAvailability,
  RateCard,
  UsageGroupList,
  UsageHistory,
  UsageLive,
  UsageUserList,
  WelcomeUsage
} from '@hotstepper/api';
import { ServerConnection } from '@jupyterlab/services';
import { VDomModel } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { fetchLocalUsage, type ILocalUsage } from './local.js';

/** One resource now, as a fraction of its limit when there is one. */
export interface IGaugeReading {
  used: number | null;
  limit: number | null;
  request: number | null;
}

/** Usage level from the fraction of the limit: amber from 70 %, red from 90 %. */
export type Level = 'ok' | 'warn' | 'critical' | 'unknown';

export function levelOf(used: number | null, limit: number | null): Level {
  if (used === null || !limit) {
    return 'unknown';
  }
  const f = used / limit;
  return f >= 0.9 ? 'critical' : f >= 0.7 ? 'warn' : 'ok';
}

/**
 * Live usage for the status bar and the panel's gauges: this server's CPU and memory from its
 * own cgroup (the server extension), and my pods' GPUs from the companion. Polls gently: every
 * `interval` seconds while the page is visible, backing off up to 5 minutes while failing.
 */
export class LiveUsageModel extends VDomModel {
  constructor(options: IModelOptions = {}) {
    super();
    this._settings = options.serverSettings;
    this._poll = new Poll({
      factory: () => this._load(),
      frequency: { interval: (options.interval ?? 5) * 1000, backoff: true, max: 5 * 60 * 1000 },
      name: '@hotstepper/usage:live',
      standby: 'when-hidden'
    });
  }

  get local(): ILocalUsage | null {
    return this._local;
  }
  get live(): UsageLive | null {
    return this._live;
  }
  get error(): string | null {
    return this._error;
  }

  /** CPU cores of this server against its limit (the cgroup's quota). */
  get cpu(): IGaugeReading {
    return {
      used: this._local?.cpu.usedCores ?? null,
      limit: this._local?.cpu.limitCores ?? null,
      request: null
    };
  }
  /** Memory bytes of this server against its limit. */
  get memory(): IGaugeReading {
    return {
      used: this._local?.memory.usedBytes ?? null,
      limit: this._local?.memory.limitBytes ?? null,
      request: null
    };
  }
  /** GPUs busy (utilisation summed) against GPUs held by my pods. */
  get gpu(): IGaugeReading {
    const g = this._live?.totals.gpu;
    return { used: g?.used ?? null, limit: g?.limit || null, request: g?.request ?? null };
  }

  set interval(seconds: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: seconds * 1000 };
  }

  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  private async _load(): Promise<void> {
    const [local, live] = await Promise.allSettled([
      fetchLocalUsage(this._settings),
      HotstepperAPI.getUsageLive({}, this._settings)
    ]);
    this._local = local.status === 'fulfilled' ? local.value : null;
    this._live = live.status === 'fulfilled' ? live.value : null;
    const failed = [local, live].filter(r => r.status === 'rejected') as PromiseRejectedResult[];
    this._error = failed.length ? failed.map(f => messageOf(f.reason)).join(' ') : null;
    this.stateChanged.emit();
    // Both failing is what the poll backs off on; one of two still shows something.
    if (failed.length === 2) {
      throw failed[0].reason;
    }
  }

  private _error: string | null = null;
  private _live: UsageLive | null = null;
  private _local: ILocalUsage | null = null;
  private _poll: Poll;
  private _settings: ServerConnection.ISettings | undefined;
}

/** Everything the Usage panel shows besides the live gauges; loaded when the panel opens. */
export class UsagePanelModel extends VDomModel {
  constructor(options: IModelOptions = {}) {
    super();
    this._settings = options.serverSettings;
  }

  get history(): UsageHistory | null {
    return this._history;
  }
  get rateCard(): RateCard | null {
    return this._rateCard;
  }
  get gpus(): GpuAvailability | null {
    return this._gpus;
  }
  get gpusError(): string | null {
    return this._gpusError;
  }
  /** The operators' table; null for everyone else (never asked for: see `_loadOperators`). */
  get users(): UsageUserList | null {
    return this._users;
  }
  /** The operators' per-group table; null for everyone else. */
  get groups(): UsageGroupList | null {
    return this._groups;
  }
  /** Operators: LLM tokens used by welcome summaries, per user; null for everyone else. */
  get llm(): WelcomeUsage | null {
    return this._llm;
  }
  /** Operators: why the LLM token use could not be read; null otherwise. */
  get llmError(): string | null {
    return this._llmError;
  }
  get loading(): boolean {
    return this._loading;
  }
  get error(): CompanionError | null {
    return this._error;
  }

  async load(): Promise<void> {
    this._loading = true;
    this.stateChanged.emit();
    const s = this._settings;
    try {
      const [history, rateCard, gpus, [users, groups, llm]] = await Promise.all([
        HotstepperAPI.getUsageHistory({ query: { days: 90 } }, s),
        HotstepperAPI.getUsageRateCard({}, s),
        HotstepperAPI.getClusterGpus({}, s).catch((e: unknown) => e as Error),
        this._loadOperators()
      ]);
      this._history = history;
      this._rateCard = rateCard;
      this._gpus = gpus instanceof Error ? null : gpus;
      this._gpusError = gpus instanceof Error ? messageOf(gpus) : null;
      this._users = users;
      this._groups = groups;
      this._llm = llm instanceof Error ? null : llm;
      this._llmError = llm instanceof Error ? messageOf(llm) : null;
      this._error = null;
    } catch (error) {
      this._error =
        error instanceof CompanionError
          ? error
          : new CompanionError({
              status: 0,
              code: 'client_error',
              title: 'Unexpected error',
              detail: messageOf(error)
            });
    } finally {
      this._loading = false;
      this.stateChanged.emit();
    }
  }

  /** Save one of the companion's CSV exports (the same 90 days as the panel) as a file. */
  async downloadCsv(id: CsvOperation, fallbackName: string): Promise<void> {
    const settings = this._settings ?? ServerConnection.makeSettings();
    const url = operationUrl(id, { query: { days: 90 } }, settings);
    try {
      const response = await ServerConnection.makeRequest(url, { cache: 'no-cache' }, settings);
      if (!response.ok) {
        const problem = (await response.json().catch(() => ({}))) as Record<string, string>;
        throw new CompanionError({
          status: response.status,
          code: problem.code ?? `http_${response.status}`,
          title: problem.title ?? `HTTP ${response.status}`,
          detail: problem.detail ?? 'The CSV export failed; try again.'
        });
      }
      const disposition = response.headers.get('Content-Disposition') ?? '';
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
      const a = document.createElement('a');
      a.href = URL.createObjectURL(await response.blob());
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    } catch (error) {
      this._error =
        error instanceof CompanionError
          ? error
          : new CompanionError({
              status: 0,
              code: 'network_error',
              title: 'CSV export failed',
              detail: messageOf(error)
            });
      this.stateChanged.emit();
    }
  }

  /**
   * The operators' tables, asked for only when the companion says I am an operator (`/me`'s
   * user.admin, as the status panel reads it): a student's panel would otherwise be refused
   * with 403 twice on every open. If `/me` fails, the panel shows what everyone sees.
   */
  private async _loadOperators(): Promise<
    [UsageUserList | null, UsageGroupList | null, WelcomeUsage | Error | null]
  > {
    const s = this._settings;
    const me = await HotstepperAPI.getMe({}, s).catch(() => null);
    if (!me?.user.admin) {
      return [null, null, null];
    }
    return Promise.all([
      HotstepperAPI.listUsageUsers({ query: { days: 90 } }, s).catch(() => null),
      HotstepperAPI.listUsageGroups({ query: { days: 90 } }, s).catch(() => null),
      HotstepperAPI.getWelcomeUsage({}, s).catch((e: unknown) =>
        e instanceof Error ? e : new Error(String(e))
      )
    ]);
  }

  private _error: CompanionError | null = null;
  private _groups: UsageGroupList | null = null;
  private _gpus: GpuAvailability | null = null;
  private _gpusError: string | null = null;
  private _history: UsageHistory | null = null;
  private _llm: WelcomeUsage | null = null;
  private _llmError: string | null = null;
  private _loading = false;
  private _rateCard: RateCard | null = null;
  private _settings: ServerConnection.ISettings | undefined;
  private _users: UsageUserList | null = null;
}

/** The companion's CSV exports. */
export type CsvOperation = 'getUsageHistoryCsv' | 'listUsageUsersCsv' | 'listUsageGroupsCsv';

export interface IModelOptions {
  /** Seconds between live refreshes (default 5). */
  interval?: number;
  serverSettings?: ServerConnection.ISettings;
}

function messageOf(error: unknown): string {
  if (error instanceof CompanionError) {
    return error.detail ?? error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
