/** The progress line while an action runs, then its outcome (an alert when it failed). */
import * as React from 'react';
import type { IResult } from './hooks.js';

export function Feedback({ busy, result }: { busy: string | null; result: IResult | null }) {
  if (busy) {
    return (
      <div className="jp-HotstepperGrader-progress" role="status">
        <progress /> {busy}…
      </div>
    );
  }
  if (!result) return null;
  return (
    <div
      className={result.ok ? 'jp-HotstepperGrader-ok' : 'jp-HotstepperGrader-error'}
      role={result.ok ? 'status' : 'alert'}
    >
      {result.text}
    </div>
  );
}
