/**
 * GET /api/v1/cluster/gpus against a real control plane (dev/k8s: etcd, kube-apiserver,
 * controller-manager, scheduler, kwok) and a real JupyterHub: kwok fake GPU nodes, pods bound to
 * them, and the index following creates, deletes, completions, cordons, an API server killed
 * mid-watch and a watch too old to resume (410).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { GpuAvailability, Status } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import {
  createClusterIndex,
  POD_FIELD_SELECTOR
} from '../src/platform/kubernetes/cluster-index.js';
import { createInformer } from '../src/platform/kubernetes/informer.js';
import { trimPod } from '../src/platform/kubernetes/gpus.js';
import { createTransport, type IKubeTransport } from '../src/platform/kubernetes/transport.js';
import { testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let cluster: ITestCluster;
let hub: IHub;
let core: CoreV1Api;
let token: string;

before(async () => {
  [cluster, hub] = await startAll(startCluster(), startHub());
  core = cluster.kc.makeApiClient(CoreV1Api);
  token = (await hub.createToken('alice')).token;
});
after(async () => {
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

const A100 = 'NVIDIA-A100-SXM4-80GB';
const H100 = 'NVIDIA-H100-80GB-HBM3';

function gpuNode(name: string, product: string, resources: Record<string, string>, mig = false) {
  return {
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        type: 'kwok',
        'nvidia.com/gpu.product': product,
        'nvidia.com/gpu.memory': '81920',
        ...(mig ? { 'nvidia.com/mig.strategy': 'mixed' } : {})
      }
    },
    status: {
      allocatable: { cpu: '64', memory: '512Gi', pods: '110', ...resources },
      capacity: { cpu: '64', memory: '512Gi', pods: '110', ...resources }
    }
  };
}

function gpuPod(name: string, node: string, resources: Record<string, string>, limitsOnly = false) {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'main',
          image: 'busybox',
          resources: limitsOnly ? { limits: resources } : { requests: resources, limits: resources }
        }
      ]
    }
  };
}

const deletePod = (name: string) =>
  core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 });

async function gpus(app: FastifyInstance) {
  const res = await app.inject({
    url: '/api/v1/cluster/gpus',
    headers: { authorization: `token ${token}` }
  });
  return res;
}

/** Polls the answer until `ok` holds; returns it and how long that took (ms). */
async function until(
  app: FastifyInstance,
  ok: (g: GpuAvailability) => boolean,
  seconds = 15
): Promise<{ body: GpuAvailability; ms: number }> {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < seconds * 1000) {
    const res = await gpus(app);
    if (res.statusCode === 200) {
      const body = res.json() as GpuAvailability;
      if (ok(body)) return { body, ms: Math.round(performance.now() - started) };
      last = body;
    } else last = res.json();
    await new Promise(r => setTimeout(r, 25));
  }
  assert.fail(`not within ${seconds} s; last answer: ${JSON.stringify(last)}`);
}

const model = (g: GpuAvailability, product: string) => g.models.find(m => m.product === product);
const mig = (g: GpuAvailability, profile: string) => g.migProfiles.find(m => m.profile === profile);

