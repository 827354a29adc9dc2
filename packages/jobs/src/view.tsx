import type { Job, JobState } from '@hotstepper/api';
import { Time } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, VDomRenderer } from '@jupyterlab/ui-components';
import React, { useEffect, useRef } from 'react';
import { duration, resources, usage, what } from './format.js';
import { followLog } from './logs.js';
import type { JobsModel } from './model.js';

const STATES: JobState[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

/** The Jobs panel's body: the list, or one job's detail with its live log. */
export class JobsView extends VDomRenderer<JobsModel> {
  constructor(
    model: JobsModel,
    private _trans: TranslationBundle,
    private _submit: () => void,
    private _open: (path: string) => void,
    private _openLog: (job: Job) => void
  ) {
    super(model);
    this.addClass('jp-HotstepperJobs-view');
  }

  protected render(): React.ReactElement {
    const { model } = this;
    const trans = this._trans;
    const job = model.selected;
    return (
      <>
        {model.loading && <div className="jp-HotstepperJobs-progress" role="progressbar" />}
        {model.error && (
          <div className="jp-HotstepperJobs-error" role="alert">
            <strong>{model.error.title}</strong> {model.error.detail}
          </div>
        )}
        {job ? (
          <Detail
            job={job}
            model={model}
            trans={trans}
            onOpen={this._open}
            onOpenLog={this._openLog}
          />
        ) : (
          <List model={model} trans={trans} onSubmit={this._submit} />
        )}
      </>
    );
  }
}

function StateBadge({ state }: { state: JobState }): React.ReactElement {
  return (
    <span className={`jp-HotstepperJobs-state jp-mod-${state}`} data-state={state}>
      {state}
    </span>
  );
}

function List(props: {
  model: JobsModel;
  trans: TranslationBundle;
  onSubmit: () => void;
}): React.ReactElement {
  const { model, trans } = props;
  return (
    <div className="jp-HotstepperJobs-list">
      <div className="jp-HotstepperJobs-bar">
        <Button className="jp-mod-styled jp-mod-accept" onClick={props.onSubmit}>
          {trans.__('New job…')}
        </Button>
        <select
          className="jp-mod-styled"
          aria-label={trans.__('Show')}
          value={model.filter}
          onChange={e => (model.filter = e.target.value as JobState | '')}
        >
          <option value="">{trans.__('All jobs')}</option>
          {STATES.map(s => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {model.jobs.length === 0 && !model.loading && (
        <p className="jp-HotstepperJobs-meta">
          {trans.__('No jobs yet. Use "Run as Job" on a notebook or script, or New job….')}
        </p>
      )}
      <ul>
        {model.jobs.map(job => (
          <li key={job.id}>
            <button
              className="jp-HotstepperJobs-item"
              data-job={job.id}
              onClick={() => model.select(job)}
              title={what(job)}
            >
              <span className="jp-HotstepperJobs-itemHead">
                <span className="jp-HotstepperJobs-name">{job.name}</span>
                <StateBadge state={job.state} />
              </span>
              <span className="jp-HotstepperJobs-meta">
                {Time.formatHuman(job.createdAt)} · {duration(job.durationSeconds)} ·{' '}
                {resources(job.spec)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Detail(props: {
  job: Job;
  model: JobsModel;
  trans: TranslationBundle;
  onOpen: (path: string) => void;
  onOpenLog: (job: Job) => void;
}): React.ReactElement {
  const { job, model, trans } = props;
  const log = model.log;
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const node = pre.current;
    if (node && stick.current) node.scrollTop = node.scrollHeight;
  });
  const active = job.state === 'pending' || job.state === 'running';
  const download = async () => {
    // The whole log from the companion, not only the lines the panel kept.
    const lines: string[] = [];
    const done = new AbortController();
    await followLog(
      job.id,
      { line: l => lines.push(l), notice: () => undefined, end: () => done.abort() },
      done.signal,
      { follow: false }
    );
    const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/plain' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${job.name}-${job.id}.log`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <div className="jp-HotstepperJobs-detail" data-job={job.id}>
      <div className="jp-HotstepperJobs-bar">
        <Button className="jp-mod-styled" onClick={() => model.select(null)}>
          {trans.__('‹ All jobs')}
        </Button>
        {active && (
          <Button
            className="jp-mod-styled jp-mod-warn"
            onClick={() => void model.act('cancel', job)}
          >
            {trans.__('Cancel')}
          </Button>
        )}
        {!active && (
          <Button className="jp-mod-styled" onClick={() => void model.act('rerun', job)}>
            {trans.__('Re-run')}
          </Button>
        )}
        <Button
          className="jp-mod-styled"
          onClick={() => props.onOpenLog(job)}
          title={trans.__('Follow the log in a tab of the main area, with a filter')}
        >
          {trans.__('Open log')}
        </Button>
        <Button
          className="jp-mod-styled"
          onClick={() => void download()}
          title={trans.__('Download the log')}
        >
          {trans.__('Download')}
        </Button>
        {!active && (
          <Button className="jp-mod-styled" onClick={() => void model.act('delete', job)}>
            {trans.__('Delete')}
          </Button>
        )}
      </div>
      <h3 className="jp-HotstepperJobs-title">
        {job.name} <StateBadge state={job.state} />
      </h3>
      <dl className="jp-HotstepperJobs-facts">
        <dt>{trans.__('Runs')}</dt>
        <dd>
          <code>{what(job)}</code>
        </dd>
        <dt>{trans.__('Resources')}</dt>
        <dd>{resources(job.spec)}</dd>
        <dt>{trans.__('Started')}</dt>
        <dd>{job.startedAt ? Time.formatHuman(job.startedAt) : trans.__('not yet')}</dd>
        <dt>{trans.__('Duration')}</dt>
        <dd>{duration(job.durationSeconds)}</dd>
        <dt>{trans.__('Cost basis')}</dt>
        <dd>{usage(job)}</dd>
        {job.output && (
          <>
            <dt>{trans.__('Output')}</dt>
            <dd className="jp-HotstepperJobs-output">
              {/* A button, not a link: Lab opens the notebook in a tab, the browser would download it. */}
              <button
                className="jp-HotstepperJobs-link"
                title={trans.__('Open the executed notebook')}
                onClick={() => props.onOpen(job.output as string)}
              >
                {job.output}
              </button>
            </dd>
          </>
        )}
        {job.kubernetes && (
          <>
            <dt>{trans.__('Kubernetes')}</dt>
            <dd>
              {job.kubernetes.namespace}/{job.kubernetes.jobName}
            </dd>
          </>
        )}
        {job.message && (
          <>
            <dt>{job.state === 'pending' ? trans.__('Why it waits') : trans.__('Result')}</dt>
            <dd className="jp-HotstepperJobs-message">{job.message}</dd>
          </>
        )}
      </dl>
      {log?.notices.map((n, i) => (
        <p key={i} className="jp-HotstepperJobs-notice">
          {n}
        </p>
      ))}
      <pre
        ref={pre}
        className="jp-HotstepperJobs-log"
        aria-label={trans.__('Log')}
        onScroll={e => {
          const n = e.currentTarget;
          stick.current = n.scrollTop + n.clientHeight >= n.scrollHeight - 8;
        }}
      >
        {log?.dropped ? `… (${trans.__('older lines dropped; Download has them')})\n` : ''}
        {log?.lines.join('\n')}
        {log && !log.ended ? (log.lines.length ? '\n' : '') + '▍' : ''}
      </pre>
    </div>
  );
}
