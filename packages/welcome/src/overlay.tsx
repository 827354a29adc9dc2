/**
 * The welcome overlay: a dismissible strip at the top of the notebook with the digest at once
 * and the LLM's summary when it arrives. Every text from the notebook or the LLM is rendered as
 * text (React escapes it); cells are buttons that scroll to and select the cell.
 */
import type { WelcomeDigest, WelcomeSummary } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import React from 'react';
import { jumpToCell, type INotebookPanel } from './notebooks.js';

export const OVERLAY_CLASS = 'jp-Welcome-overlay';

export interface IOverlayState {
  digest: WelcomeDigest | null;
  summary: WelcomeSummary | null;
  /** The summary is being asked for. */
  summarising: boolean;
  /** The digest could not be had: why. */
  error: string | null;
}

export interface IOverlayOptions {
  panel: INotebookPanel;
  trans: TranslationBundle;
  /** "Don't show for this notebook". */
  onHide: () => void;
}

export class WelcomeOverlay extends ReactWidget {
  constructor(private readonly _options: IOverlayOptions) {
    super();
    this.addClass(OVERLAY_CLASS);
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', _options.trans.__('Welcome back'));
  }

  get state(): IOverlayState {
    return this._state;
  }

  set state(state: IOverlayState) {
    this._state = state;
    this.update();
  }

  dispose(): void {
    this._observer.disconnect();
    super.dispose();
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    // React renders on its own schedule; measure once it has.
    requestAnimationFrame(() => this._fit());
  }

  /**
   * The notebook panel lays its header out with lumino's BoxLayout, which gives a widget its CSS
   * min-height: so the overlay's min-height follows its content, up to 45% of the panel.
   */
  private _fit(): void {
    const body = this.node.firstElementChild;
    if (!body || this.isDisposed) return;
    if (this._observed !== body) {
      this._observer.disconnect();
      this._observer.observe(body);
      this._observed = body;
    }
    const room = this._options.panel.node.clientHeight * 0.45;
    const height = Math.ceil(Math.min((body as HTMLElement).offsetHeight + 2, room || Infinity));
    if (this.node.style.minHeight !== `${height}px`) {
      this.node.style.minHeight = `${height}px`;
      this.node.style.maxHeight = `${height}px`;
      this.parent?.fit();
    }
  }

  render(): JSX.Element {
    const { panel, trans, onHide } = this._options;
    return (
      <OverlayView
        state={this._state}
        trans={trans}
        jump={id => jumpToCell(panel, id)}
        onClose={() => this.dispose()}
        onHide={() => {
          onHide();
          this.dispose();
        }}
      />
    );
  }

  private _state: IOverlayState = { digest: null, summary: null, summarising: true, error: null };
  private _observer = new ResizeObserver(() => this._fit());
  private _observed: Element | null = null;
}

interface IViewProps {
  state: IOverlayState;
  trans: TranslationBundle;
  jump: (cellId: string) => boolean;
  onClose: () => void;
  onHide: () => void;
}

