/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */

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
