import type { CompanionError, Connection, Me, Preferences } from '@hotstepper/api';
import { Time } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, VDomRenderer } from '@jupyterlab/ui-components';
import React from 'react';
import type { StatusModel } from './model.js';

/** CSS classes; the `userName`, `connection` and `error` ones are hooks for browser tests. */
const VIEW_CLASS = 'jp-HotstepperStatus-view';
const PROGRESS_CLASS = 'jp-HotstepperStatus-progress';
const SECTION_CLASS = 'jp-HotstepperStatus-section';
const HEADING_CLASS = 'jp-HotstepperStatus-heading';
const USER_CLASS = 'jp-HotstepperStatus-user';
const USER_NAME_CLASS = 'jp-HotstepperStatus-userName';
const BADGE_CLASS = 'jp-HotstepperStatus-badge';
const TAG_CLASS = 'jp-HotstepperStatus-tag';
const CONNECTION_CLASS = 'jp-HotstepperStatus-connection';
const DOT_CLASS = 'jp-HotstepperStatus-dot';
const STATE_CLASS = 'jp-HotstepperStatus-state';
const ROW_CLASS = 'jp-HotstepperStatus-row';
const DETAIL_CLASS = 'jp-HotstepperStatus-detail';
const META_CLASS = 'jp-HotstepperStatus-meta';
const ERROR_CLASS = 'jp-HotstepperStatus-error';
const PREFERENCE_CLASS = 'jp-HotstepperStatus-preference';
const SAVE_CLASS = 'jp-HotstepperStatus-save';

/** The body of the status panel, rendered from a {@link StatusModel}. */
export class StatusView extends VDomRenderer<StatusModel> {
  /** Create the view of a model. */
  constructor(model: StatusModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
    this.addClass(VIEW_CLASS);
  }

  protected render(): React.ReactElement {
    const { model } = this;
    const trans = this._trans;
    return (
      <>
        {model.loading && (
          <div className={PROGRESS_CLASS} role="progressbar" aria-label={trans.__('Loading')} />
        )}
        {model.error ? (
          <ErrorNotice error={model.error} onRetry={() => void model.refresh()} trans={trans} />
        ) : model.me ? (
          <>
            <UserSection me={model.me} trans={trans} />
            <ConnectionSection me={model.me} updatedAt={model.updatedAt} trans={trans} />
            <PreferenceSection model={model} trans={trans} />
          </>
        ) : (
          <p className={META_CLASS}>{trans.__('Asking the Hotstepper companion…')}</p>
        )}
      </>
    );
  }

  private _trans: TranslationBundle;
}