function OverlayView({ state, trans, jump, onClose, onHide }: IViewProps): JSX.Element {
  const { digest, summary, summarising, error } = state;
  const cell = (id: string | null | undefined, label: string) => (
    <CellLink id={id ?? null} label={label} jump={jump} trans={trans} />
  );
  const position = (index: number | null) =>
    index === null ? trans.__('a deleted cell') : trans.__('cell %1', index + 1);
  return (
    <div className="jp-Welcome-body">
      <div className="jp-Welcome-header">
        <h2 className="jp-Welcome-title">
          {digest?.daysAway && digest.daysAway >= 1
            ? trans._n(
                'Welcome back — you last worked here %1 day ago',
                'Welcome back — you last worked here %1 days ago',
                Math.floor(digest.daysAway)
              )
            : trans.__('Welcome back')}
        </h2>
        <button className="jp-Button jp-mod-minimal jp-Welcome-hide" onClick={onHide}>
          {trans.__("Don't show for this notebook")}
        </button>
        <button
          className="jp-Button jp-mod-minimal jp-Welcome-close"
          aria-label={trans.__('Close')}
          title={trans.__('Close')}
          onClick={onClose}
        >
          ×
        </button>
      </div>
      {error && <p className="jp-Welcome-error">{error}</p>}
      <section className="jp-Welcome-summary" aria-live="polite">
        {summarising && (
          <p className="jp-Welcome-progress">
            <span className="jp-Welcome-spinner" aria-hidden="true" />
            {trans.__('Summarising with the LLM… the digest below is ready now.')}
          </p>
        )}
        {summary?.summary && (
          <>
            <p className="jp-Welcome-headline">{summary.summary.headline}</p>
            {summary.summary.whatIDid.length > 0 && (
              <>
                <h3>{trans.__('What you did')}</h3>
                <ul>
                  {summary.summary.whatIDid.map((line, i) => (
                    <li key={i}>{line}</li>
                  ))}
                </ul>
              </>
            )}
            <h3>{trans.__('Where you stopped')}</h3>
            <p>
              {cell(summary.summary.stoppedAt.cellId, trans.__('Go to the cell'))}{' '}
              {summary.summary.stoppedAt.why}
            </p>
            {summary.summary.failure && (
              <>
                <h3>{trans.__('What failed')}</h3>
                <p>
                  {cell(summary.summary.failure.cellId, trans.__('Go to the cell'))}{' '}
                  <code>{summary.summary.failure.error}</code> {summary.summary.failure.hint}
                </p>
              </>
            )}
            {summary.summary.nextSteps.length > 0 && (
              <>
                <h3>{trans.__('Next steps')}</h3>
                <ol>
                  {summary.summary.nextSteps.map((line, i) => (
                    <li key={i}>{line}</li>
                  ))}
                </ol>
              </>
            )}
            <p className="jp-Welcome-source">
              {summary.source === 'cache'
                ? trans.__('Summary by %1 (from cache).', summary.model ?? '?')
                : trans.__('Summary by %1.', summary.model ?? '?')}{' '}
              {summary.scripted &&
                trans.__('This is the scripted test server, not a language model.')}
            </p>
          </>
        )}
        {summary && !summary.summary && summary.note && (
          <p className="jp-Welcome-note">{summary.note}</p>
        )}
      </section>
      {digest && (
        <section className="jp-Welcome-digest">
          {digest.failing && (
            <div className="jp-Welcome-failing">
              <h3>{trans.__('Still failing')}</h3>
              <p>
                {cell(digest.failing.cellId, position(digest.failing.index))}{' '}
                <code>
                  {digest.failing.errorName}: {digest.failing.errorValue}
                </code>
              </p>
              {digest.failing.lastFrame && (
                <pre className="jp-Welcome-frame">{digest.failing.lastFrame}</pre>
              )}
            </div>
          )}
          {digest.lastExecutions.length > 0 && (
            <>
              <h3>{trans.__('Your last runs')}</h3>
              <ul className="jp-Welcome-runs">
                {digest.lastExecutions
                  .slice(-5)
                  .reverse()
                  .map((run, i) => (
                    <li key={i}>
                      {cell(run.cellId, position(run.index))}{' '}
                      <span className={run.status === 'ok' ? 'jp-Welcome-ok' : 'jp-Welcome-bad'}>
                        {run.status === 'ok' ? trans.__('ran') : (run.error ?? run.status)}
                      </span>{' '}
                      <span className="jp-Welcome-when">{new Date(run.at).toLocaleString()}</span>
                    </li>
                  ))}
              </ul>
            </>
          )}
          {(digest.changed.length > 0 || digest.removedCount > 0) && (
            <>
              <h3>{trans.__('Changed since your last visit')}</h3>
              <p>
                {digest.changed.map(c => (
                  <span key={c.cellId} className="jp-Welcome-chip">
                    {cell(c.cellId, position(c.index))}{' '}
                    {c.change === 'added' ? trans.__('added') : trans.__('edited')}
                  </span>
                ))}
                {digest.removedCount > 0 && trans.__('%1 cells removed', digest.removedCount)}
              </p>
            </>
          )}
          {digest.neverRun.count > 0 && (
            <p>
              {trans._n(
                'One code cell has never been run:',
                '%1 code cells have never been run, the first:',
                digest.neverRun.count
              )}{' '}
              {cell(
                digest.neverRun.cells[0]?.cellId,
                position(digest.neverRun.cells[0]?.index ?? null)
              )}
            </p>
          )}
          {digest.outline.length > 0 && (
            <>
              <h3>{trans.__('Outline')}</h3>
              <ul className="jp-Welcome-outline">
                {digest.outline.slice(0, 12).map((h, i) => (
                  <li key={i} style={{ paddingLeft: `${(h.level - 1) * 12}px` }}>
                    {cell(h.cellId, h.text)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      )}
    </div>
  );
}

function CellLink(props: {
  id: string | null;
  label: string;
  jump: (id: string) => boolean;
  trans: TranslationBundle;
}): JSX.Element {
  const [gone, setGone] = React.useState(false);
  if (!props.id || gone) return <span className="jp-Welcome-cell jp-mod-gone">{props.label}</span>;
  return (
    <button
      className="jp-Welcome-cell"
      data-cell-id={props.id}
      title={props.trans.__('Scroll to this cell and select it')}
      onClick={() => setGone(!props.jump(props.id!))}
    >
      {props.label}
    </button>
  );
}
