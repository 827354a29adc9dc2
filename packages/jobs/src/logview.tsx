import type { Job, JobState } from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, InputGroup, VDomRenderer } from '@jupyterlab/ui-components';
import React, { useLayoutEffect, useRef, useState } from 'react';
import type { LiveLog } from './livelog.js';
import type { JobsModel } from './model.js';
import { filterLines } from './noise.js';

/** The log view's CSS class; its parts are `jp-HotstepperJobs-logView-<part>`. */
export const LOG_VIEW_CLASS = 'jp-HotstepperJobs-logView';

/** Scrolled to within this many pixels of the end counts as at the end. */
const AT_END_PX = 8;

/**
 * A job's live log in the main area: the same stream as the Jobs panel's (the panel's model hands
 * it out), a filter and "Hide noise", following the end while the reader is there.
 */
export class JobLogView extends VDomRenderer<LiveLog> {
  constructor(options: JobLogView.IOptions) {
    const log = options.jobs.acquireLog(options.id);
    super(log);
    this.jobId = options.id;
    this.jobName = options.name;
    this._jobs = options.jobs;
    this._trans = options.trans;
    this.addClass(LOG_VIEW_CLASS);
    // The job's state, when the list has it (the stream's end has the final one).
    this._jobs.stateChanged.connect(this._onJobs, this);
  }

  /** The job shown. */
  readonly jobId: string;
  /** Its name when opened (the tab's title). */
  readonly jobName: string;

  dispose(): void {
    if (this.isDisposed) return;
    const log = this.model;
    this._jobs.stateChanged.disconnect(this._onJobs, this);
    super.dispose();
    this._jobs.releaseLog(log);
  }

  protected render(): React.ReactElement {
    const job = this._jobs.jobs.find(j => j.id === this.jobId) ?? null;
    return (
      <LogBody
        log={this.model}
        job={job}
        trans={this._trans}
        onCancel={job ? () => void this._jobs.act('cancel', job) : undefined}
      />
    );
  }

  private _onJobs(): void {
    this.update();
  }

  private _jobs: JobsModel;
  private _trans: TranslationBundle;
}

export namespace JobLogView {
  export interface IOptions {
    /** The Jobs panel's model: it owns the live logs and the list of jobs. */
    jobs: JobsModel;
    id: string;
    name: string;
    trans: TranslationBundle;
  }
}

function LogBody(props: {
  log: LiveLog;
  job: Job | null;
  trans: TranslationBundle;
  onCancel?: () => void;
}): React.ReactElement {
  const { log, job, trans } = props;
  const [query, setQuery] = useState('');
  const [hideNoise, setHideNoise] = useState(false);
  const [following, setFollowing] = useState(true);
  const pre = useRef<HTMLPreElement>(null);

  // After every render: keep the end in view while the reader is at it.
  useLayoutEffect(() => {
    const node = pre.current;
    if (node && following) node.scrollTop = node.scrollHeight;
  });

  const shown = filterLines(log.lines, { query, hideNoise });
  const state: JobState | null = log.result?.state ?? job?.state ?? null;
  const active = !log.ended && (state === null || state === 'pending' || state === 'running');
  const follow = () => {
    setFollowing(true);
    const node = pre.current;
    if (node) node.scrollTop = node.scrollHeight;
  };

  return (
    <>
      <div className={`${LOG_VIEW_CLASS}-bar`}>
        <InputGroup
          className={`${LOG_VIEW_CLASS}-filter`}
          type="text"
          rightIcon="ui-components:search"
          placeholder={trans.__('Filter lines')}
          aria-label={trans.__('Filter lines')}
          value={query}
          onChange={e => setQuery(e.currentTarget.value)}
        />
        <label
          className={`${LOG_VIEW_CLASS}-noise`}
          title={trans.__(
            'Hide blank lines, papermill cell markers and progress bars, pip\'s "Requirement already satisfied"'
          )}
        >
          <input
            type="checkbox"
            checked={hideNoise}
            onChange={e => setHideNoise(e.currentTarget.checked)}
          />{' '}
          {trans.__('Hide noise')}
        </label>
        <span className={`${LOG_VIEW_CLASS}-count`} aria-live="polite">
          {trans.__('showing %1 of %2 lines', shown.length, log.lines.length)}
        </span>
        <span className={`${LOG_VIEW_CLASS}-spacer`} />
        {!following && (
          <Button className="jp-mod-styled" onClick={follow}>
            {trans.__('Follow')}
          </Button>
        )}
        {active && props.onCancel && (
          <Button className="jp-mod-styled jp-mod-warn" onClick={props.onCancel}>
            {trans.__('Cancel job')}
          </Button>
        )}
      </div>
      {log.notices.map((n, i) => (
        <p key={i} className="jp-HotstepperJobs-notice">
          {n}
        </p>
      ))}
      <pre
        ref={pre}
        className={`${LOG_VIEW_CLASS}-lines`}
        aria-label={trans.__('Log')}
        tabIndex={0}
        onScroll={e => {
          const n = e.currentTarget;
          const atEnd = n.scrollTop + n.clientHeight >= n.scrollHeight - AT_END_PX;
          if (atEnd !== following) setFollowing(atEnd);
        }}
      >
        {log.dropped ? `… (${trans.__('older lines dropped; Download has them')})\n` : ''}
        {shown.join('\n')}
        {active ? (shown.length ? '\n' : '') + '▍' : ''}
      </pre>
      <div className={`${LOG_VIEW_CLASS}-status`} data-state={state ?? 'unknown'} role="status">
        {log.result
          ? log.result.exitCode === null
            ? trans.__('The job ended: %1.', log.result.state)
            : trans.__('The job ended: %1 (exit code %2).', log.result.state, log.result.exitCode)
          : state
            ? trans.__('The job is %1; new lines appear as they are written.', state)
            : trans.__('Following the log…')}
      </div>
    </>
  );
}
