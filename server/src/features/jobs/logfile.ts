/**
 * A log file as Server-Sent Event lines: each line's id is the byte offset where the next line
 * starts, so a client reconnecting with Last-Event-ID continues exactly there. While the job runs
 * the file is polled for growth; a last line without a newline is sent once the job has ended.
 */
import { open, stat } from 'node:fs/promises';
import { sleep } from '../../platform/sleep.js';
import type { ILogEvent, ILogOptions } from './executors/types.js';

const CHUNK = 64 * 1024;
/** A longer line is cut: a browser must not have to hold one endless line. */
const MAX_LINE = 64 * 1024;
const POLL_MS = 100;

async function size(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** The offset where the last `lines` lines of the file begin. */
export async function tailOffset(file: string, lines: number): Promise<number> {
  const end = await size(file);
  if (lines <= 0) return end;
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return 0;
  try {
    let pos = end;
    let seen = 0;
    const buffer = Buffer.alloc(CHUNK);
    // A final newline ends the last line; it does not start an empty one.
    let skipLast = true;
    while (pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      await handle.read(buffer, 0, len, pos);
      for (let i = len - 1; i >= 0; i--) {
        if (buffer[i] !== 10) {
          skipLast = false;
          continue;
        }
        if (skipLast) {
          skipLast = false;
          continue;
        }
        if (++seen === lines) return pos + i + 1;
      }
    }
    return 0;
  } finally {
    await handle.close();
  }
}

export async function tailFile(
  file: string,
  options: ILogOptions,
  emit: (event: ILogEvent) => void
): Promise<void> {
  let offset =
    options.after !== undefined
      ? Number(options.after)
      : options.tail !== undefined
        ? await tailOffset(file, options.tail)
        : 0;
  let carry = Buffer.alloc(0);
  const buffer = Buffer.alloc(CHUNK);

  const flushLines = (chunk: Buffer, chunkEnd: number) => {
    let data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    const base = chunkEnd - data.length;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      emit({ event: 'line', id: String(base + nl + 1), data: data.toString('utf8', start, nl) });
      start = nl + 1;
    }
    data = data.subarray(start);
    while (data.length >= MAX_LINE) {
      emit({
        event: 'line',
        id: String(chunkEnd - data.length + MAX_LINE),
        data: data.toString('utf8', 0, MAX_LINE)
      });
      data = data.subarray(MAX_LINE);
    }
    carry = Buffer.from(data);
  };

  for (;;) {
    if (options.signal.aborted) return;
    // Whether the job had ended before this read: then whatever we read is all there will be.
    const ended = options.follow ? await options.finished() : true;
    const end = await size(file);
    if (end > offset) {
      const handle = await open(file, 'r');
      try {
        while (offset < end && !options.signal.aborted) {
          const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, end - offset), offset);
          if (!bytesRead) break;
          offset += bytesRead;
          flushLines(buffer.subarray(0, bytesRead), offset);
        }
      } finally {
        await handle.close();
      }
    }
    if (ended) {
      if (carry.length && (!options.follow ? await options.finished() : true)) {
        emit({ event: 'line', id: String(offset), data: carry.toString('utf8') });
      }
      return;
    }
    await sleep(POLL_MS, options.signal).catch(() => undefined);
  }
}
