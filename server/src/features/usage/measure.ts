/**
 * What pods used, from Prometheus, with the standard series a cluster has: cAdvisor's
 * container_cpu_usage_seconds_total and container_memory_working_set_bytes, and the DCGM
 * exporter's DCGM_FI_DEV_GPU_UTIL / DCGM_FI_DEV_FB_USED (labelled with the pod they serve).
 * Queries select tenant namespaces by prefix and group by (namespace, pod), so one query answers
 * for every pod at once, whatever their number.
 */
import { promString, type IPrometheus } from '../../platform/prometheus.js';
import type { IPodUse, Measure } from './meter.js';

const GIB = 2 ** 30;

/** `{namespace=~"^hs-.*", pod!="", container!=""}`-style selector for tenant pods. */
export function tenantSelector(prefix: string, extra = 'container!="",container!="POD"') {
  const ns = `namespace=~${promString(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*`)}`;
  return `{${ns},pod!=""${extra ? `,${extra}` : ''}}`;
}

/** The meter's Measure: each pod's average use over [from, to] (subqueries skip its absence). */
export function prometheusMeasure(prometheus: IPrometheus, prefix: string): Measure {
  return async (pods, from, to) => {
    const window = Math.max(60, Math.ceil((to - from) / 1000));
    // Enough points to follow a pod that ran part of the window, few enough to stay cheap.
    const step = Math.max(15, Math.ceil(window / 500));
    const range = `[${window}s:${step}s]`;
    const sel = tenantSelector(prefix);
    const dcgm = tenantSelector(prefix, '');
    const [cpu, memory, gpu] = await prometheus.queryAll(
      [
        `avg_over_time((sum by (namespace, pod) (irate(container_cpu_usage_seconds_total${sel}[1m])))${range})`,
        `avg_over_time((sum by (namespace, pod) (container_memory_working_set_bytes${sel}))${range})`,
        `avg_over_time((sum by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL${dcgm}))${range}) / 100`
      ],
      { time: new Date(to), timeoutMs: 20_000 }
    );
    const uidOf = new Map(pods.map(p => [`${p.namespace}/${p.name}`, p.uid]));
    const out = new Map<string, IPodUse>();
    const put = (samples: typeof cpu, key: keyof IPodUse, scale = 1) => {
      for (const s of samples) {
        const uid = uidOf.get(`${s.labels.namespace}/${s.labels.pod}`);
        if (!uid) continue;
        const use = out.get(uid) ?? {};
        use[key] = Math.max(0, s.value / scale);
        out.set(uid, use);
      }
    };
    put(cpu, 'cpu');
    put(memory, 'memory', GIB);
    put(gpu, 'gpu');
    // A pod with CPU figures but no GPU series used its GPUs not at all only if it holds none.
    for (const p of pods) {
      const use = out.get(p.uid);
      if (use && use.gpu === undefined && Object.keys(p.gpus).length === 0) use.gpu = 0;
    }
    return out;
  };
}
