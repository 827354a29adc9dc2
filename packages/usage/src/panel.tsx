/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import type {
  RateCard,
  UsageGroupList,
  UsageHistory,
  UsageRow,
  WelcomeUsage
} from '@hotstepper/api';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, VDomRenderer } from '@jupyterlab/ui-components';
import React from 'react';
import { CostChart } from './chart.js';
import {
  cores,
  gib,
  gpuModel,
  hours,
  money,
  percent,
  resourceLabel,
  type ResourceKind
} from './format.js';
import { levelOf, type IGaugeReading, type LiveUsageModel, type UsagePanelModel } from './model.js';

const VIEW_CLASS = 'jp-HotstepperUsage-panel';

/** The Usage panel: live gauges, 90-day cost chart, totals, rate card, free GPUs, operators' table. */
export class UsagePanelView extends VDomRenderer<UsagePanelModel> {
  constructor(model: UsagePanelModel, live: LiveUsageModel, trans: TranslationBundle) {
    super(model);
    this._live = live;
    this._trans = trans;
    this.addClass(VIEW_CLASS);
    this.addClass('jp-HotstepperUsage');
    live.stateChanged.connect(this.update, this);
  }

  /** Re-read the theme's colours into the chart. */
  themeChanged(): void {
    this._themeVersion++;
    this.update();
  }

