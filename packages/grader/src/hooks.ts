/** State every Grader screen shares: one action at a time, its progress and its outcome. */
import { CompanionError } from '@hotstepper/api';
import * as React from 'react';
import { useTrans } from './trans.js';

/** What the last action came to, as the panel shows it. */
export interface IResult {
  ok: boolean;
  text: string;
  /** nbgrader's log, shown only behind a "Details" disclosure. */
  details?: string;
}

/** An action's outcome: the companion's sentence, and its raw log for the Details disclosure. */
export interface IOutcome {
  message: string;
  log?: string;
}

/**
 * Runs an action labelled for the progress line; its text or outcome (or "<label>: done")
 * becomes the result.
 */
export type Run = (label: string, fn: () => Promise<string | void | IOutcome>) => Promise<void>;

/** The companion's own problem message (its `detail` is written for people), else the error. */
export const message = (e: unknown): string =>
  e instanceof CompanionError ? e.detail : e instanceof Error ? e.message : String(e);

export function useBusy(): { busy: string | null; result: IResult | null; run: Run } {
  const trans = useTrans();
  const [busy, setBusy] = React.useState<string | null>(null);
  const [result, setResult] = React.useState<IResult | null>(null);
  const run: Run = async (label, fn) => {
    setBusy(label);
    setResult(null);
    try {
      const out = await fn();
      if (out && typeof out === 'object') {
        setResult({ ok: true, text: out.message, details: out.log?.trim() || undefined });
      } else {
        setResult({ ok: true, text: out || trans.__('%1: done', label) });
      }
    } catch (e) {
      setResult({ ok: false, text: trans.__('%1: %2', label, message(e)) });
    } finally {
      setBusy(null);
    }
  };
  return { busy, result, run };
}
