/**
 * Utilisation of every notebook server from Prometheus, in a few queries per round however many
 * servers run: one per figure and distinct (window, segment) of the profiles, selecting all
 * notebook pods by the pod-name prefix and grouping by pod. The busiest segment decides: each
 * query takes per-segment averages over the window (a subquery stepped by the segment) and keeps
 * the maximum.
 */
import { promString, type IPrometheus } from '../../platform/prometheus.js';

export interface IPodFigures {
  cpuCores?: number;
  gpuPercent?: number;
  memoryGrowthMiB?: number;
  /** The pod has GPU series (a whole GPU or a MIG slice). */
  gpu: boolean;
}

export interface IWindowSpec {
  windowSeconds: number;
  segmentSeconds: number;
}

/** `jupyter-{user_server}` -> the pod name of a server. */
export function podName(template: string, user: string, server: string): string {
  const userServer = server ? `${user}--${server}` : user;
  return template
    .replaceAll('{username}', user)
    .replaceAll('{servername}', server)
    .replaceAll('{user_server}', userServer)
    .toLowerCase();
}

/** The fixed start of every server's pod name: what the selector narrows by. */
function selector(template: string): string {
  const prefix = template.split('{')[0].toLowerCase();
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `pod=~${promString(`${escaped}.*`)}`;
}

/** The PromQL of one round for one window spec (exported so the bench and tests can show it). */
export function idleQueries(
  template: string,
  { windowSeconds: w, segmentSeconds: s }: IWindowSpec
) {
  const pods = selector(template);
  const containers = `${pods},container!="",container!="POD"`;
  const memory = `sum by (pod) (container_memory_working_set_bytes{${containers}})`;
  return {
    cpuCores: `max_over_time((sum by (pod) (rate(container_cpu_usage_seconds_total{${containers}}[${s}s])))[${w}s:${s}s])`,
    gpuPercent: `max_over_time((max by (pod) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{${pods}}[${s}s])))[${w}s:${s}s])`,
    memoryGrowthMiB: `(${memory} - min_over_time((${memory})[${w}s:${s}s])) / 1048576`,
    gpuPresent: `count by (pod) (last_over_time(DCGM_FI_DEV_GPU_UTIL{${pods}}[${w}s]))`
  };
}

/** Every notebook pod's figures for one window spec; throws PrometheusError when it cannot. */
export async function measurePods(
  prometheus: IPrometheus,
  template: string,
  spec: IWindowSpec,
  time?: Date
): Promise<Map<string, IPodFigures>> {
  const q = idleQueries(template, spec);
  const [cpu, gpu, memory, present] = await prometheus.queryAll(
    [q.cpuCores, q.gpuPercent, q.memoryGrowthMiB, q.gpuPresent],
    { time, timeoutMs: 30_000 }
  );
  const out = new Map<string, IPodFigures>();
  const at = (pod: string) => {
    let f = out.get(pod);
    if (!f) out.set(pod, (f = { gpu: false }));
    return f;
  };
  for (const s of cpu) if (s.labels.pod) at(s.labels.pod).cpuCores = s.value;
  for (const s of gpu) if (s.labels.pod) at(s.labels.pod).gpuPercent = s.value;
  for (const s of memory) if (s.labels.pod) at(s.labels.pod).memoryGrowthMiB = Math.max(0, s.value);
  for (const s of present) if (s.labels.pod) at(s.labels.pod).gpu = true;
  return out;
}