  dispose(): void {
    this._live.stateChanged.disconnect(this.update, this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const m = this.model;
    const trans = this._trans;
    const labels: Record<ResourceKind, string> = {
      cpu: trans.__('CPU'),
      memory: trans.__('Memory'),
      gpu: trans.__('GPU'),
      mig: trans.__('MIG slices')
    };
    return (
      <div className="jp-HotstepperUsage-body">
        {m.loading && <div className="jp-HotstepperUsage-progress" role="progressbar" />}
        <header className="jp-HotstepperUsage-header">
          <h2>{trans.__('Usage and cost')}</h2>
          <Button className="jp-mod-styled" onClick={() => void m.load()}>
            {trans.__('Refresh')}
          </Button>
          {m.history && (
            <Button
              className="jp-mod-styled jp-mod-accept jp-HotstepperUsage-csv"
              onClick={() =>
                void m.downloadCsv(
                  'getUsageHistoryCsv',
                  `usage-${m.history!.user}-${m.history!.from}-${m.history!.to}.csv`
                )
              }
            >
              {trans.__('Download CSV')}
            </Button>
          )}
        </header>
        <Gauges
          live={this._live}
          trans={trans}
          simulated={!!m.gpus?.models.some(g => g.simulated)}
        />
        {m.error && (
          <div className="jp-HotstepperUsage-error" role="alert">
            <h3>{m.error.title}</h3>
            <p>{m.error.detail}</p>
          </div>
        )}
        {m.history && (
          <>
            <Totals history={m.history} trans={trans} />
            <section className="jp-HotstepperUsage-section">
              <h3>{trans.__('Cost per day, last %1 days', m.history.days)}</h3>
              <CostChart history={m.history} labels={labels} themeVersion={this._themeVersion} />
            </section>
            <RequestedVsUsed history={m.history} trans={trans} />
          </>
        )}
        {m.rateCard && <RateCardTable card={m.rateCard} trans={trans} />}
        <FreeGpus model={m} trans={trans} />
        {(m.users || m.groups || m.llm || m.llmError) && (
          <div className="jp-HotstepperUsage-operators">
            {m.users && (
              <section className="jp-HotstepperUsage-section jp-HotstepperUsage-users">
                <h3>{trans.__('Users by cost, last %1 days (operators)', m.users.days)}</h3>
                <Button
                  className="jp-mod-styled jp-HotstepperUsage-csv"
                  onClick={() => void m.downloadCsv('listUsageUsersCsv', 'usage-users.csv')}
                >
                  {trans.__('Users CSV')}
                </Button>
                <CostTable
                  rows={m.users.users.map(u => ({ ...u, name: u.user }))}
                  currency={m.users.currency}
                  first={trans.__('User')}
                  trans={trans}
                />
              </section>
            )}
            {m.groups && (
              <section className="jp-HotstepperUsage-section jp-HotstepperUsage-groups">
                <h3>{trans.__('By group, last %1 days (operators)', m.groups.days)}</h3>
                <Button
                  className="jp-mod-styled jp-HotstepperUsage-csv"
                  onClick={() => void m.downloadCsv('listUsageGroupsCsv', 'usage-groups.csv')}
                >
                  {trans.__('Groups CSV')}
                </Button>
                <CostTable
                  rows={m.groups.groups.map(g => ({ ...g, name: g.group }))}
                  currency={m.groups.currency}
                  first={trans.__('Group')}
                  members
                  trans={trans}
                />
              </section>
            )}
            {(m.llm || m.llmError) && <LlmTokens usage={m.llm} error={m.llmError} trans={trans} />}
          </div>
        )}
      </div>
    );
  }

  private _live: LiveUsageModel;
  private _themeVersion = 0;
  private _trans: TranslationBundle;
}

function Gauge(props: { label: string; reading: IGaugeReading; text: string }) {
  const { used, limit } = props.reading;
  const level = levelOf(used, limit);
  const fraction = used !== null && limit ? Math.min(1, used / limit) : 0;
  return (
    <div className={`jp-HotstepperUsage-gauge jp-HotstepperUsage-level-${level}`}>
      <div className="jp-HotstepperUsage-gaugeLabel">{props.label}</div>
      <div
        className="jp-HotstepperUsage-gaugeTrack"
        role="meter"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={limit ?? 0}
        aria-valuenow={used ?? 0}
      >
        <div className="jp-HotstepperUsage-gaugeFill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <div className="jp-HotstepperUsage-gaugeText">{props.text}</div>
    </div>
  );
}

function Gauges(props: {
  live: LiveUsageModel;
  trans: TranslationBundle;
  /** The platform's GPUs have no device behind them: said wherever a GPU figure is shown. */
  simulated: boolean;
}) {
  const { live, trans } = props;
  const cpu = live.cpu;
  const mem = live.memory;
  const gpu = live.gpu;
  const of = (a: string, b: string | null, unit = '') =>
    b ? trans.__('%1 of %2%3', a, b, unit) : trans.__('%1%2 (no limit)', a, unit);
  const prometheus = live.live?.prometheus;
  return (
    <section className="jp-HotstepperUsage-section">
      <h3>{trans.__('Now')}</h3>
      <div className="jp-HotstepperUsage-gauges">
        <Gauge
          label={trans.__('CPU (cores)')}
          reading={cpu}
          text={of(cores(cpu.used), cpu.limit ? cores(cpu.limit) : null)}
        />
        <Gauge
          label={trans.__('Memory')}
          reading={mem}
          text={of(gib(mem.used), mem.limit ? gib(mem.limit) : null, ' GiB')}
        />
        <Gauge
          label={props.simulated ? trans.__('GPU (simulated)') : trans.__('GPU')}
          reading={gpu}
          text={
            gpu.limit
              ? trans.__(
                  '%1 busy, %2 held',
                  percent(gpu.used === null ? null : gpu.used / gpu.limit),
                  gpu.limit
                )
              : trans.__('no GPU held')
          }
        />
      </div>
      {live.local && (
        <p className="jp-HotstepperUsage-meta">
          {live.local.source === 'process-tree'
            ? trans.__(
                'This server has no container of its own: figures are its processes, without limits.'
              )
            : trans.__('From this server’s container (%1).', live.local.source)}
        </p>
      )}
      {prometheus && prometheus.state !== 'connected' && (
        <p className="jp-HotstepperUsage-meta jp-HotstepperUsage-warning">{prometheus.detail}</p>
      )}
      {live.live && live.live.pods.length > 0 && (
        <table className="jp-HotstepperUsage-table jp-HotstepperUsage-pods">
          <thead>
            <tr>
              <th>{trans.__('Pod')}</th>
              <th>{trans.__('CPU used / request / limit')}</th>
              <th>{trans.__('Memory GiB')}</th>
              <th>{trans.__('GPUs')}</th>
            </tr>
          </thead>
          <tbody>
            {live.live.pods.map(p => (
              <tr key={p.name}>
                <td>
                  {p.name} <span className="jp-HotstepperUsage-tag">{p.kind}</span>
                </td>
                <td>
                  {cores(p.cpu.used)} / {cores(p.cpu.request)} / {cores(p.cpu.limit)}
                </td>
                <td>
                  {gib(p.memory.used)} / {gib(p.memory.request)} / {gib(p.memory.limit)}
                </td>
                <td>
                  {p.gpus
                    .map(g => {
                      const key = g.profile ? `mig:${g.profile}` : `gpu:${g.model}`;
                      return `${resourceLabel(key, trans)} ${percent(g.utilisation)}`;
                    })
                    .join(', ') || '–'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Totals(props: { history: UsageHistory; trans: TranslationBundle }) {
  const { history, trans } = props;
  return (
    <section className="jp-HotstepperUsage-section jp-HotstepperUsage-totals">
      <div className="jp-HotstepperUsage-total">
        <div className="jp-HotstepperUsage-totalValue">
          {money(history.totals.thisMonthCost, history.currency)}
        </div>
        <div className="jp-HotstepperUsage-meta">{trans.__('This month')}</div>
      </div>
      <div className="jp-HotstepperUsage-total">
        <div className="jp-HotstepperUsage-totalValue">
          {money(history.totals.cost, history.currency)}
        </div>
        <div className="jp-HotstepperUsage-meta">{trans.__('Last %1 days', history.days)}</div>
      </div>
      <div className="jp-HotstepperUsage-total">
        <div className="jp-HotstepperUsage-totalValue">{chargeText(history.charge, trans)}</div>
        <div className="jp-HotstepperUsage-meta">{trans.__('What is billed')}</div>
      </div>
    </section>
  );
}

function RequestedVsUsed(props: { history: UsageHistory; trans: TranslationBundle }) {
  const { history, trans } = props;
  const rows = history.totals.byResource;
  if (!rows.length) {
    return (
      <p className="jp-HotstepperUsage-meta">
        {trans.__('Nothing metered in the last %1 days.', history.days)}
      </p>
    );
  }
  const efficiency = (r: UsageRow) => {
    const measured = r.requested - r.unmeasured;
    return measured > 0 ? r.used / measured : null;
  };
  return (
    <section className="jp-HotstepperUsage-section">
      <h3>{trans.__('Requested vs used')}</h3>
      <table className="jp-HotstepperUsage-table">
        <thead>
          <tr>
            <th>{trans.__('Resource')}</th>
            <th>{trans.__('Requested')}</th>
            <th>{trans.__('Used')}</th>
            <th>{trans.__('Of what I reserved')}</th>
            <th>{trans.__('Cost')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(r => (
            // The key stays on the row for tests and tools; people read the label.
            <tr key={r.resource} data-resource={r.resource}>
              <td>{resourceLabel(r.resource, trans)}</td>
              <td>
                {hours(r.requested)} {r.unit}
              </td>
              <td>{r.requested - r.unmeasured > 0 ? `${hours(r.used)} ${r.unit}` : '–'}</td>
              <td>{percent(efficiency(r))}</td>
              <td>{money(r.cost, history.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function RateCardTable(props: { card: RateCard; trans: TranslationBundle }) {
  const { card, trans } = props;
  const rows: [string, number][] = [
    [trans.__('CPU core-hour'), card.cpuCoreHour],
    [trans.__('Memory GiB-hour'), card.memoryGibHour],
    ...Object.entries(card.gpuHour).map(
      ([k, v]) =>
        [trans.__('GPU-hour: %1', k === 'default' ? trans.__('other models') : gpuModel(k)), v] as [
          string,
          number
        ]
    ),
    ...Object.entries(card.migHour).map(
      ([k, v]) =>
        [trans.__('MIG-hour: %1', k === 'default' ? trans.__('other profiles') : k), v] as [
          string,
          number
        ]
    )
  ];
  return (
    <section className="jp-HotstepperUsage-section">
      <h3>{trans.__('Rate card')}</h3>
      <p className="jp-HotstepperUsage-meta">{chargeText(card.charge, trans)}</p>
      <table className="jp-HotstepperUsage-table jp-HotstepperUsage-rates">
        <tbody>
          {rows.map(([label, price]) => (
            <tr key={label}>
              <td>{label}</td>
              <td>{money(price, card.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function FreeGpus(props: { model: UsagePanelModel; trans: TranslationBundle }) {
  const { model, trans } = props;
  const gpus = model.gpus;
  return (
    <section className="jp-HotstepperUsage-section jp-HotstepperUsage-gpus">
      <h3>{trans.__('Free GPUs now')}</h3>
      {!gpus ? (
        <p className="jp-HotstepperUsage-meta">
          {model.gpusError ?? trans.__('Asking the companion…')}
        </p>
      ) : (
        <table className="jp-HotstepperUsage-table">
          <thead>
            <tr>
              <th>{trans.__('Model')}</th>
              <th>{trans.__('MIG profile')}</th>
              <th>{trans.__('Free')}</th>
              <th>{trans.__('Total')}</th>
            </tr>
          </thead>
          <tbody>
            {gpus.models.map(g => (
              <tr key={`${g.product}/${g.simulated}`}>
                {/* The exact node label is what a job's nodeSelector needs: kept as the tooltip. */}
                <td title={g.product}>
                  {gpuModel(g.product)}
                  {g.simulated && <Simulated trans={trans} />}
                </td>
                <td>{trans.__('whole GPU')}</td>
                <td className={g.free ? '' : 'jp-HotstepperUsage-none'}>{g.free}</td>
                <td>{g.total}</td>
              </tr>
            ))}
            {gpus.migProfiles.map(g => (
              <tr key={`${g.product}/${g.profile}/${g.simulated}`}>
                <td title={g.product}>
                  {gpuModel(g.product)}
                  {g.simulated && <Simulated trans={trans} />}
                </td>
                <td>{g.profile}</td>
                <td className={g.free ? '' : 'jp-HotstepperUsage-none'}>{g.free}</td>
                <td>{g.total}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** GPUs the platform only advertises (no device behind them): said wherever they are shown. */
function Simulated({ trans }: { trans: TranslationBundle }): JSX.Element {
  return (
    <span
      className="jp-HotstepperUsage-simulated"
      title={trans.__('No device behind it: this platform advertises simulated GPUs')}
    >
      {trans.__('simulated')}
    </span>
  );
}

function chargeText(charge: RateCard['charge'], trans: TranslationBundle): string {
  switch (charge) {
    case 'requests':
      return trans.__('Billed: what you request');
    case 'usage':
      return trans.__('Billed: what you use');
    case 'max':
      return trans.__('Billed: the larger of requested and used');
  }
}

/** Operators: the LLM tokens welcome summaries used, per user (GET /api/v1/welcome/usage). */
function LlmTokens(props: {
  usage: WelcomeUsage | null;
  error: string | null;
  trans: TranslationBundle;
}) {
  const { usage, error, trans } = props;
  const rows = usage?.users ?? [];
  const sum = (k: 'requests' | 'promptTokens' | 'completionTokens') =>
    rows.reduce((n, r) => n + r[k], 0);
  const count = (n: number) => n.toLocaleString();
  return (
    <section className="jp-HotstepperUsage-section jp-HotstepperUsage-llm">
      <h3>{trans.__('LLM tokens for welcome summaries (operators)')}</h3>
      {error && (
        <p className="jp-HotstepperUsage-note" role="alert">
          {trans.__('The LLM token use could not be read: %1', error)}
        </p>
      )}
      {usage && rows.length === 0 && (
        <p className="jp-HotstepperUsage-note">
          {trans.__('No welcome summary has used the LLM yet.')}
        </p>
      )}
      {rows.length > 0 && (
        <>
          <p className="jp-HotstepperUsage-note">
            {trans.__(
              '%1 summaries, %2 tokens in all (%3 tokens sent in prompts, %4 tokens received in answers).',
              count(sum('requests')),
              count(sum('promptTokens') + sum('completionTokens')),
              count(sum('promptTokens')),
              count(sum('completionTokens'))
            )}
          </p>
          <table className="jp-HotstepperUsage-table">
            <thead>
              <tr>
                <th>{trans.__('User')}</th>
                <th>{trans.__('Summaries')}</th>
                <th>{trans.__('Prompt tokens')}</th>
                <th>{trans.__('Answer tokens')}</th>
                <th>{trans.__('Total tokens')}</th>
                <th>{trans.__('Last summary')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(r => (
                <tr key={r.user}>
                  <td>{r.user}</td>
                  <td>{count(r.requests)}</td>
                  <td>{count(r.promptTokens)}</td>
                  <td>{count(r.completionTokens)}</td>
                  <td>{count(r.promptTokens + r.completionTokens)}</td>
                  <td>
                    {new Date(r.lastAt).toLocaleString(undefined, {
                      dateStyle: 'medium',
                      timeStyle: 'short'
                    })}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

type CostRow = Omit<UsageGroupList['groups'][number], 'group' | 'members'> & {
  name: string;
  members?: number;
};

/** The operators' tables: one row per user or group, most expensive first (as sent). */
function CostTable(props: {
  rows: CostRow[];
  currency: string;
  first: string;
  members?: boolean;
  trans: TranslationBundle;
}) {
  const { trans } = props;
  return (
    <table className="jp-HotstepperUsage-table">
      <thead>
        <tr>
          <th>{props.first}</th>
          {props.members && <th>{trans.__('Members')}</th>}
          <th>{trans.__('Cost')}</th>
          {/* The same units as "Requested vs used" and the rate card. */}
          <th>{trans.__('Core-hours')}</th>
          <th>{trans.__('GiB-hours')}</th>
          <th>{trans.__('GPU-hours')}</th>
          <th>{trans.__('MIG-hours')}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map(r => (
          <tr key={r.name}>
            <td>{r.name}</td>
            {props.members && <td>{r.members}</td>}
            <td>{money(r.cost, props.currency)}</td>
            <td>{hours(r.cpuCoreHours)}</td>
            <td>{hours(r.memoryGibHours)}</td>
            <td>{hours(r.gpuHours)}</td>
            <td>{hours(r.migHours)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
