import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { Job, JobState } from '@hotstepper/api';
import { VDomModel } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { followLog } from './logs.js';

/** The most log lines the panel keeps; older ones are dropped from view (download has them all). */
const MAX_LINES = 5000;

/** The live log of the job on screen. */
export interface ILogView {
  id: string;
  lines: string[];
  notices: string[];
  ended: boolean;
  dropped: number;
}

/**
 * The Jobs panel's state: my jobs (polled, faster while something runs), the job whose detail is
 * open and its live log.
 */
export class JobsModel extends VDomModel {
  constructor() {
    super();
    this._poll = new Poll({
      factory: () => this._load(),
      frequency: { interval: 2000, backoff: true, max: 60_000 },
      name: '@hotstepper/jobs:list',
      standby: () => !this._visible || 'when-hidden'
    });
  }

  get jobs(): Job[] {
    return this._jobs;
  }
  get error(): CompanionError | null {
    return this._error;
  }
  get loading(): boolean {
    return this._loading;
  }
  get filter(): JobState | '' {
    return this._filter;
  }
  set filter(value: JobState | '') {
    this._filter = value;
    void this.refresh();
  }
  get selected(): Job | null {
    return this._jobs.find(j => j.id === this._selectedId) ?? this._selectedJob;
  }
  get log(): ILogView | null {
    return this._log;
  }

  set visible(visible: boolean) {
    this._visible = visible;
    if (visible) void this._poll.refresh();
  }

  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Open a job's detail and follow its log. */
  select(job: Job | null): void {
    this._abort?.abort();
    this._selectedId = job?.id ?? null;
    this._selectedJob = job;
    this._log = null;
    if (job) {
      const abort = (this._abort = new AbortController());
      const log: ILogView = { id: job.id, lines: [], notices: [], ended: false, dropped: 0 };
      this._log = log;
      void followLog(
        job.id,
        {
          line: text => {
            log.lines.push(text);
            if (log.lines.length > MAX_LINES) {
              log.lines.splice(0, log.lines.length - MAX_LINES);
              log.dropped++;
            }
            this._changedSoon();
          },
          notice: text => {
            log.notices.push(text);
            this._changedSoon();
          },
          end: () => {
            log.ended = true;
            this.stateChanged.emit();
            void this.refresh();
          }
        },
        abort.signal
      );
    }
    this.stateChanged.emit();
  }

  async act(action: 'cancel' | 'rerun' | 'delete', job: Job): Promise<void> {
    try {
      if (action === 'cancel') await HotstepperAPI.cancelJob({ params: { id: job.id } });
      if (action === 'rerun') {
        const created = await HotstepperAPI.rerunJob({ params: { id: job.id } });
        this.select(created);
      }
      if (action === 'delete') {
        await HotstepperAPI.deleteJob({ params: { id: job.id } });
        if (this._selectedId === job.id) this.select(null);
      }
      this._error = null;
    } catch (error) {
      this._error = error instanceof CompanionError ? error : null;
    }
    await this.refresh();
  }

  dispose(): void {
    if (this.isDisposed) return;
    this._abort?.abort();
    this._poll.dispose();
    super.dispose();
  }

  private async _load(): Promise<void> {
    this._loading = true;
    this.stateChanged.emit();
    try {
      const page = await HotstepperAPI.listJobs({
        query: { limit: 100, ...(this._filter ? { state: this._filter } : {}) }
      });
      this._jobs = page.items;
      this._error = null;
      const active = page.items.some(j => j.state === 'pending' || j.state === 'running');
      this._poll.frequency = { ...this._poll.frequency, interval: active ? 2000 : 10_000 };
    } catch (error) {
      this._error =
        error instanceof CompanionError
          ? error
          : new CompanionError({
              status: 0,
              code: 'unknown',
              title: 'Error',
              detail: String(error)
            });
      throw error;
    } finally {
      this._loading = false;
      this.stateChanged.emit();
    }
  }

  /** Many lines at once render once per frame, not once per line. */
  private _changedSoon(): void {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.stateChanged.emit();
    });
  }

  private _jobs: Job[] = [];
  private _error: CompanionError | null = null;
  private _loading = false;
  private _visible = false;
  private _filter: JobState | '' = '';
  private _selectedId: string | null = null;
  private _selectedJob: Job | null = null;
  private _log: ILogView | null = null;
  private _abort: AbortController | null = null;
  private _frame = 0;
  private _poll: Poll;
}