describe('GET /api/v1/cluster/gpus', () => {
  let app: FastifyInstance;

  before(async () => {
    for (const node of [
      gpuNode('gpu-a100-0', A100, { 'nvidia.com/gpu': '8' }),
      gpuNode('gpu-a100-1', A100, { 'nvidia.com/gpu': '8' }),
      gpuNode(
        'gpu-mig-0',
        A100,
        { 'nvidia.com/mig-1g.10gb': '7', 'nvidia.com/mig-3g.40gb': '2' },
        true
      ),
      gpuNode('gpu-h100-0', H100, { 'nvidia.com/gpu': '4' }),
      { metadata: { name: 'cpu-0', annotations: { 'kwok.x-k8s.io/node': 'fake' } } }
    ]) {
      await core.createNode({ body: node });
    }
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('train-a', 'gpu-a100-0', { 'nvidia.com/gpu': '2' })
    });
    // Extended resources given only as limits are requested as much.
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('train-b', 'gpu-a100-1', { 'nvidia.com/gpu': '1' }, true)
    });
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('slices', 'gpu-mig-0', { 'nvidia.com/mig-1g.10gb': '3' })
    });
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('cpu-only', 'gpu-a100-0', { cpu: '1' })
    });
    app = await buildApp(
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        kubernetes: { kubeconfig: cluster.kubeconfig, staleSeconds: 2 }
      })
    );
    await app.ready();
  });
  after(() => app?.close());

  it('answers 503 kubernetes_not_configured without a cluster', async () => {
    const bare = await buildApp(
      testConfig({ jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken } })
    );
    try {
      const res = await gpus(bare);
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'kubernetes_not_configured');
    } finally {
      await bare.close();
    }
  });

  it('answers 503 kubernetes_syncing until the first list, and needs a token', async () => {
    // An API server nobody listens on: the index never syncs, the companion still serves.
    const kc = cluster.kc;
    const dead = `${kc.getCurrentCluster()?.server.replace(/:\d+$/, ':1')}`;
    const { writeFileSync } = await import('node:fs');
    const file = join(cluster.state, 'dead.kubeconfig');
    writeFileSync(file, kc.exportConfig().replace(kc.getCurrentCluster()?.server ?? '', dead));
    const down = await buildApp(
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        kubernetes: { kubeconfig: file }
      })
    );
    try {
      await down.ready();
      const res = await gpus(down);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'kubernetes_syncing');
      const anonymous = await down.inject({ url: '/api/v1/cluster/gpus' });
      assert.equal(anonymous.statusCode, 401);
    } finally {
      await down.close();
    }
  });

  it('counts total and free GPUs per model and per MIG profile', async () => {
    const { body, ms } = await until(app, g => model(g, A100)?.free === 13 && !!mig(g, '1g.10gb'));
    assert.deepEqual(model(body, A100), {
      product: A100,
      memoryMiB: 81920,
      simulated: false,
      total: 16,
      free: 13,
      unavailable: 0,
      nodes: 2
    });
    assert.deepEqual(model(body, H100), {
      product: H100,
      memoryMiB: 81920,
      simulated: false,
      total: 4,
      free: 4,
      unavailable: 0,
      nodes: 1
    });
    assert.deepEqual(body.migProfiles, [
      {
        profile: '1g.10gb',
        product: A100,
        simulated: false,
        total: 7,
        free: 4,
        unavailable: 0,
        nodes: 1
      },
      {
        profile: '3g.40gb',
        product: A100,
        simulated: false,
        total: 2,
        free: 2,
        unavailable: 0,
        nodes: 1
      }
    ]);
    assert.equal(body.stale, false);
    console.log(`# first answer after ${ms} ms`);
  });

  it('follows pods as they are created, deleted and complete', async () => {
    await until(app, g => model(g, H100)?.free === 4);
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('h-1', 'gpu-h100-0', { 'nvidia.com/gpu': '3' })
    });
    const created = await until(app, g => model(g, H100)?.free === 1);
    await deletePod('h-1');
    const deleted = await until(app, g => model(g, H100)?.free === 4);

    // A Job's pod is scheduled, run and completed by kwok; once Succeeded it holds nothing.
    const batch = cluster.kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'finishes' },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              nodeSelector: { 'kubernetes.io/hostname': 'gpu-h100-0' },
              containers: [
                { name: 'main', image: 'busybox', resources: { limits: { 'nvidia.com/gpu': '2' } } }
              ]
            }
          }
        }
      }
    });
    const deadline = Date.now() + 20_000;
    let phase: string | undefined;
    while (phase !== 'Succeeded' && Date.now() < deadline) {
      const list = await core.listNamespacedPod({
        namespace: 'default',
        labelSelector: 'job-name=finishes'
      });
      phase = list.items[0]?.status?.phase;
      await new Promise(r => setTimeout(r, 100));
    }
    assert.equal(phase, 'Succeeded', 'kwok completes the job pod');
    const completed = await until(app, g => model(g, H100)?.free === 4);
    console.log(
      `# pod change -> answer: create ${created.ms} ms, delete ${deleted.ms} ms, ` +
        `complete ${completed.ms} ms after Succeeded was read`
    );
    assert.ok(created.ms < 5000 && deleted.ms < 5000);
  });

  it('shows its watches to operators in /api/v1/status', async () => {
    const admin = (await hub.createToken('admin')).token;
    const res = await app.inject({
      url: '/api/v1/status',
      headers: { authorization: `token ${admin}` }
    });
    assert.equal(res.statusCode, 200, res.body);
    const indexes = (res.json() as Status).kubernetesIndexes ?? [];
    assert.deepEqual(
      indexes.map(i => [i.name, i.synced, i.stale]),
      [
        ['nodes', true, false],
        ['pods', true, false]
      ]
    );
    assert.equal(indexes[0].objects, 4, 'GPU nodes only');
  });

  it('takes a cordoned node out of free, keeping it in total', async () => {
    const patch = (unschedulable: boolean) =>
      core.patchNode(
        { name: 'gpu-a100-1', body: { spec: { unschedulable } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
      );
    await patch(true);
    const { body } = await until(app, g => model(g, A100)?.unavailable === 8);
    assert.deepEqual(model(body, A100), {
      product: A100,
      memoryMiB: 81920,
      simulated: false,
      total: 16,
      free: 6,
      unavailable: 8,
      nodes: 2
    });
    await patch(false);
    await until(app, g => model(g, A100)?.free === 13);
  });

  it('survives the API server being killed mid-watch: stale while down, then the truth', async () => {
    await until(app, g => !g.stale && model(g, H100)?.free === 4);
    process.kill(cluster.pid('kube-apiserver'), 'SIGKILL');
    const down = Date.now();
    // Still answered from the index, but flagged once the watch has been down staleSeconds.
    const stale = await until(app, g => g.stale, 20);
    assert.equal(model(stale.body, H100)?.free, 4);
    await run('bash', [join(ROOT, 'dev/k8s/up.sh'), '--restart', 'kube-apiserver'], {
      env: cluster.env
    });
    const restarted = Date.now();
    // Changes after the restart (and one made just as it came back) must all arrive.
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('after-1', 'gpu-h100-0', { 'nvidia.com/gpu': '1' })
    });
    await deletePod('train-a');
    const back = await until(
      app,
      g => !g.stale && model(g, H100)?.free === 3 && model(g, A100)?.free === 15,
      40
    );
    const [nodes, pods] = app.clusterIndex?.informers() ?? [];
    console.log(
      `# apiserver down ${restarted - down} ms; stale reported after ${stale.ms} ms; ` +
        `converged ${back.ms} ms after the restart; pods: ${pods.failures} failures, ` +
        `${pods.relistsGone} relists on 410, ${pods.lists} lists; nodes: ${nodes.failures} failures`
    );
    assert.ok(pods.failures > 0, 'the watch saw the outage');
  });
});

