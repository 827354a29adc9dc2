/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause License.
 */
import type { FlareAccess, FlareRoute } from '@hotstepper/api';
import { CompanionError } from '@hotstepper/api';
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, VDomRenderer } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';
import type { FlareModel, FlarePort } from './model.js';

const VIEW_CLASS = 'jp-Flare';
const SECTION_CLASS = 'jp-Flare-section';
const HEADING_CLASS = 'jp-Flare-heading';
const META_CLASS = 'jp-Flare-meta';
const ERROR_CLASS = 'jp-Flare-error';
const FORM_CLASS = 'jp-Flare-form';
const ROUTE_CLASS = 'jp-Flare-route';
const DOT_CLASS = 'jp-Flare-dot';
const ACTIONS_CLASS = 'jp-Flare-actions';
const PROGRESS_CLASS = 'jp-Flare-progress';
const NAMES_CLASS = 'jp-Flare-names';
const EDIT_CLASS = 'jp-Flare-edit';

/** Ids of the suggestion lists: unique per view, so two panels never share one. */
let viewCount = 0;

type Mode = FlareAccess['mode'];

/** The Flare view: the expose form and my routes. */
export class FlareView extends VDomRenderer<FlareModel> {
  constructor(model: FlareModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
    this._idPrefix = `jp-Flare-${++viewCount}`;
    this.addClass(VIEW_CLASS);
  }

  protected render(): React.ReactElement {
    const model = this.model;
    const trans = this._trans;
    return (
      <div>
        {model.busy && (
          <div className={PROGRESS_CLASS} role="progressbar" aria-label={trans.__('Working')} />
        )}
        <div className="jp-Flare-intro">
          <p className={META_CLASS}>
            {trans.__(
              'Show a web app running in your notebook server at its own address. Start the app in a terminal, then expose its port here.'
            )}
          </p>
          <Button
            small
            className="jp-mod-styled"
            onClick={() => void model.refresh()}
            disabled={model.busy}
          >
            {trans.__('Refresh')}
          </Button>
        </div>
        {model.error && (
          <div className={ERROR_CLASS} role="alert">
            {model.error.detail}
          </div>
        )}
        <ExposeForm model={model} trans={trans} idPrefix={this._idPrefix} />
        <section className={SECTION_CLASS}>
          <h3 className={HEADING_CLASS}>
            {trans.__('My routes')}
            {model.list && (
              <span className={META_CLASS}>
                {' '}
                {trans.__('%1 of %2', model.routes.length, model.list.limit)}
              </span>
            )}
          </h3>
          {model.list && model.routes.length === 0 && (
            <p className={META_CLASS}>{trans.__('No routes yet.')}</p>
          )}
          <ul className="jp-Flare-routes">
            {model.routes.map(route => (
              <RouteItem
                key={route.name}
                route={route}
                model={model}
                trans={trans}
                idPrefix={this._idPrefix}
              />
            ))}
          </ul>
        </section>
      </div>
    );
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visible = true;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.visible = this.isVisible;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visible = false;
  }

  private _trans: TranslationBundle;
  private _idPrefix: string;
}

function modeLabel(mode: Mode, trans: TranslationBundle): string {
  switch (mode) {
    case 'owner':
      return trans.__('Only me');
    case 'public':
      return trans.__('Anyone (public)');
    case 'hub':
      return trans.__('Anyone logged in to the hub');
    case 'users':
      return trans.__('Named users and groups');
    case 'link':
      return trans.__('Anyone with the share link');
  }
}

const MODES: Mode[] = ['hub', 'owner', 'users', 'link', 'public'];

/** "a, b" -> ["a", "b"] */
const splitNames = (text: string) =>
  text
    .split(/[\s,]+/)
    .map(s => s.trim())
    .filter(Boolean);

function accessOf(mode: Mode, users: string, groups: string): FlareAccess {
  return mode === 'users'
    ? { mode, users: splitNames(users), groups: splitNames(groups) }
    : { mode };
}

/** The companion's words for named-users access without a name: refused here before sending. */
function emptyAccess(access: FlareAccess, trans: TranslationBundle): string | null {
  return access.mode === 'users' && !access.users?.length && !access.groups?.length
    ? trans.__('Name at least one hub user or group who may open it, or choose another access.')
    : null;
}

/** "bob, @students" */
function namesOf(access: FlareAccess): string {
  return [...(access.users ?? []), ...(access.groups ?? []).map(g => `@${g}`)].join(', ');
}

/**
 * The suggestions for a comma-separated names field: each known name not yet in it, after the
 * names already typed, so the browser's list matches what is being typed after the last comma.
 */
function suggestions(text: string, known: string[]): string[] {
  const typed = text.split(',').map(s => s.trim());
  const done = typed.slice(0, -1).filter(Boolean);
  const prefix = done.length ? `${done.join(', ')}, ` : '';
  return known.filter(n => !done.includes(n)).map(n => prefix + n);
}

