/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

/** Bytes as GiB with one decimal. */
export const gib = (bytes: number | null): string =>
  bytes === null ? '–' : `${(bytes / 2 ** 30).toFixed(bytes < 10 * 2 ** 30 ? 1 : 0)}`;

/** Cores with up to two decimals. */
export const cores = (n: number | null): string =>
  n === null ? '–' : n < 10 ? n.toFixed(2).replace(/\.?0+$/, '') || '0' : n.toFixed(0);

/** A fraction as a percentage. */
export const percent = (f: number | null): string =>
  f === null ? '–' : `${Math.round(f * 100)} %`;

/** Money in the rate card's currency. */
export const money = (amount: number, currency: string): string =>
  new Intl.NumberFormat(undefined, {
    style: 'currency',
    currency,
    maximumFractionDigits: amount < 100 ? 2 : 0
  }).format(amount);

/** Hours with sensible precision. */
export const hours = (n: number): string =>
  n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2);

/** The kind of a rollup resource, for the chart's stacks. */
export const RESOURCE_KINDS = ['cpu', 'memory', 'gpu', 'mig'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/**
 * A GPU model as a person writes it. The node label nvidia.com/gpu.product is the product name
 * with its spaces turned into '-' (NVIDIA-A100-SXM4-80GB for "NVIDIA A100-SXM4-80GB"); only the
 * space after the vendor's word is certain, so only that one comes back.
 */
export const gpuModel = (product: string): string =>
  product.replace(/^(NVIDIA|Tesla|Quadro)-/, '$1 ');

/** What a person reads for a rollup key: cpu, memory, gpu:<model> or mig:<profile>. */
export function resourceLabel(key: string, trans: TranslationBundle): string {
  const at = key.indexOf(':');
  const head = at < 0 ? key : key.slice(0, at);
  const name = at < 0 ? '' : key.slice(at + 1);
  switch (head) {
    case 'cpu':
      return trans.__('CPU');
    case 'memory':
      return trans.__('Memory');
    case 'gpu':
      // The meter keys gpu:unknown when the node has no product label.
      return trans.__(
        'GPU · %1',
        name && name !== 'unknown' ? gpuModel(name) : trans.__('model unknown')
      );
    case 'mig':
      return trans.__('MIG slice · %1', name);
    default:
      return key;
  }
}
