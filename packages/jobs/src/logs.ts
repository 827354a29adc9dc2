import { buildPath } from '@hotstepper/schema';
import type { JobLogEvent } from '@hotstepper/api';
import { PROXY_SEGMENT } from '@hotstepper/api';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** What a log stream reports. */
export interface ILogHandlers {
  line(text: string): void;
  notice(text: string): void;
  end(result: JobLogEvent): void;
  /** The connection dropped; it is retried from the last line received. */
  retrying?(error: unknown): void;
}

/**
 * Follow a job's log: Server-Sent Events read with fetch through the Jupyter server (so its
 * auth and XSRF apply, which EventSource cannot send). A broken connection is resumed after the
 * last event id, so no line is lost or repeated. Resolves when the job's log has ended.
 */
export async function followLog(
  id: string,
  handlers: ILogHandlers,
  signal: AbortSignal,
  options: { tail?: number; follow?: boolean; settings?: ServerConnection.ISettings } = {}
): Promise<void> {
  const settings = options.settings ?? ServerConnection.makeSettings();
  let lastId: string | undefined;
  let ended = false;
  for (let attempt = 0; !ended && !signal.aborted; attempt++) {
    const query: Record<string, string | number | boolean | undefined> =
      lastId !== undefined ? { after: lastId } : { tail: options.tail };
    if (options.follow === false) query.follow = false;
    const url = URLExt.join(
      settings.baseUrl,
      PROXY_SEGMENT,
      buildPath('streamJobLogs', { id }, query)
    );
    try {
      const response = await ServerConnection.makeRequest(
        url,
        { headers: { Accept: 'text/event-stream' }, signal, cache: 'no-cache' },
        settings
      );
      if (!response.ok || !response.body) {
        const text = await response.text();
        handlers.notice(
          `The log is not available (HTTP ${response.status}): ${text.slice(0, 300)}`
        );
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parse(block);
          if (!event) continue;
          if (event.id !== undefined) lastId = event.id;
          if (event.type === 'line') handlers.line(event.data);
          else if (event.type === 'notice') handlers.notice(event.data);
          else if (event.type === 'end') {
            ended = true;
            handlers.end(JSON.parse(event.data) as JobLogEvent);
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      handlers.retrying?.(error);
    }
    if (!ended && !signal.aborted) {
      await new Promise(resolve => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 15000)));
    }
  }
}

function parse(block: string): { type: string; id?: string; data: string } | null {
  let type = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const at = line.indexOf(':');
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return data.length || id !== undefined ? { type, id, data: data.join('\n') } : null;
}
