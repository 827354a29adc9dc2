/**
 * The execution journal, browser side: each execute_request a notebook's kernel is sent (it
 * carries JupyterLab's cell id) is timed until its execute_reply, then queued and sent to the
 * companion in batches. What could not be sent stays queued (bounded) and is retried.
 *
 * A notebook renamed or moved while open (its document context's pathChanged) takes its history
 * along: what is still queued is relabelled, and the companion is told to move what it has
 * (POST welcome/journal/moves), after any batch already on its way under the old path.
 */
import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { WelcomeExecution } from '@hotstepper/api';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { ServerConnection } from '@jupyterlab/services';
import type { INotebookPanel } from './notebooks.js';

type Move = { from: string; to: string };

/** The companion takes at most 1,000 per batch (schema WelcomeJournalBatch). */
const BATCH = 500;
const KEEP = 5000;
const FLUSH_MS = 3000;

interface IPending {
  /** The path is read at the reply: a rename while the cell runs files the run under the new one. */
  panel: INotebookPanel;
  cellId: string;
  startedAt: number;
}

export class ExecutionJournal {
  constructor(private readonly _settings?: ServerConnection.ISettings) {
    this._timer = window.setInterval(() => void this.flush(), FLUSH_MS);
    window.addEventListener('pagehide', () => void this.flush());
  }

  /** Whether executions are recorded (a setting). */
  enabled = true;

  /** Follow a notebook panel's kernel, whichever kernel it has over time. */
  watch(panel: INotebookPanel): void {
    const session = panel.context.sessionContext;
    const onMessage = (_: Kernel.IKernelConnection, args: Kernel.IAnyMessageArgs) =>
      this._onMessage(panel, args);
    const attach = (kernel: Kernel.IKernelConnection | null | undefined) =>
      kernel?.anyMessage.connect(onMessage);
    attach(session.session?.kernel);
    session.kernelChanged.connect((_, change) => {
      change.oldValue?.anyMessage.disconnect(onMessage);
      attach(change.newValue);
    });
    this._follow(panel);
  }

  /**
   * The notebook at `from` is now at `to`: relabel what is queued, and have the companion move
   * my runs, visits and cached summary (whether or not the journal is enabled: the history
   * recorded before belongs to the notebook all the same).
   */
  move(from: string, to: string): void {
    if (from === to) return;
    // In place: a batch that failed and is retried goes under the new path too.
    for (const event of this._queue) if (event.path === from) event.path = to;
    this._moves.push({ from, to });
    void this.flush();
  }

  /**
   * Send what is queued, moves first (in order); called on a timer, when the page goes and on a
   * move. One at a time: a call while a batch is on its way sends again once it has arrived, so
   * a move never overtakes runs sent under the old path.
   */
  async flush(): Promise<void> {
    if (this._sending) {
      this._again = true;
      return;
    }
    if (this._queue.length === 0 && this._moves.length === 0) return;
    this._sending = true;
    try {
      if (!(await this._sendMoves())) return;
      if (this._queue.length === 0) return;
      const batch = this._queue.slice(0, BATCH) as [WelcomeExecution, ...WelcomeExecution[]];
      try {
        await HotstepperAPI.postWelcomeJournal({ body: { events: batch } }, this._settings);
        this._queue.splice(0, batch.length);
      } catch (error) {
        // A 400 will not get better by retrying: drop that batch, say so in the console.
        if (error instanceof CompanionError && error.status === 400) {
          console.warn('@hotstepper/welcome: the companion refused a journal batch', error.message);
          this._queue.splice(0, batch.length);
        }
      }
    } finally {
      this._sending = false;
      if (this._again) {
        this._again = false;
        void this.flush();
      }
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
  }

  /** Moves in the order they happened; false when one must wait for the next flush. */
  private async _sendMoves(): Promise<boolean> {
    while (this._moves.length > 0) {
      try {
        await HotstepperAPI.postWelcomeJournalMove({ body: this._moves[0] }, this._settings);
      } catch (error) {
        if (!(error instanceof CompanionError && error.status === 400)) return false;
        // A path the companion refuses (a '..' segment, say) stays refused: the history stays
        // under the old path, and the console says why.
        console.warn(
          '@hotstepper/welcome: the companion refused to move the journal',
          this._moves[0],
          error.message
        );
      }
      this._moves.shift();
    }
    return true;
  }

  /**
   * Follow the panel's document context across renames and moves, once per context (a second
   * view of a notebook shares it). pathChanged gives only the new path: the old one is kept here.
   */
  private _follow(panel: INotebookPanel): void {
    const context = panel.context;
    if (this._followed.has(context)) return;
    this._followed.add(context);
    let path = context.path;
    context.pathChanged.connect((_, next) => {
      const from = path;
      path = next;
      this.move(from, next);
    });
  }

  private _onMessage(panel: INotebookPanel, { msg, direction }: Kernel.IAnyMessageArgs): void {
    if (!this.enabled) return;
    const type = msg.header.msg_type;
    if (direction === 'send' && type === 'execute_request') {
      const cellId = (msg.metadata as { cellId?: unknown }).cellId;
      if (typeof cellId === 'string' && cellId) {
        this._pending.set(msg.header.msg_id, {
          panel,
          cellId,
          startedAt: Date.now()
        });
      }
      return;
    }
    if (direction !== 'recv' || type !== 'execute_reply') return;
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id ?? '';
    const pending = this._pending.get(parent);
    if (!pending) return;
    this._pending.delete(parent);
    const content = msg.content as KernelMessage.IExecuteReplyMsg['content'];
    // Aborted: queued behind a failing cell and never run; "never run" is what the digest says.
    if (content.status === 'aborted') return;
    const event: WelcomeExecution = {
      path: pending.panel.context.path,
      cellId: pending.cellId,
      startedAt: new Date(pending.startedAt).toISOString(),
      // From the request to the reply: queue time included when several cells run in a row.
      durationMs: Math.max(0, Date.now() - pending.startedAt),
      status: content.status === 'error' ? 'error' : 'ok',
      executionCount: typeof content.execution_count === 'number' ? content.execution_count : null
    };
    if (content.status === 'error') {
      event.errorName = String(content.ename).slice(0, 200);
      event.errorValue = String(content.evalue).slice(0, 2000);
    }
    this._queue.push(event);
    if (this._queue.length > KEEP) this._queue.splice(0, this._queue.length - KEEP);
    if (this._queue.length >= BATCH) void this.flush();
  }

  private _queue: WelcomeExecution[] = [];
  private _moves: Move[] = [];
  private _followed = new WeakSet<object>();
  private _again = false;
  private _pending = new Map<string, IPending>();
  private _sending = false;
  private _timer: number;
}
