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

type Mode = FlareAccess['mode'];

/** The Flare view: the expose form and my routes. */
export class FlareView extends VDomRenderer<FlareModel> {
  constructor(model: FlareModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
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
        <ExposeForm model={model} trans={trans} />
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
              <RouteItem key={route.name} route={route} model={model} trans={trans} />
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
}

function modeLabel(mode: Mode, trans: TranslationBundle): string {
  switch (mode) {
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

const MODES: Mode[] = ['hub', 'users', 'link', 'public'];

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

function ExposeForm(props: { model: FlareModel; trans: TranslationBundle }): React.ReactElement {
  const { model, trans } = props;
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
    try {
      await model.create(name.trim(), Number(port), accessOf(mode, users, groups));
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
        {model.list && name && (
          <p className={META_CLASS}>{trans.__('Address: %1', `${name}.${model.list.domain}`)}</p>
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
            <label>
              {trans.__('Users')}
              <input
                className="jp-mod-styled"
                value={users}
                onChange={e => setUsers(e.target.value)}
                placeholder="alice, bob"
                aria-label={trans.__('Users')}
              />
            </label>
            <label>
              {trans.__('Groups')}
              <input
                className="jp-mod-styled"
                value={groups}
                onChange={e => setGroups(e.target.value)}
                placeholder="students"
                aria-label={trans.__('Groups')}
              />
            </label>
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
}): React.ReactElement {
  const { route, model, trans } = props;
  const [error, setError] = React.useState<string | null>(null);
  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (reason) {
      setError(reason instanceof CompanionError ? reason.detail : String(reason));
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
          value={route.access.mode}
          aria-label={trans.__('Access of %1', route.name)}
          onChange={e =>
            void act(() => model.setAccess(route.name, accessOf(e.target.value as Mode, '', '')))
          }
        >
          {MODES.map(m => (
            <option key={m} value={m} disabled={m === 'users'}>
              {modeLabel(m, trans)}
            </option>
          ))}
        </select>
      </label>
      {route.access.mode === 'users' && (
        <p className={META_CLASS}>
          {[...(route.access.users ?? []), ...(route.access.groups ?? []).map(g => `@${g}`)].join(
            ', '
          )}
        </p>
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
