/*
 * Copyright (c) Hotstepper contributors.
 * Distributed under the terms of the BSD-3-Clause license.
 */
import type { UsageHistory } from '@hotstepper/api';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip
} from 'chart.js';
import React, { useEffect, useRef } from 'react';
import { money, RESOURCE_KINDS, type ResourceKind } from './format.js';

// Only the pieces a stacked bar chart needs, so the bundle stays small.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

/** Each resource kind's colour: a JupyterLab CSS variable, so light and dark themes both work. */
const COLOUR_VARIABLES: Record<ResourceKind, string> = {
  cpu: '--jp-brand-color1',
  memory: '--jp-accent-color1',
  gpu: '--jp-warn-color1',
  mig: '--jp-warn-color2'
};

const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

/** Cost per UTC day for each of the last `history.days` days, one series per resource kind. */
export function dailyCost(history: UsageHistory): {
  days: string[];
  series: Record<ResourceKind, number[]>;
} {
  const days: string[] = [];
  const start = Date.parse(`${history.from}T00:00:00Z`);
  for (let i = 0; i < history.days; i++) {
    days.push(new Date(start + i * 86_400_000).toISOString().slice(0, 10));
  }
  const index = new Map(days.map((d, i) => [d, i]));
  const series = Object.fromEntries(
    RESOURCE_KINDS.map(k => [k, new Array<number>(days.length).fill(0)])
  ) as Record<ResourceKind, number[]>;
  for (const row of history.rows) {
    const i = index.get(row.day);
    if (i !== undefined) {
      series[row.kind][i] += row.cost;
    }
  }
  return { days, series };
}

/** A stacked bar chart of cost per day by resource; re-coloured when `themeVersion` changes. */
export function CostChart(props: {
  history: UsageHistory;
  labels: Record<ResourceKind, string>;
  themeVersion: number;
}): React.ReactElement {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar'> | null>(null);
  const { history, labels, themeVersion } = props;

  useEffect(() => {
    if (!canvas.current) {
      return;
    }
    const { days, series } = dailyCost(history);
    const text = cssVar('--jp-ui-font-color1', '#333');
    const muted = cssVar('--jp-ui-font-color2', '#666');
    const grid = cssVar('--jp-border-color2', '#ddd');
    const kinds = RESOURCE_KINDS.filter(k => series[k].some(v => v > 0));
    chart.current?.destroy();
    chart.current = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: days.map(d => d.slice(5)),
        datasets: (kinds.length ? kinds : (['cpu'] as ResourceKind[])).map(k => ({
          label: labels[k],
          data: series[k],
          backgroundColor: cssVar(COLOUR_VARIABLES[k], '#888'),
          borderWidth: 0,
          stack: 'cost'
        }))
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { labels: { color: text, boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: items => days[items[0].dataIndex],
              label: item => `${item.dataset.label}: ${money(item.parsed.y ?? 0, history.currency)}`
            }
          }
        },
        scales: {
          x: {
            stacked: true,
            ticks: { color: muted, maxTicksLimit: 12 },
            grid: { display: false }
          },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { color: muted, callback: v => money(Number(v), history.currency) },
            grid: { color: grid }
          }
        }
      }
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [history, themeVersion]);

  return (
    <div className="jp-HotstepperUsage-chart">
      <canvas ref={canvas} role="img" aria-label="Cost per day by resource" />
    </div>
  );
}
