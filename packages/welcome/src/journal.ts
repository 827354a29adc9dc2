/**
 * The execution journal, browser side: each execute_request a notebook's kernel is sent (it
 * carries JupyterLab's cell id) is timed until its execute_reply, then queued and sent to the
 * companion in batches. What could not be sent stays queued (bounded) and is retried.
 */
import { CompanionError, HotstepperAPI } from '@hotstepper/api';
import type { WelcomeExecution } from '@hotstepper/api';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { ServerConnection } from '@jupyterlab/services';
import type { INotebookPanel } from './notebooks.js';

/** The companion takes at most 1,000 per batch (schema WelcomeJournalBatch). */
const BATCH = 500;
const KEEP = 5000;
const FLUSH_MS = 3000;

interface IPending {
  path: string;
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
  }

  /** Send what is queued; called on a timer and when the page goes. */
  async flush(): Promise<void> {
    if (this._sending || this._queue.length === 0) return;
    this._sending = true;
    // Not empty: checked above.
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
    } finally {
      this._sending = false;
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
  }

  private _onMessage(panel: INotebookPanel, { msg, direction }: Kernel.IAnyMessageArgs): void {
    if (!this.enabled) return;
    const type = msg.header.msg_type;
    if (direction === 'send' && type === 'execute_request') {
      const cellId = (msg.metadata as { cellId?: unknown }).cellId;
      if (typeof cellId === 'string' && cellId) {
        this._pending.set(msg.header.msg_id, {
          path: panel.context.path,
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
      path: pending.path,
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
  private _pending = new Map<string, IPending>();
  private _sending = false;
  private _timer: number;
}
