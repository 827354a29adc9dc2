/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { VDomRenderer } from '@jupyterlab/ui-components';
import React from 'react';
import { cores, gib, percent } from './format.js';
import { levelOf, type IGaugeReading, type LiveUsageModel } from './model.js';

const ITEM_CLASS = 'jp-HotstepperUsage-status';
const PART_CLASS = 'jp-HotstepperUsage-statusPart';

/** One figure in the status bar, coloured by how close it is to its limit. */
function Part(props: { label: string; text: string; reading: IGaugeReading; title: string }) {
  const level = levelOf(props.reading.used, props.reading.limit);
  return (
    <span className={`${PART_CLASS} jp-HotstepperUsage-level-${level}`} title={props.title}>
      <span className="jp-HotstepperUsage-statusLabel">{props.label}</span> {props.text}
    </span>
  );
}

/** Live CPU, memory and GPU in JupyterLab's status bar; click for the Usage panel. */
export class UsageStatusItem extends VDomRenderer<LiveUsageModel> {
  constructor(model: LiveUsageModel, trans: TranslationBundle, onClick: () => void) {
    super(model);
    this._trans = trans;
    this.addClass(ITEM_CLASS);
    this.node.addEventListener('click', onClick);
    this.node.title = trans.__('Open Usage');
  }

  protected render(): React.ReactElement {
    const m = this.model;
    const trans = this._trans;
    if (!m.local && !m.live) {
      return (
        <span className={`${PART_CLASS} jp-HotstepperUsage-level-unknown`} title={m.error ?? ''}>
          {m.error ? trans.__('Usage unavailable') : trans.__('Usage…')}
        </span>
      );
    }
    const cpu = m.cpu;
    const mem = m.memory;
    const gpu = m.gpu;
    const of = (used: string, limit: string | null) => (limit ? `${used}/${limit}` : used);
    return (
      <>
        <Part
          label="CPU"
          text={of(cores(cpu.used), cpu.limit ? cores(cpu.limit) : null)}
          reading={cpu}
          title={trans.__('CPU cores this server uses now, of its limit')}
        />
        <Part
          label="RAM"
          text={`${of(gib(mem.used), mem.limit ? gib(mem.limit) : null)} GiB`}
          reading={mem}
          title={trans.__('Memory this server uses now, of its limit')}
        />
        {gpu.limit ? (
          <Part
            label="GPU"
            text={percent(gpu.used === null ? null : gpu.used / gpu.limit)}
            reading={gpu}
            title={trans.__('Utilisation of the GPUs my pods hold')}
          />
        ) : null}
      </>
    );
  }

  private _trans: TranslationBundle;
}