/** A comma-separated field of hub users or groups, with the names I used before to pick from. */
function NamesField(props: {
  label: string;
  ariaLabel: string;
  value: string;
  onChange: (value: string) => void;
  known: string[];
  listId: string;
  placeholder: string;
}): React.ReactElement {
  const { label, ariaLabel, value, onChange, known, listId, placeholder } = props;
  return (
    <label>
      {label}
      <input
        className="jp-mod-styled"
        value={value}
        onChange={e => onChange(e.target.value)}
        placeholder={placeholder}
        aria-label={ariaLabel}
        list={listId}
        autoComplete="off"
      />
      <datalist id={listId}>
        {suggestions(value, known).map(n => (
          <option key={n} value={n} />
        ))}
      </datalist>
    </label>
  );
}

function ExposeForm(props: {
  model: FlareModel;
  trans: TranslationBundle;
  idPrefix: string;
}): React.ReactElement {
  const { model, trans, idPrefix } = props;
  const [port, setPort] = React.useState('');
  const [name, setName] = React.useState('');
  const [mode, setMode] = React.useState<Mode>('hub');
  const [users, setUsers] = React.useState('');
  const [groups, setGroups] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  const free = (model.ports ?? []).filter((p: FlarePort) => !p.route);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    const access = accessOf(mode, users, groups);
    const empty = emptyAccess(access, trans);
    if (empty) {
      setError(empty);
      return;
    }
    try {
      await model.create(name.trim(), Number(port), access);
      setName('');
      setPort('');
      setMode('hub');
      setUsers('');
      setGroups('');
    } catch (reason) {
      setError(reason instanceof CompanionError ? reason.detail : String(reason));
    }
  };
  return (
    <section className={SECTION_CLASS}>
      <h3 className={HEADING_CLASS}>{trans.__('Expose a port')}</h3>
      <form className={FORM_CLASS} onSubmit={submit} aria-label={trans.__('Expose a port')}>
        <label>
          {trans.__('Port')}
          <select
            className="jp-mod-styled"
            value={port}
            onChange={e => setPort(e.target.value)}
            aria-label={trans.__('Port')}
            required
          >
            <option value="">
              {free.length
                ? trans.__('Pick a listening port')
                : model.ports?.length
                  ? trans.__('Every listening port is exposed already')
                  : trans.__('No app listening: start one in a terminal')}
            </option>
            {free.map(p => (
              <option key={p.port} value={String(p.port)}>
                {p.port}
                {p.command ? ` — ${p.command.slice(0, 40)}` : ''}
              </option>
            ))}
          </select>
        </label>
        {model.portsError && <p className={META_CLASS}>{model.portsError.detail}</p>}
        <label>
          {trans.__('Name')}
          <input
            className="jp-mod-styled"
            value={name}
            onChange={e => setName(e.target.value)}
            placeholder="mydash"
            aria-label={trans.__('Name')}
            required
          />
        </label>
        {name.trim() && model.urlFor(name.trim()) && (
          <p className={META_CLASS} data-preview="address">
            {trans.__('Address: %1', model.urlFor(name.trim()) ?? '')}
          </p>
        )}
        <label>
          {trans.__('Who may open it')}
          <select
            className="jp-mod-styled"
            value={mode}
            onChange={e => setMode(e.target.value as Mode)}
            aria-label={trans.__('Who may open it')}
          >
            {MODES.map(m => (
              <option key={m} value={m}>
                {modeLabel(m, trans)}
              </option>
            ))}
          </select>
        </label>
        {mode === 'users' && (
          <>
            <NamesField
              label={trans.__('Users')}
              ariaLabel={trans.__('Users')}
              value={users}
              onChange={setUsers}
              known={model.knownUsers}
              listId={`${idPrefix}-new-users`}
              placeholder={trans.__('bob, carol')}
            />
            <NamesField
              label={trans.__('Groups')}
              ariaLabel={trans.__('Groups')}
              value={groups}
              onChange={setGroups}
              known={model.knownGroups}
              listId={`${idPrefix}-new-groups`}
              placeholder={trans.__('students')}
            />
          </>
        )}
        {error && (
          <div className={ERROR_CLASS} role="alert">
            {error}
          </div>
        )}
        <Button type="submit" className="jp-mod-styled jp-mod-accept" disabled={model.busy}>
          {trans.__('Expose')}
        </Button>
      </form>
    </section>
  );
}

