/** The progress line while an action runs, then its outcome (an alert when it failed). */
import * as React from 'react';
import type { IResult } from './hooks.js';
import { useTrans } from './trans.js';

export function Feedback({ busy, result }: { busy: string | null; result: IResult | null }) {
  const trans = useTrans();
  if (busy) {
    return (
      <div className="jp-HotstepperGrader-progress" role="status">
        <progress /> {trans.__('%1…', busy)}
      </div>
    );
  }
  if (!result) return null;
  return (
    <div
      className={result.ok ? 'jp-HotstepperGrader-ok' : 'jp-HotstepperGrader-error'}
      role={result.ok ? 'status' : 'alert'}
    >
      <span className="jp-HotstepperGrader-message">{result.text}</span>
      {result.details && (
        <details className="jp-HotstepperGrader-details">
          <summary>{trans.__('Details')}</summary>
          <pre className="jp-HotstepperGrader-log" aria-label={trans.__('nbgrader log')}>
            {result.details.slice(-6000)}
          </pre>
        </details>
      )}
    </div>
  );
}
