// GPU availability at cluster scale: GET /api/v1/cluster/gpus answered from the watch index, against
// the same answer computed by listing nodes and pods per request (the baseline), in the same run.
// A local control plane of its own (dev/k8s/up.sh in a temp state dir) is filled with BENCH_NODES
// nodes (default 2000) and BENCH_PODS pods bound to them (default 50000). The nodes are created Ready
// (status on create) and pods bound (spec.nodeName), so neither the scheduler nor kwok has to keep up:
// on 2 shared cores kwok moved about 12 pods/s to Running, 70 min for 50k. BENCH_KWOK=1 hands the
// nodes to kwok instead and waits until it has run every pod. The index counts Pending and Running
// bound pods alike, so the figures do not depend on it.
// Measures: index build (first list + sync), heap held by the index (vs holding whole objects, as
// client-node's informer does), request latency, and how long a pod change takes to show.
// Expects the platform started by dev/bench.sh (a JupyterHub to identify the caller: HOTSTEPPER_* env).
// Run from the repo root after `npm run build -w server`.
import { execFile, fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import autocannon from 'autocannon';

const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = new URL('../dist/', import.meta.url);
const NODES = Number(process.env.BENCH_NODES ?? 2000);
const PODS = Number(process.env.BENCH_PODS ?? 50000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 48);
const NS = 'bench';
const KWOK = process.env.BENCH_KWOK === '1';
const log = (...a) =>
  console.error(`[cluster-gpus ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- the companion, in a process of its own (like in production), with the baseline route beside it
if (process.argv[2] === 'serve') {
  const { buildApp } = await import(new URL('app.js', dist));
  const { validateConfig } = await import(new URL('platform/config.js', dist));
  const { createTransport } = await import(new URL('platform/kubernetes/transport.js', dist));
  const { GpuAccounting } = await import(new URL('platform/kubernetes/gpu-accounting.js', dist));
  const { trimNode, trimPod } = await import(new URL('platform/kubernetes/gpus.js', dist));
  const { POD_FIELD_SELECTOR } = await import(
    new URL('platform/kubernetes/cluster-index.js', dist)
  );
  const [kubeconfig, hubApi, dbDir] = process.argv.slice(3);
  const app = await buildApp(
    validateConfig({
      log: { level: 'error' },
      database: { path: join(dbDir, 'bench.sqlite') },
      jupyterhub: { apiUrl: hubApi },
      kubernetes: { kubeconfig }
    })
  );
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const transport = createTransport(kc);
  // The baseline: the same answer, from whole lists on every request (one request each, as a
  // naive handler would do it), through the same identity check.
  app.get('/api/v1/bench/gpus-by-listing', async () => {
    const [nodes, pods] = await Promise.all([
      transport.request('GET', '/api/v1/nodes'),
      transport.request(
        'GET',
        `/api/v1/pods?fieldSelector=${encodeURIComponent(POD_FIELD_SELECTOR)}`
      )
    ]);
    const accounting = new GpuAccounting();
    for (const n of nodes.items) {
      const node = trimNode(n);
      if (node) accounting.setNode(node.name, node);
    }
    for (const p of pods.items) {
      const pod = trimPod(p);
      if (pod) accounting.addPod(pod);
    }
    return { ...accounting.counts(), updatedAt: new Date().toISOString(), stale: false };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send(app.server.address().port);
  process.on('disconnect', () => app.close().then(() => process.exit(0)));
} else if (!globalThis.gc) {
  // Heap figures need --expose-gc.
  const r = spawnSync(process.execPath, ['--expose-gc', self, ...process.argv.slice(2)], {
    stdio: 'inherit'
  });
  process.exit(r.status ?? 1);
} else {
  await main();
}

async function main() {
  const run = promisify(execFile);
  const { createTransport } = await import(new URL('platform/kubernetes/transport.js', dist));
  const { createClusterIndex, POD_FIELD_SELECTOR } = await import(
    new URL('platform/kubernetes/cluster-index.js', dist)
  );
  const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
  const token = await userToken(hubApi, 'alice');
  const state = mkdtempSync(join(tmpdir(), 'hs-bench-k8s-'));
  const env = {
    ...process.env,
    HOTSTEPPER_K8S_STATE: state,
    // Below the kernel's ephemeral range (32768-60999), where an outgoing connection could take
    // etcd's port between up.sh's check and its start, and below the bench platforms' own bases.
    HOTSTEPPER_K8S_PORT_BASE: String(20000 + Math.floor(Math.random() * 40) * 100)
  };
  let child;
  const dbDir = mkdtempSync(join(tmpdir(), 'hs-bench-db-'));
  try {
    log(`starting a control plane in ${state}`);
    const { stdout } = await run('bash', [join(root, 'dev/k8s/up.sh')], { env });
    const kubeconfig = stdout.trim().split('\n').pop();
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const api = createTransport(kc, { maxSockets: CONCURRENCY });

    // ---- the cluster
    const t0 = performance.now();
    await api.request('POST', '/api/v1/namespaces', { metadata: { name: NS } });
    await pool(NODES, i => api.request('POST', '/api/v1/nodes', node(i)));
    await api.request('POST', '/api/v1/nodes', node(-1));
    const tNodes = performance.now();
    log(`${NODES} nodes in ${s(tNodes - t0)}`);
    await until(async () => {
      const sa = await api.request('GET', `/api/v1/namespaces/${NS}/serviceaccounts`);
      return sa.items.length > 0;
    }, 60_000);
    let made = 0;
    await pool(PODS, async i => {
      await api.request('POST', `/api/v1/namespaces/${NS}/pods`, pod(i));
      if (++made % 5000 === 0) log(`${made} pods`);
    });
    const tPods = performance.now();
    log(`${PODS} pods in ${s(tPods - tNodes)}`);
    if (KWOK) {
      log('waiting for kwok to run them');
      await until(async () => (await count(api, 'status.phase=Pending')) === 0, 90 * 60_000, 5000);
    }
    const tKwok = performance.now();
    if (KWOK) log(`kwok ran them in ${s(tKwok - tPods)}`);

    // ---- index build and memory, in this process
    const transport = createTransport(kc);
    global.gc();
    const h0 = process.memoryUsage().heapUsed;
    const b0 = performance.now();
    const index = createClusterIndex(transport);
    index.start();
    await index.ready;
    const buildMs = performance.now() - b0;
    global.gc();
    const indexHeap = process.memoryUsage().heapUsed - h0;
    const [nodeStats, podStats] = index.informers();
    // What an informer of whole objects would hold: every node and every bound, unfinished pod.
    global.gc();
    const w0 = process.memoryUsage().heapUsed;
    const whole = new Map();
    const l0 = performance.now();
    for (const path of [
      '/api/v1/nodes',
      `/api/v1/pods?fieldSelector=${encodeURIComponent(POD_FIELD_SELECTOR)}`
    ]) {
      for await (const obj of pages(transport, path)) {
        whole.set(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, obj);
      }
    }
    const wholeMs = performance.now() - l0;
    global.gc();
    const wholeHeap = process.memoryUsage().heapUsed - w0;
    const wholeCount = whole.size;
    whole.clear();
    await index.stop();
    transport.close();

    // ---- the companion: index vs list per request
    child = fork(self, ['serve', kubeconfig, hubApi, dbDir], { stdio: 'inherit' });
    const port = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', code => reject(new Error(`the companion exited (${code})`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `token ${token}` };
    await until(async () => (await fetch(`${base}/api/v1/cluster/gpus`, { headers })).ok, 600_000);
    const fromIndex = await sequential(`${base}/api/v1/cluster/gpus`, headers, 500);
    const byListing = await sequential(
      `${base}/api/v1/bench/gpus-by-listing`,
      headers,
      Number(process.env.BENCH_LIST_REQUESTS ?? 10)
    );
    const a = await new Promise((resolve, reject) =>
      autocannon(
        { url: `${base}/api/v1/cluster/gpus`, headers, connections: 10, duration: 5 },
        (err, r) => (err ? reject(err) : resolve(r))
      )
    );
    const same = canonical(strip(fromIndex.body)) === canonical(strip(byListing.body));

    // ---- how long a pod change takes to show
    const creates = [];
    const deletes = [];
    const probeFree = async () =>
      (await (await fetch(`${base}/api/v1/cluster/gpus`, { headers })).json()).models.find(
        m => m.product === 'BENCH-PROBE'
      ).free;
    for (let i = 0; i < 7; i++) {
      const name = `probe-${i}`;
      await api.request('POST', `/api/v1/namespaces/${NS}/pods`, {
        metadata: { name },
        spec: podSpec('probe', { 'nvidia.com/gpu': '1' })
      });
      let t = performance.now();
      await until(async () => (await probeFree()) === 7, 30_000, 2);
      creates.push(performance.now() - t);
      await api.request('DELETE', `/api/v1/namespaces/${NS}/pods/${name}?gracePeriodSeconds=0`);
      t = performance.now();
      await until(async () => (await probeFree()) === 8, 30_000, 2);
      deletes.push(performance.now() - t);
    }
    api.close();

    // ---- report
    const ms = x => Math.round(x * 10) / 10;
    console.log(
      `\nGPU availability, ${NODES} nodes, ${PODS} pods (creation: nodes ${s(tNodes - t0)}, ` +
        `pods ${s(tPods - tNodes)}${KWOK ? `, kwok to Running ${s(tKwok - tPods)}` : ''})`
    );
    console.table([
      { what: 'index build (list + sync)', value: `${ms(buildMs)} ms` },
      {
        what: 'objects kept',
        value: `${nodeStats.objects} nodes, ${podStats.objects} pods (GPU holders only)`
      },
      { what: 'heap held by the index', value: `${(indexHeap / 2 ** 20).toFixed(1)} MiB` },
      {
        what: `baseline: whole objects (${wholeCount})`,
        value: `${(wholeHeap / 2 ** 20).toFixed(1)} MiB, listed in ${ms(wholeMs)} ms`
      },
      { what: 'GET from index p50 / p99', value: `${ms(fromIndex.p50)} / ${ms(fromIndex.p99)} ms` },
      {
        what: `baseline: list per request p50 / p99 (${byListing.n} req)`,
        value: `${ms(byListing.p50)} / ${ms(byListing.p99)} ms`
      },
      { what: 'GET from index, 10 connections', value: `${Math.round(a.requests.average)} req/s` },
      { what: 'pod created -> shown (median of 7)', value: `${ms(median(creates))} ms` },
      { what: 'pod deleted -> shown (median of 7)', value: `${ms(median(deletes))} ms` },
      { what: 'same answer both ways', value: String(same) }
    ]);
    console.log(
      `ratios: latency list-per-request / index: p50 ${(byListing.p50 / fromIndex.p50).toFixed(0)}x, ` +
        `p99 ${(byListing.p99 / fromIndex.p99).toFixed(0)}x; heap whole objects / index: ` +
        `${(wholeHeap / Math.max(indexHeap, 1)).toFixed(1)}x`
    );
    if (!same || a.errors + a.non2xx > 0) {
      console.error('the index and the baseline disagree, or requests failed: figures not valid');
      const [x, y] = [strip(fromIndex.body), strip(byListing.body)];
      for (const key of Object.keys({ ...x, ...y })) {
        if (canonical(x[key]) !== canonical(y[key]))
          console.error(
            `${key}: index ${JSON.stringify(x[key])}\n${key}: listing ${JSON.stringify(y[key])}`
          );
      }
      console.error(`errors ${a.errors}, non-2xx ${a.non2xx}`);
      process.exitCode = 1;
    }
  } finally {
    child?.disconnect();
    await run('bash', [join(root, 'dev/k8s/down.sh'), '--purge'], { env }).catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
    rmSync(dbDir, { recursive: true, force: true });
  }
}

// ---- the simulated fleet: 50 % A100 nodes, 30 % H100, 10 % MIG (mixed), 10 % CPU only
function kindOf(i) {
  const k = i % 10;
  return k < 5 ? 'a100' : k < 8 ? 'h100' : k < 9 ? 'mig' : 'cpu';
}

function node(i) {
  const name = i < 0 ? 'probe' : `node-${i}`;
  const kind = i < 0 ? 'probe' : kindOf(i);
  const gpu = {
    a100: [{ 'nvidia.com/gpu': '8' }, 'NVIDIA-A100-SXM4-80GB', '81920'],
    h100: [{ 'nvidia.com/gpu': '8' }, 'NVIDIA-H100-80GB-HBM3', '81920'],
    mig: [{ 'nvidia.com/mig-1g.10gb': '7' }, 'NVIDIA-A100-SXM4-80GB', '81920'],
    probe: [{ 'nvidia.com/gpu': '8' }, 'BENCH-PROBE', '1024'],
    cpu: [{}, undefined, undefined]
  }[kind];
  const resources = { cpu: '64', memory: '512Gi', pods: '110', ...gpu[0] };
  return {
    metadata: {
      name,
      annotations: KWOK ? { 'kwok.x-k8s.io/node': 'fake' } : {},
      labels: {
        'kubernetes.io/hostname': name,
        type: 'kwok',
        ...(gpu[1] ? { 'nvidia.com/gpu.product': gpu[1], 'nvidia.com/gpu.memory': gpu[2] } : {}),
        ...(kind === 'mig' ? { 'nvidia.com/mig.strategy': 'mixed' } : {})
      }
    },
    status: {
      allocatable: resources,
      capacity: resources,
      // Without kwok nothing else makes it Ready (the node lifecycle controller is off in dev/k8s).
      ...(KWOK ? {} : { conditions: [{ type: 'Ready', status: 'True', reason: 'Bench' }] })
    }
  };
}

function podSpec(nodeName, requests) {
  return {
    nodeName,
    containers: [{ name: 'main', image: 'busybox', resources: { requests, limits: requests } }]
  };
}

// One pod in five holds a GPU (or a MIG slice): about five per GPU node.
function pod(i) {
  const n = i % NODES;
  const kind = kindOf(n);
  const requests =
    i % 5 === 0 && kind !== 'cpu'
      ? { [kind === 'mig' ? 'nvidia.com/mig-1g.10gb' : 'nvidia.com/gpu']: '1' }
      : { cpu: '10m' };
  return { metadata: { name: `pod-${i}` }, spec: podSpec(`node-${n}`, requests) };
}

// ---- helpers
async function pool(n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        try {
          await fn(i);
          break;
        } catch (err) {
          // 409: an earlier attempt did land; 429/5xx: the API server is busy, try again.
          if (err.statusCode === 409) break;
          if (attempt >= 5) throw err;
          await new Promise(r => setTimeout(r, 200 * 2 ** attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function* pages(transport, path) {
  let token = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await transport.request(
      'GET',
      `${path}${sep}limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`
    );
    yield* page.items;
    token = page.metadata.continue ?? '';
  } while (token);
}

async function count(transport, fieldSelector) {
  let n = 0;
  const path = `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`;
  for await (const pod of pages(transport, path)) if (pod) n++;
  return n;
}

async function until(check, ms, every = 200) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise(r => setTimeout(r, every));
  }
  throw new Error(`not within ${ms} ms`);
}

async function sequential(url, headers, n) {
  const times = [];
  let body;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers });
    body = await res.json();
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(body)}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = q => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { n, p50: at(0.5), p99: at(0.99), body };
}

// (function declarations: main() runs from the top of the module, before any const down here)
function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
function s(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
/** JSON with every object's keys sorted: the route's serializer orders keys as its schema does. */
function canonical(value) {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort())
      : v
  );
}

function strip(answer) {
  return Object.fromEntries(Object.entries(answer).filter(([k]) => k !== 'updatedAt'));
}

async function userToken(hubApi, name) {
  const dev = readFileSync(join(process.env.HOTSTEPPER_STATE, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/users/${name}/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: 'bench', expires_in: 3600 })
  });
  if (!res.ok) throw new Error(`could not mint a token for ${name}: ${res.status}`);
  return (await res.json()).token;
}