function RouteItem(props: {
  route: FlareRoute;
  model: FlareModel;
  trans: TranslationBundle;
  idPrefix: string;
}): React.ReactElement {
  const { route, model, trans, idPrefix } = props;
  const [error, setError] = React.useState<string | null>(null);
  // Editing the names of named-users access in place; null when not editing.
  const [names, setNames] = React.useState<{ users: string; groups: string } | null>(null);
  const act = async (action: () => Promise<unknown>): Promise<boolean> => {
    setError(null);
    try {
      await action();
      return true;
    } catch (reason) {
      setError(reason instanceof CompanionError ? reason.detail : String(reason));
      return false;
    }
  };
  const edit = () => {
    setError(null);
    setNames({
      users: (route.access.users ?? []).join(', '),
      groups: (route.access.groups ?? []).join(', ')
    });
  };
  const choose = (mode: Mode) => {
    if (mode === 'users') {
      edit();
      return;
    }
    setNames(null);
    void act(() => model.setAccess(route.name, { mode }));
  };
  const save = async () => {
    if (!names) {
      return;
    }
    const access = accessOf('users', names.users, names.groups);
    const empty = emptyAccess(access, trans);
    if (empty) {
      setError(empty);
      return;
    }
    if (await act(() => model.setAccess(route.name, access))) {
      setNames(null);
    }
  };
  const remove = async () => {
    const answer = await showDialog({
      title: trans.__('Delete route %1?', route.name),
      body: trans.__('%1 will answer "not found" and the name becomes free for anyone.', route.url),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Delete') })]
    });
    if (answer.button.accept) {
      await act(() => model.remove(route.name));
    }
  };
  return (
    <li className={ROUTE_CLASS} data-name={route.name} data-status={route.status}>
      <div className="jp-Flare-routeHead">
        <span
          className={DOT_CLASS}
          title={route.status === 'online' ? trans.__('App answering') : trans.__('App offline')}
        />
        <a href={route.url} target="_blank" rel="noopener noreferrer" className="jp-Flare-url">
          {route.url}
        </a>
        <Button
          minimal
          small
          title={trans.__('Copy the address')}
          onClick={() => Clipboard.copyToSystem(route.url)}
        >
          {trans.__('Copy')}
        </Button>
      </div>
      <p className={META_CLASS}>
        {trans.__('Port %1', route.port)} ·{' '}
        {route.status === 'online' ? trans.__('online') : trans.__('offline')} ·{' '}
        {trans.__('%1 hits', route.hits)}
        {route.lastAccess && ` · ${trans.__('last %1', Time.formatHuman(route.lastAccess))}`}
      </p>
      <label className="jp-Flare-access">
        {trans.__('Who may open it')}
        <select
          className="jp-mod-styled"
          value={names ? 'users' : route.access.mode}
          aria-label={trans.__('Access of %1', route.name)}
          onChange={e => choose(e.target.value as Mode)}
          disabled={model.busy}
        >
          {MODES.map(m => (
            <option key={m} value={m}>
              {modeLabel(m, trans)}
            </option>
          ))}
        </select>
      </label>
      {names && (
        <form
          className={EDIT_CLASS}
          aria-label={trans.__('Who may open %1', route.name)}
          onSubmit={e => {
            e.preventDefault();
            void save();
          }}
        >
          <NamesField
            label={trans.__('Users')}
            ariaLabel={trans.__('Users of %1', route.name)}
            value={names.users}
            onChange={users => setNames({ ...names, users })}
            known={model.knownUsers}
            listId={`${idPrefix}-${route.name}-users`}
            placeholder={trans.__('bob, carol')}
          />
          <NamesField
            label={trans.__('Groups')}
            ariaLabel={trans.__('Groups of %1', route.name)}
            value={names.groups}
            onChange={groups => setNames({ ...names, groups })}
            known={model.knownGroups}
            listId={`${idPrefix}-${route.name}-groups`}
            placeholder={trans.__('students')}
          />
          <div className={ACTIONS_CLASS}>
            <Button
              small
              type="submit"
              className="jp-mod-styled jp-mod-accept"
              disabled={model.busy}
            >
              {trans.__('Save')}
            </Button>
            <Button
              small
              className="jp-mod-styled jp-mod-reject"
              onClick={() => {
                setError(null);
                setNames(null);
              }}
            >
              {trans.__('Cancel')}
            </Button>
          </div>
        </form>
      )}
      {!names && route.access.mode === 'users' && (
        <div className={ACTIONS_CLASS}>
          <p className={NAMES_CLASS}>{trans.__('Open to: %1', namesOf(route.access))}</p>
          <Button
            small
            className="jp-mod-styled"
            title={trans.__('Change the users and groups who may open it')}
            onClick={edit}
          >
            {trans.__('Edit')}
          </Button>
        </div>
      )}
      {route.shareUrl && (
        <div className={ACTIONS_CLASS}>
          <Button
            small
            className="jp-mod-styled"
            onClick={() => Clipboard.copyToSystem(route.shareUrl ?? '')}
          >
            {trans.__('Copy share link')}
          </Button>
          <Button
            small
            className="jp-mod-styled"
            title={trans.__('Make a new link; the old one stops working')}
            onClick={() => void act(() => model.rotate(route.name))}
          >
            {trans.__('Rotate link')}
          </Button>
        </div>
      )}
      <div className={ACTIONS_CLASS}>
        <Button small className="jp-mod-styled jp-mod-warn" onClick={() => void remove()}>
          {trans.__('Delete')}
        </Button>
      </div>
      {error && (
        <div className={ERROR_CLASS} role="alert">
          {error}
        </div>
      )}
    </li>
  );
}
