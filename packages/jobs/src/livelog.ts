import type { JobLogEvent } from '@hotstepper/api';
import { VDomModel } from '@jupyterlab/ui-components';
import { followLog } from './logs.js';

/** The most log lines kept per job; older ones are dropped from view (Download has them all). */
export const MAX_LINES = 5000;

/** The live log of a job, as the views read it. */
export interface ILogView {
  id: string;
  lines: string[];
  notices: string[];
  ended: boolean;
  dropped: number;
}

/**
 * One job's live log: one stream from the companion, however many views show it (the Jobs panel's
 * detail and a main-area log tab share it; see {@link LiveLogs}). It stays readable after the job
 * ends, with the end state.
 */
export class LiveLog extends VDomModel implements ILogView {
  constructor(
    readonly id: string,
    onEnd?: (result: JobLogEvent) => void
  ) {
    super();
    void followLog(
      id,
      {
        line: text => {
          this.lines.push(text);
          if (this.lines.length > MAX_LINES) {
            this.lines.splice(0, this.lines.length - MAX_LINES);
            this.dropped++;
          }
          this._changedSoon();
        },
        notice: text => {
          this.notices.push(text);
          this._changedSoon();
        },
        end: result => {
          this.ended = true;
          this.result = result;
          this.stateChanged.emit();
          onEnd?.(result);
        }
      },
      this._abort.signal
    );
  }

  readonly lines: string[] = [];
  readonly notices: string[] = [];
  ended = false;
  dropped = 0;
  /** How the job ended, once the stream says so. */
  result: JobLogEvent | null = null;

  dispose(): void {
    if (this.isDisposed) return;
    this._abort.abort();
    if (this._frame) cancelAnimationFrame(this._frame);
    super.dispose();
  }

  /** Many lines at once render once per frame, not once per line. */
  private _changedSoon(): void {
    if (this._frame || this.isDisposed) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      if (!this.isDisposed) this.stateChanged.emit();
    });
  }

  private _abort = new AbortController();
  private _frame = 0;
}

/** The live logs open in this Lab, one per job, counted by the views that show them. */
export class LiveLogs {
  constructor(private _onEnd: (result: JobLogEvent) => void) {}

  /** The job's live log, started by the first view that asks; give it back with `release`. */
  acquire(id: string): LiveLog {
    let entry = this._logs.get(id);
    if (!entry) {
      entry = { log: new LiveLog(id, this._onEnd), users: 0 };
      this._logs.set(id, entry);
    }
    entry.users++;
    return entry.log;
  }

  /** A view no longer shows the log; the last one to go stops the stream. */
  release(log: LiveLog): void {
    const entry = this._logs.get(log.id);
    if (!entry || entry.log !== log) return;
    if (--entry.users > 0) return;
    this._logs.delete(log.id);
    log.dispose();
  }

  dispose(): void {
    for (const { log } of this._logs.values()) log.dispose();
    this._logs.clear();
  }

  private _logs = new Map<string, { log: LiveLog; users: number }>();
}