/** What happened, what to do, and a way to try again. */
function ErrorNotice(props: {
  error: CompanionError;
  onRetry: () => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { error, trans } = props;
  return (
    <div className={ERROR_CLASS} role="alert">
      <h3>{errorTitle(error, trans)}</h3>
      <p>{error.detail}</p>
      <p className={META_CLASS}>
        {error.status
          ? trans.__('Code %1 (HTTP %2)', error.code, error.status)
          : trans.__('Code %1', error.code)}
      </p>
      {/* JupyterLab's own primary-button look, as in its dialogs. */}
      <Button className="jp-mod-styled jp-mod-accept" onClick={props.onRetry}>
        {trans.__('Retry')}
      </Button>
    </div>
  );
}

function UserSection(props: { me: Me; trans: TranslationBundle }): React.ReactElement {
  const { user } = props.me;
  const { trans } = props;
  return (
    <section className={`${SECTION_CLASS} ${USER_CLASS}`}>
      <div>
        <span className={USER_NAME_CLASS}>{user.name}</span>
        {user.admin && (
          <span className={BADGE_CLASS} title={trans.__('You can see and manage the platform')}>
            {trans.__('operator')}
          </span>
        )}
      </div>
      <ul aria-label={trans.__('Groups')}>
        {user.groups.map(group => (
          <li key={group} className={TAG_CLASS}>
            {group}
          </li>
        ))}
        {user.groups.length === 0 && <li className={META_CLASS}>{trans.__('No groups')}</li>}
      </ul>
    </section>
  );
}

function ConnectionSection(props: {
  me: Me;
  updatedAt: Date | null;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans, updatedAt } = props;
  return (
    <section className={SECTION_CLASS}>
      <h3 className={HEADING_CLASS}>{trans.__('Platform')}</h3>
      <ul>
        {props.me.connections.map(connection => (
          <ConnectionItem key={connection.name} connection={connection} trans={trans} />
        ))}
      </ul>
      {updatedAt && (
        <p className={META_CLASS} title={Time.format(updatedAt)}>
          {trans.__('Updated %1', Time.formatHuman(updatedAt))}
        </p>
      )}
    </section>
  );
}

function ConnectionItem(props: {
  connection: Connection;
  trans: TranslationBundle;
}): React.ReactElement {
  const { connection, trans } = props;
  const { checkedAt, latencyMs } = connection;
  const meta = [
    checkedAt && trans.__('checked %1', Time.formatHuman(checkedAt)),
    typeof latencyMs === 'number' && `${Math.round(latencyMs)} ms`
  ].filter(Boolean);
  return (
    <li className={CONNECTION_CLASS} data-name={connection.name} data-state={connection.state}>
      <span className={DOT_CLASS} aria-hidden="true" />
      <span className={ROW_CLASS}>
        <strong>{connectionLabels[connection.name] ?? connection.name}</strong>
        <span className={STATE_CLASS}>{stateLabel(connection.state, trans)}</span>
      </span>
      <span className={DETAIL_CLASS}>{connection.detail}</span>
      {meta.length > 0 && (
        <span className={META_CLASS} title={checkedAt ? Time.format(checkedAt) : undefined}>
          {meta.join(' · ')}
        </span>
      )}
    </li>
  );
}

function PreferenceSection(props: {
  model: StatusModel;
  trans: TranslationBundle;
}): React.ReactElement {
  const { model, trans } = props;
  const preferences = model.preferences;
  const items: { key: keyof Preferences; label: string; help: string }[] = [
    {
      key: 'welcomeBack',
      label: trans.__('Welcome-back summary'),
      help: trans.__('Show what changed when I reopen a notebook after days away.')
    },
    {
      key: 'idleMail',
      label: trans.__('Mail me before an idle stop'),
      help: trans.__('JupyterLab always warns you; this also sends an e-mail.')
    }
  ];
  return (
    <section className={SECTION_CLASS}>
      <h3 className={HEADING_CLASS}>{trans.__('Preferences')}</h3>
      {preferences &&
        items.map(({ key, label, help }) => (
          <label key={key} className={PREFERENCE_CLASS}>
            <input
              type="checkbox"
              checked={preferences[key]}
              disabled={model.saveState === 'saving'}
              onChange={event =>
                void model.savePreferences({ ...preferences, [key]: event.target.checked })
              }
            />
            <span>
              {label}
              <span className={META_CLASS}>{help}</span>
            </span>
          </label>
        ))}
      <p
        className={SAVE_CLASS}
        data-state={model.preferencesError ? 'failed' : model.saveState}
        role="status"
      >
        {saveMessage(model, trans)}
      </p>
    </section>
  );
}

const connectionLabels: Record<Connection['name'], string> = {
  jupyterhub: 'JupyterHub',
  database: 'Database',
  kubernetes: 'Kubernetes',
  prometheus: 'Prometheus',
  llm: 'LLM'
};

function stateLabel(state: Connection['state'], trans: TranslationBundle): string {
  switch (state) {
    case 'connected':
      return trans.__('connected');
    case 'down':
      return trans.__('down');
    case 'not_configured':
      return trans.__('not configured');
  }
}

/** Titles for the codes a user meets most; the problem's own title otherwise. */
function errorTitle(error: CompanionError, trans: TranslationBundle): string {
  switch (error.code) {
    case 'companion_unreachable':
      return trans.__('The Hotstepper companion is not answering');
    case 'companion_not_configured':
      return trans.__('Hotstepper is not set up on this server');
    case 'network_error':
      return trans.__('Your Jupyter server is not answering');
    default:
      return error.title;
  }
}

function saveMessage(model: StatusModel, trans: TranslationBundle): string {
  if (model.preferencesError) {
    const action =
      model.saveState === 'failed'
        ? trans.__('Not saved.')
        : trans.__('Could not load your preferences.');
    return `${action} ${model.preferencesError.detail}`;
  }
  switch (model.saveState) {
    case 'saving':
      return trans.__('Saving…');
    case 'saved':
      return trans.__('Saved.');
    default:
      return model.preferences ? '' : trans.__('Loading…');
  }
}
