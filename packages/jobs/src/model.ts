import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { Job, JobState } from '@hotstepper/api';
import { VDomModel } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import type { LiveLog } from './livelog.js';
import { LiveLogs } from './livelog.js';

export type { ILogView } from './livelog.js';

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
  /** The live log of the job whose detail is open. */
  get log(): LiveLog | null {
    return this._log;
  }

  /**
   * A job's live log for another view (a main-area log tab): the same stream as the panel's when
   * both show one job. Give it back with {@link releaseLog}.
   */
  acquireLog(id: string): LiveLog {
    return this._logs.acquire(id);
  }

  releaseLog(log: LiveLog): void {
    this._logs.release(log);
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
    if (this._log) {
      this._log.stateChanged.disconnect(this._onLog, this);
      this._logs.release(this._log);
    }
    this._selectedId = job?.id ?? null;
    this._selectedJob = job;
    this._log = job ? this._logs.acquire(job.id) : null;
    this._log?.stateChanged.connect(this._onLog, this);
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
    this._logs.dispose();
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

  private _onLog(): void {
    this.stateChanged.emit();
  }

  private _jobs: Job[] = [];
  private _error: CompanionError | null = null;
  private _loading = false;
  private _visible = false;
  private _filter: JobState | '' = '';
  private _selectedId: string | null = null;
  private _selectedJob: Job | null = null;
  private _log: LiveLog | null = null;
  // A job's log ending is news for the list: its state has changed.
  private _logs = new LiveLogs(() => void this.refresh());
  private _poll: Poll;
}
