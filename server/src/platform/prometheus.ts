/**
 * A small client for Prometheus' HTTP API (instant and range queries), for the usage meter, live
 * usage and the idle guard. Queries go as POST forms, so a selector naming thousands of pods never
 * meets a URL length limit; every call has a timeout, and a failure is a PrometheusError that says
 * what to tell a user. `app.prometheus` is null when prometheus.url is not set.
 */
import fp from 'fastify-plugin';
import { describeFailure } from './probes.js';

export interface ISample {
  labels: Record<string, string>;
  /** The sample's value; NaN and ±Inf are dropped before they get here. */
  value: number;
  /** Unix seconds of the sample. */
  time: number;
}

export interface ISeries {
  labels: Record<string, string>;
  points: [time: number, value: number][];
}

export interface IQueryOptions {
  /** Evaluation time (default: now). */
  time?: Date;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface IPrometheus {
  readonly url: string;
  /** An instant query; a vector result as samples, a scalar as one sample without labels. */
  query(expr: string, options?: IQueryOptions): Promise<ISample[]>;
  /** Several instant queries at once (in parallel, with the same options). */
  queryAll(exprs: string[], options?: IQueryOptions): Promise<ISample[][]>;
  queryRange(
    expr: string,
    range: { start: Date; end: Date; stepSeconds: number },
    options?: Omit<IQueryOptions, 'time'>
  ): Promise<ISeries[]>;
  /** Resolves to a sentence when Prometheus is ready; rejects with one that says why not. */
  probe(options?: Omit<IQueryOptions, 'time'>): Promise<string>;
}

/** Prometheus could not answer: `detail` is safe to show a user. */
export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly detail: string
  ) {
    super(message);
    this.name = 'PrometheusError';
  }
}

/** A label value inside a PromQL string literal. */
export const promString = (value: string) => JSON.stringify(value);

/** `label=~"^(a|b)$"` for exact values, escaped for RE2. */
export function anyOf(label: string, values: Iterable<string>): string {
  const escaped = [...values].map(v => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return `${label}=~${promString(`^(${escaped.join('|')})$`)}`;
}

interface IApiAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: {
    resultType: 'vector' | 'matrix' | 'scalar' | 'string';
    result: unknown;
  };
}

type RawSample = { metric: Record<string, string>; value: [number, string] };
type RawSeries = { metric: Record<string, string>; values: [number, string][] };

export function createPrometheus(url: string, defaults: { timeoutMs?: number } = {}): IPrometheus {
  const base = url.replace(/\/+$/, '');
  const timeoutMs = defaults.timeoutMs ?? 5000;

  async function call(path: string, form: Record<string, string>, options: IQueryOptions) {
    const limit = options.timeoutMs ?? timeoutMs;
    const signals = [AbortSignal.timeout(limit)];
    if (options.signal) signals.push(options.signal);
    // Prometheus stops evaluating at its own timeout too, so a slow query is not left running.
    const body = new URLSearchParams({ ...form, timeout: `${Math.max(1, limit / 1000)}s` });
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        body,
        signal: AbortSignal.any(signals)
      });
    } catch (err) {
      const why = describeFailure(err, limit / 1000);
      throw new PrometheusError(
        `Prometheus at ${base} did not answer: ${why}`,
        `Prometheus (the platform's metrics store) did not answer (${why}).`
      );
    }
    const text = await res.text();
    let answer: IApiAnswer | undefined;
    try {
      answer = JSON.parse(text) as IApiAnswer;
    } catch {
      answer = undefined;
    }
    if (!res.ok || answer?.status !== 'success' || !answer.data) {
      const why = answer?.error ?? `HTTP ${res.status}`;
      throw new PrometheusError(
        `Prometheus at ${base} refused ${path} ${form.query}: ${why}`,
        `Prometheus (the platform's metrics store) could not answer: ${why}.`
      );
    }
    return answer.data;
  }

  const finite = (v: string) => {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };

  const client: IPrometheus = {
    url: base,
    async query(expr, options = {}) {
      const form: Record<string, string> = { query: expr };
      if (options.time) form.time = String(options.time.getTime() / 1000);
      const data = await call('/api/v1/query', form, options);
      if (data.resultType === 'scalar') {
        const [time, v] = data.result as [number, string];
        const value = finite(v);
        return value === undefined ? [] : [{ labels: {}, value, time }];
      }
      if (data.resultType !== 'vector') return [];
      const out: ISample[] = [];
      for (const s of data.result as RawSample[]) {
        const value = finite(s.value[1]);
        if (value !== undefined) out.push({ labels: s.metric, value, time: s.value[0] });
      }
      return out;
    },
    queryAll(exprs, options) {
      return Promise.all(exprs.map(e => client.query(e, options)));
    },
    async queryRange(expr, { start, end, stepSeconds }, options = {}) {
      const data = await call(
        '/api/v1/query_range',
        {
          query: expr,
          start: String(start.getTime() / 1000),
          end: String(end.getTime() / 1000),
          step: String(stepSeconds)
        },
        options
      );
      if (data.resultType !== 'matrix') return [];
      return (data.result as RawSeries[]).map(s => ({
        labels: s.metric,
        points: s.values.flatMap(([t, v]) => {
          const value = finite(v);
          return value === undefined ? [] : [[t, value] as [number, number]];
        })
      }));
    },
    async probe(options = {}) {
      const started = performance.now();
      await client.query('vector(1)', options);
      return `Prometheus at ${base} answers queries (${Math.round(performance.now() - started)} ms)`;
    }
  };
  return client;
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    prometheus: IPrometheus | null;
  }
}

/** `app.prometheus`: the client for prometheus.url, or null when it is not configured. */
export const prometheusPlugin = fp(
  async app => {
    const { url } = app.config.prometheus;
    app.decorate('prometheus', url ? createPrometheus(url) : null);
  },
  { name: 'prometheus', dependencies: ['config'] }
);