describe('the informer', () => {
  let transport: IKubeTransport;
  before(() => {
    transport = createTransport(cluster.kc);
  });
  after(() => transport.close());

  it('relists on 410 Gone and converges, missed events included', async () => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: gpuPod('gone-1', 'gpu-h100-0', { 'nvidia.com/gpu': '1' })
    });
    let first = true;
    // The first watch resumes from resourceVersion 1, far older than the API server keeps:
    // it answers 410 Gone. Before it, changes the list did not see.
    const old: IKubeTransport = {
      ...transport,
      async stream(path, onLine, options) {
        if (first && path.includes('watch=true')) {
          first = false;
          await deletePod('gone-1');
          await core.createNamespacedPod({
            namespace: 'default',
            body: gpuPod('gone-2', 'gpu-h100-0', { 'nvidia.com/gpu': '1' })
          });
          path = path.replace(/resourceVersion=\d+/, 'resourceVersion=1');
        }
        return transport.stream(path, onLine, options);
      }
    };
    const informer = createInformer(old, {
      name: 'pods',
      path: '/api/v1/pods',
      fieldSelector: POD_FIELD_SELECTOR,
      trim: trimPod,
      backoff: { initialMs: 50, maxMs: 500 }
    });
    informer.start();
    try {
      await informer.ready;
      assert.ok(informer.get('default/gone-1'), 'listed before the change');
      const deadline = Date.now() + 10_000;
      while (
        Date.now() < deadline &&
        (informer.get('default/gone-1') || !informer.get('default/gone-2'))
      )
        await new Promise(r => setTimeout(r, 50));
      assert.equal(informer.get('default/gone-1'), undefined);
      assert.deepEqual(informer.get('default/gone-2'), {
        node: 'gpu-h100-0',
        requests: { 'nvidia.com/gpu': 1 }
      });
      const stats = informer.stats();
      assert.equal(stats.relistsGone, 1, JSON.stringify(stats));
      assert.equal(stats.lists, 2);
    } finally {
      await informer.stop();
    }
    await deletePod('gone-2');
  });

  it('keeps only slim records, and stop() ends it at once', async () => {
    const index = createClusterIndex(transport);
    index.start();
    await index.ready;
    const started = performance.now();
    await index.stop();
    assert.ok(performance.now() - started < 1000, 'stop does not wait for the watch to end');
    const [nodes] = index.informers();
    assert.equal(nodes.objects, 4, 'the CPU-only node is not kept');
  });
});
