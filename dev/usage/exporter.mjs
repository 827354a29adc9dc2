// The local platform's stand-in for a real cluster's node metrics: kwok's pods use no CPU, so
// this publishes, for each running pod, the series a real cluster would have, with the same names
// and labels — cAdvisor's container_cpu_usage_seconds_total and container_memory_working_set_bytes,
// kube-state-metrics' kube_pod_container_resource_requests/limits, and the DCGM exporter's
// DCGM_FI_DEV_GPU_UTIL and DCGM_FI_DEV_FB_USED (per GPU or MIG slice, with GPU_I_PROFILE).
// What a pod "uses" is scripted by annotations on it, so tests and demos decide:
//   hotstepper.dev/cpu-usage: "0.5"        cores (default: a tenth of the request)
//   hotstepper.dev/memory-usage: "3Gi"     working set (default: half the request)
//   hotstepper.dev/gpu-util: "80"          percent per GPU/slice (default 30)
//   hotstepper.dev/gpu-memory-used: "2048" MiB per GPU/slice (default 1024)
// Usage: KUBECONFIG=... node dev/usage/exporter.mjs --port 9091 [--host 127.0.0.1]
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, makeInformer } from '@kubernetes/client-node';

const SUFFIX = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4
};
export function quantity(v) {
  const m = /^([0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(String(v ?? '').trim());
  return m && m[2] in SUFFIX ? Number(m[1]) * SUFFIX[m[2]] : 0;
}
const label = v => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = o =>
  `{${Object.entries(o)
    .map(([k, v]) => `${k}="${label(v)}"`)
    .join(',')}}`;

/** Starts watching the cluster and serving /metrics; resolves to { port, stop() }. */
export async function startExporter({
  kubeconfig,
  port = 0,
  host = '127.0.0.1',
  now = () => Date.now()
} = {}) {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  const pods = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  const nodes = makeInformer(kc, '/api/v1/nodes', () => core.listNode());
  // CPU seconds accumulate between scrapes at the scripted rate, per container, like cAdvisor's counter.
  const cpuSeconds = new Map();
  let lastTick = now();
  const restart = informer =>
    informer.on('error', () => setTimeout(() => informer.start().catch(() => {}), 2000));
  restart(pods);
  restart(nodes);
  await Promise.all([pods.start(), nodes.start()]);

  const running = () =>
    pods
      .list()
      .filter(
        p => p.spec?.nodeName && p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp
      );
  // CPU and memory are made up only for kwok's pods, which run nothing: a pod on the real node is
  // measured by its kubelet (Prometheus scrapes /metrics/resource). GPUs are simulated everywhere.
  const nodeOf = p => nodes.list().find(n => n.metadata?.name === p.spec.nodeName);
  const simulated = () =>
    running().filter(p => nodeOf(p)?.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake');

  function tick() {
    const t = now();
    const dt = Math.max(0, (t - lastTick) / 1000);
    lastTick = t;
    const alive = new Set();
    for (const p of simulated()) {
      const containers = p.spec.containers ?? [];
      const total = quantity(p.metadata.annotations?.['hotstepper.dev/cpu-usage']);
      for (const c of containers) {
        const key = `${p.metadata.uid}/${c.name}`;
        alive.add(key);
        const request = quantity(c.resources?.requests?.cpu ?? c.resources?.limits?.cpu);
        const cores =
          p.metadata.annotations?.['hotstepper.dev/cpu-usage'] !== undefined
            ? total / containers.length
            : request / 10;
        cpuSeconds.set(key, (cpuSeconds.get(key) ?? 0) + cores * dt);
      }
    }
    for (const key of cpuSeconds.keys()) if (!alive.has(key)) cpuSeconds.delete(key);
  }

  function gpuDevices(p) {
    const node = nodeOf(p);
    const product = node?.metadata?.labels?.['nvidia.com/gpu.product'] ?? 'unknown';
    const modelName = product.replace(/^NVIDIA-/, 'NVIDIA ');
    const out = [];
    let index = 0;
    for (const c of p.spec.containers ?? []) {
      const r = { ...c.resources?.limits, ...c.resources?.requests };
      for (const [name, v] of Object.entries(r)) {
        const n = quantity(v);
        const profile = name.startsWith('nvidia.com/mig-')
          ? name.slice('nvidia.com/mig-'.length)
          : null;
        if (name !== 'nvidia.com/gpu' && !profile) continue;
        for (let i = 0; i < n; i++, index++) {
          out.push({
            container: c.name,
            modelName,
            profile,
            gpu: String(index),
            node: p.spec.nodeName
          });
        }
      }
    }
    return out;
  }

  function render() {
    tick();
    const lines = [];
    const help = (name, type, text) =>
      lines.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
    const list = running();
    const kwokPods = simulated();
    help(
      'container_cpu_usage_seconds_total',
      'counter',
      'Cumulative cpu time consumed in seconds.'
    );
    for (const p of kwokPods) {
      for (const c of p.spec.containers ?? []) {
        const l = {
          container: c.name,
          namespace: p.metadata.namespace,
          pod: p.metadata.name,
          node: p.spec.nodeName
        };
        lines.push(
          `container_cpu_usage_seconds_total${labels(l)} ${(cpuSeconds.get(`${p.metadata.uid}/${c.name}`) ?? 0).toFixed(6)}`
        );
      }
    }
    help('container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.');
    for (const p of kwokPods) {
      const containers = p.spec.containers ?? [];
      const scripted = p.metadata.annotations?.['hotstepper.dev/memory-usage'];
      for (const c of containers) {
        const request = quantity(c.resources?.requests?.memory ?? c.resources?.limits?.memory);
        const bytes = scripted !== undefined ? quantity(scripted) / containers.length : request / 2;
        const l = {
          container: c.name,
          namespace: p.metadata.namespace,
          pod: p.metadata.name,
          node: p.spec.nodeName
        };
        lines.push(`container_memory_working_set_bytes${labels(l)} ${Math.round(bytes)}`);
      }
    }
    for (const [metric, field] of [
      ['kube_pod_container_resource_requests', 'requests'],
      ['kube_pod_container_resource_limits', 'limits']
    ]) {
      help(
        metric,
        'gauge',
        `The number of ${field} resources of a container (kube-state-metrics).`
      );
      for (const p of list) {
        for (const c of p.spec.containers ?? []) {
          for (const [resource, v] of Object.entries(c.resources?.[field] ?? {})) {
            const unit = resource === 'cpu' ? 'core' : resource === 'memory' ? 'byte' : 'integer';
            const l = {
              namespace: p.metadata.namespace,
              pod: p.metadata.name,
              container: c.name,
              node: p.spec.nodeName,
              resource: resource.replace(/[./]/g, '_'),
              unit
            };
            lines.push(`${metric}${labels(l)} ${quantity(v)}`);
          }
        }
      }
    }
    const gpus = list.flatMap(p => gpuDevices(p).map(d => ({ p, d })));
    for (const [metric, text, value] of [
      [
        'DCGM_FI_DEV_GPU_UTIL',
        'GPU utilization (in %).',
        p => quantity(p.metadata.annotations?.['hotstepper.dev/gpu-util'] ?? '30')
      ],
      [
        'DCGM_FI_DEV_FB_USED',
        'Framebuffer memory used (in MiB).',
        p => quantity(p.metadata.annotations?.['hotstepper.dev/gpu-memory-used'] ?? '1024')
      ]
    ]) {
      help(metric, 'gauge', text);
      for (const { p, d } of gpus) {
        const l = {
          gpu: d.gpu,
          UUID: `GPU-${p.metadata.uid}-${d.gpu}`,
          device: `nvidia${d.gpu}`,
          modelName: d.modelName,
          Hostname: d.node,
          ...(d.profile ? { GPU_I_PROFILE: d.profile, GPU_I_ID: d.gpu } : {}),
          namespace: p.metadata.namespace,
          pod: p.metadata.name,
          container: d.container
        };
        lines.push(`${metric}${labels(l)} ${value(p)}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(render());
    } else if (req.url === '/healthz') {
      res.end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise(resolve => server.listen(port, host, resolve));
  // Keep the counters moving between scrapes too.
  const timer = setInterval(tick, 1000);
  timer.unref();
  return {
    port: server.address().port,
    async stop() {
      clearInterval(timer);
      await Promise.all([pods.stop(), nodes.stop()].map(p => Promise.resolve(p).catch(() => {})));
      await new Promise(resolve => server.close(resolve));
    }
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = name => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const exporter = await startExporter({
    port: Number(arg('port') ?? process.env.HOTSTEPPER_USAGE_EXPORTER_PORT ?? 9091),
    host: arg('host') ?? '127.0.0.1'
  });
  console.log(`usage exporter: http://127.0.0.1:${exporter.port}/metrics`);
  const stop = () => exporter.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
