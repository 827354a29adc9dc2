/**
 * Live usage of one user's pods: requests and limits from the watch index, current figures from
 * Prometheus (one batch of instant queries for all tenant namespaces, shared by everyone asking within
 * usage.liveCacheSeconds, so a thousand open status bars cost a few queries, not thousands).
 */
import type { UsageGauge, UsageLive, UsagePod } from '@hotstepper/schema';
import { PrometheusError, type IPrometheus, type ISample } from '../../platform/prometheus.js';
import { tenantSelector } from './measure.js';
import type { IUsagePod } from './pods.js';

export interface ILiveOptions {
  prometheus: IPrometheus | null;
  /** Tenant namespaces start with it (kubernetes.tenancy.namespacePrefix). */
  namespacePrefix: string;
  cacheSeconds: number;
  now?: () => number;
}

interface IFigures {
  cpu: ISample[];
  memory: ISample[];
  util: ISample[];
  fb: ISample[];
}

type Answer = { figures: IFigures } | { error: string };

export interface ILiveUsage {
  /** `kubernetes` is the state of the companion's watch; `pods` the user's pods in it. */
  live(
    namespace: string,
    pods: IUsagePod[],
    kubernetes: UsageLive['kubernetes']
  ): Promise<UsageLive>;
}

const sum = (values: (number | null)[]) =>
  values.some(v => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);

export function createLiveUsage(options: ILiveOptions): ILiveUsage {
  const now = options.now ?? Date.now;

  // One batch for every tenant namespace at once, shared by all users for cacheSeconds: the cost
  // to Prometheus does not grow with the number of people watching their status bar.
  async function ask(prometheus: IPrometheus): Promise<Answer> {
    const sel = tenantSelector(options.namespacePrefix);
    const dcgm = tenantSelector(options.namespacePrefix, '');
    try {
      const [cpu, memory, util, fb] = await prometheus.queryAll(
        [
          `sum by (namespace, pod) (irate(container_cpu_usage_seconds_total${sel}[1m]))`,
          `sum by (namespace, pod) (container_memory_working_set_bytes${sel})`,
          `DCGM_FI_DEV_GPU_UTIL${dcgm}`,
          `DCGM_FI_DEV_FB_USED${dcgm}`
        ],
        { timeoutMs: 3000 }
      );
      return { figures: { cpu, memory, util, fb } };
    } catch (err) {
      return {
        error: err instanceof PrometheusError ? err.detail : 'Prometheus could not be asked.'
      };
    }
  }

  let cached: { at: number; answer: Promise<Answer> } | undefined;
  function figures(): Promise<Answer> {
    if (!cached || now() - cached.at >= options.cacheSeconds * 1000) {
      cached = { at: now(), answer: ask(options.prometheus!) };
    }
    return cached.answer;
  }

  return {
    async live(namespace, pods, kubernetes) {
      let state: UsageLive['prometheus'];
      let f: IFigures | undefined;
      if (!options.prometheus) {
        state = {
          state: 'not_configured',
          detail:
            'This platform has no Prometheus set up, so live figures are not available; requests and limits are shown.'
        };
      } else {
        const answer = pods.length ? await figures() : { figures: undefined };
        if ('error' in answer) {
          state = {
            state: 'down',
            detail: `${answer.error} Live figures are missing for now; your history is not affected.`
          };
        } else {
          state = { state: 'connected', detail: 'Figures from Prometheus.' };
          f = answer.figures;
        }
      }
      const mine = (s: ISample) => s.labels.namespace === namespace;
      const byPod = (samples: ISample[] | undefined, pod: string) =>
        samples?.find(s => mine(s) && s.labels.pod === pod)?.value ?? null;
      const out: UsagePod[] = pods
        .filter(p => p.phase === 'Running' || p.phase === 'Pending')
        .map(p => {
          const gpus = (f?.util ?? [])
            .filter(s => mine(s) && s.labels.pod === p.name)
            .map(s => {
              const fb = f?.fb.find(
                x =>
                  mine(x) &&
                  x.labels.pod === p.name &&
                  x.labels.gpu === s.labels.gpu &&
                  x.labels.GPU_I_ID === s.labels.GPU_I_ID
              );
              return {
                gpu: s.labels.gpu ?? '0',
                model: s.labels.modelName ?? 'unknown',
                profile: s.labels.GPU_I_PROFILE || null,
                utilisation: Math.min(1, Math.max(0, s.value / 100)),
                memoryUsedBytes: fb ? fb.value * 2 ** 20 : null
              };
            });
          return {
            name: p.name,
            namespace: p.namespace,
            kind: p.kind,
            phase: p.phase,
            cpu: {
              used: f ? byPod(f.cpu, p.name) : null,
              request: p.cpu.request,
              limit: p.cpu.limit
            },
            memory: {
              used: f ? byPod(f.memory, p.name) : null,
              request: p.memory.request,
              limit: p.memory.limit
            },
            gpus
          };
        });
      const total = (pick: (p: UsagePod) => UsageGauge): UsageGauge => ({
        used: out.length ? sum(out.map(p => pick(p).used)) : null,
        request: sum(out.map(p => pick(p).request)),
        limit: out.length ? sum(out.map(p => pick(p).limit)) : null
      });
      const gpuHeld = pods
        .filter(p => p.phase === 'Running')
        .reduce((a, p) => a + Object.values(p.gpus).reduce((x, y) => x + y, 0), 0);
      const busy = out.flatMap(p => p.gpus.map(g => g.utilisation ?? 0));
      return {
        kubernetes,
        prometheus: state,
        pods: out,
        totals: {
          cpu: total(p => p.cpu),
          memory: total(p => p.memory),
          gpu: {
            used: f && gpuHeld ? busy.reduce((a, b) => a + b, 0) : null,
            request: gpuHeld,
            limit: gpuHeld
          }
        },
        updatedAt: new Date(now()).toISOString()
      };
    }
  };
}
