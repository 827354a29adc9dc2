/**
 * Jobs on the local platform's real node (dev/node: containerd, runc and a kubelet built from
 * k8s.io/kubernetes): the Job's container really runs, its log is the container's own output, the
 * kernel OOM-kills a job over its memory limit, and a probe job as alice sees nothing of the
 * companion (its token, its database, its files) and no credential for the cluster.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Job } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { build, testConfig } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { startPrometheus } from './helpers/prometheus.js';
import { measurePods } from '../src/features/idle/metrics.js';
import { createPrometheus } from '../src/platform/prometheus.js';
import { startAll } from './helpers/start-all.js';

const run = promisify(execFile);
const IMAGES = fileURLToPath(new URL('../../dev/node/images.sh', import.meta.url));
const NODE_UP = fileURLToPath(new URL('../../dev/node/up.sh', import.meta.url));
let cluster: ITestCluster;
let hub: IHub;
let chart: IChartIdentity;
let image: string;
const tokens: Record<string, string> = {};

before(async () => {
  const built = run('bash', [IMAGES, 'busybox'], { maxBuffer: 4 << 20 });
  [cluster, hub] = await startAll(startCluster({ realNode: true }), startHub());
  image = (await built).stdout.match(/^busybox=(.+)$/m)?.[1] ?? '';
  assert.ok(image, 'dev/node/images.sh printed no busybox image');
  chart = await installChartRbac(cluster);
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

async function companion(t: TestContext): Promise<FastifyInstance> {
  const base = testConfig();
  const app = await build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: chart.kubeconfig },
      jobs: {
        ...base.jobs,
        executor: 'kubernetes',
        images: [image],
        defaults: { ...base.jobs.defaults, image, cpu: 0.2, memoryMiB: 128 },
        kubernetes: {
          ...base.jobs.kubernetes,
          workingDir: '/home/user',
          nodeSelector: { 'hotstepper.dev/node': 'real' },
          tolerations: [
            { key: 'hotstepper.dev/real-node', operator: 'Exists', effect: 'NoSchedule' }
          ]
        }
      }
    })
  );
  await app.clusterIndex?.ready;
  return app;
}

async function api<T>(
  app: FastifyInstance,
  method: string,
  url: string,
  user: string,
  body?: unknown
) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    payload: body as object
  });
  return {
    status: res.statusCode,
    body: (res.body ? JSON.parse(res.body) : undefined) as T,
    text: res.body
  };
}

/** Submit a shell job as `user` and wait (at most 90 s) until it ends. */
async function runJob(app: FastifyInstance, user: string, script: string, memoryMiB = 128) {
  const created = await api<Job>(app, 'POST', '/api/v1/jobs', user, {
    command: [script],
    shell: true,
    memoryMiB,
    timeLimitSeconds: 120
  });
  assert.equal(created.status, 201, created.text);
  const until = Date.now() + 90_000;
  for (;;) {
    const { body } = await api<Job>(app, 'GET', `/api/v1/jobs/${created.body.id}`, user);
    if (['succeeded', 'failed', 'cancelled'].includes(body.state)) return body;
    assert.ok(Date.now() < until, `job ${body.id} did not end within 90 s: ${body.state}`);
    await new Promise(r => setTimeout(r, 200));
  }
}

async function logOf(app: FastifyInstance, user: string, id: string): Promise<string> {
  const res = await app.inject({
    method: 'GET',
    url: `/api/v1/jobs/${id}/logs?follow=false`,
    headers: { authorization: `token ${tokens[user]}` }
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

describe('jobs on the real node', () => {
  it("runs the job's container on the real node, as a non-root user, and serves its own output as the log", async t => {
    const app = await companion(t);
    const job = await runJob(app, 'alice', 'echo "hello from $(hostname)"; echo "uid=$(id -u)"');
    assert.equal(job.state, 'succeeded', job.message ?? '');
    const log = await logOf(app, 'alice', job.id);
    assert.match(log, /hello from job-/);
    assert.match(log, /uid=1000/);
    const pods = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: job.kubernetes?.namespace ?? '',
      labelSelector: `hotstepper.io/job=${job.id}`
    });
    assert.equal(pods.items[0]?.spec?.nodeName, 'real-1');
    assert.equal(pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  it("a live log followed from the start ends with how the job ended, never 'running'", async t => {
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo first; sleep 2; echo last'],
      shell: true,
      timeLimitSeconds: 120
    });
    assert.equal(created.status, 201, created.text);
    // The container's log closes as it exits, before the Job's watch has seen it succeed.
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/jobs/${created.body.id}/logs?follow=true`,
      headers: { authorization: `token ${tokens.alice}` }
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.body, /data: last/);
    const end = /event: end\ndata: (.+)\n/.exec(res.body)?.[1];
    assert.deepEqual(JSON.parse(end ?? 'null'), { state: 'succeeded', exitCode: 0 });
  });

  it('a job over its memory limit is OOM-killed by the kernel and says so', async t => {
    const app = await companion(t);
    // 200 MB in a shell variable against a 64 MiB limit.
    const job = await runJob(
      app,
      'alice',
      'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived',
      64
    );
    assert.equal(job.state, 'failed');
    assert.equal(job.exitCode, 137);
    assert.match(job.message ?? '', /OOMKilled/);
    assert.doesNotMatch(await logOf(app, 'alice', job.id), /survived/);
  });

  it('a job the node has no room for waits and says why, in the scheduler’s words', async t => {
    const app = await companion(t);
    // Within alice's quota (8 CPU) but more than this machine's node has.
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo never'],
      shell: true,
      cpu: 6,
      timeLimitSeconds: 120
    });
    assert.equal(created.status, 201, created.text);
    const until = Date.now() + 60_000;
    let job = created.body;
    while (!/Insufficient cpu/.test(job.message ?? '')) {
      assert.ok(Date.now() < until, `no reason within 60 s: ${job.state} ${job.message}`);
      await new Promise(r => setTimeout(r, 250));
      job = (await api<Job>(app, 'GET', `/api/v1/jobs/${job.id}`, 'alice')).body;
    }
    assert.equal(job.state, 'pending');
    assert.match(job.message ?? '', /^Waiting: Unschedulable: /);
    const cancelled = await api<Job>(app, 'POST', `/api/v1/jobs/${job.id}/cancel`, 'alice');
    assert.ok(cancelled.status < 300, cancelled.text);
  });

  it("a probe job as alice sees nothing of the companion's secrets, files or cluster credentials", async t => {
    const app = await companion(t);
    const database = app.config.database.path;
    const probe = [
      'id',
      `ls -la ${database} 2>&1`,
      'ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1',
      'env',
      'cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"',
      'ls / /root /work 2>&1',
      'true'
    ].join('; ');
    const job = await runJob(app, 'alice', probe);
    assert.equal(job.state, 'succeeded', job.message ?? '');
    const log = await logOf(app, 'alice', job.id);
    assert.match(log, /uid=1000/);
    assert.match(
      log,
      new RegExp(`${database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: No such file`)
    );
    assert.match(log, /serviceaccount: No such file/);
    assert.ok(!log.includes(hub.serviceToken), 'the companion hub token reached the job');
    assert.ok(!log.includes(tokens.alice), "alice's own hub token reached the job");
    assert.doesNotMatch(log, /JUPYTERHUB_API_TOKEN|KUBECONFIG|HOTSTEPPER_/);
  });

  it("Prometheus has a job container's real CPU and memory from the node's kubelet", async t => {
    const prometheus = await startPrometheus({
      exporterPort: await freePort(),
      interval: '1s',
      kubeletOf: cluster.state
    });
    t.after(() => prometheus.stop());
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['end=$(( $(date +%s) + 20 )); while [ $(date +%s) -lt $end ]; do :; done'],
      shell: true,
      cpu: 0.2,
      memoryMiB: 64,
      timeLimitSeconds: 120
    });
    assert.equal(created.status, 201, created.text);
    const query = `rate(container_cpu_usage_seconds_total{namespace="hs-alice",container="job"}[5s])`;
    let cores = 0;
    for (let i = 0; i < 60 && cores < 0.1; i++) {
      await new Promise(r => setTimeout(r, 500));
      const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      cores = Math.max(0, ...body.data.result.map(r => Number(r.value[1])));
    }
    // A busy loop under a 0.2-core limit: the kernel's own accounting, through the kubelet.
    assert.ok(cores > 0.1 && cores < 0.3, `measured ${cores} cores`);
    const memory = await fetch(
      `${prometheus.url}/api/v1/query?query=${encodeURIComponent('container_memory_working_set_bytes{namespace="hs-alice",container="job"}')}`
    );
    const bytes = ((await memory.json()) as { data: { result: { value: [number, string] }[] } })
      .data.result;
    assert.ok(bytes.length > 0 && Number(bytes[0].value[1]) > 0, JSON.stringify(bytes));
  });

  it("the idle guard's own queries measure a notebook pod on the real node: busy is busy, idle is idle", async t => {
    const prometheus = await startPrometheus({
      exporterPort: await freePort(),
      interval: '1s',
      kubeletOf: cluster.state
    });
    t.after(() => prometheus.stop());
    const core = cluster.kc.makeApiClient(CoreV1Api);
    // Two servers as KubeSpawner names them (jupyter-<user>), container "notebook": one busy, one not.
    for (const [name, script] of [
      ['jupyter-carol', 'while true; do :; done'],
      ['jupyter-dave', 'sleep 3600']
    ]) {
      await core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name },
          spec: {
            nodeSelector: { 'hotstepper.dev/node': 'real' },
            tolerations: [{ key: 'hotstepper.dev/real-node', operator: 'Exists' }],
            containers: [
              {
                name: 'notebook',
                image,
                command: ['sh', '-c', script],
                resources: { limits: { cpu: '300m', memory: '64Mi' } }
              }
            ]
          }
        }
      });
      t.after(() =>
        core.deleteNamespacedPod({ namespace: 'default', name, gracePeriodSeconds: 0 })
      );
    }
    const client = createPrometheus(prometheus.url);
    const spec = { windowSeconds: 10, segmentSeconds: 2 };
    let figures = await measurePods(client, 'jupyter-{user_server}', spec);
    for (let i = 0; i < 60 && !((figures.get('jupyter-carol')?.cpuCores ?? 0) > 0.2); i++) {
      await new Promise(r => setTimeout(r, 500));
      figures = await measurePods(client, 'jupyter-{user_server}', spec);
    }
    assert.ok((figures.get('jupyter-carol')?.cpuCores ?? 0) > 0.2, JSON.stringify([...figures]));
    assert.ok((figures.get('jupyter-dave')?.cpuCores ?? 1) < 0.05, JSON.stringify([...figures]));
  });

  it('a job asking for a (simulated) A100 is scheduled to a node of that model, runs and is metered', async t => {
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo "gpu job on $(hostname)"; sleep 2'],
      shell: true,
      memoryMiB: 64,
      gpu: { model: 'NVIDIA-A100-SXM4-80GB', count: 1 },
      timeLimitSeconds: 120
    });
    assert.equal(created.status, 201, created.text);
    let job = created.body;
    for (let i = 0; i < 450 && !['succeeded', 'failed'].includes(job.state); i++) {
      await new Promise(r => setTimeout(r, 200));
      job = (await api<Job>(app, 'GET', `/api/v1/jobs/${job.id}`, 'alice')).body;
    }
    assert.equal(job.state, 'succeeded', job.message ?? '');
    assert.ok(job.usage.gpuHours > 0, JSON.stringify(job.usage));
    const pods = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: job.kubernetes?.namespace ?? '',
      labelSelector: `hotstepper.io/job=${job.id}`
    });
    const pod = pods.items[0];
    assert.equal(pod?.spec?.nodeName, 'real-1');
    assert.equal(pod?.spec?.nodeSelector?.['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB');
    assert.equal(pod?.spec?.containers[0].resources?.limits?.['nvidia.com/gpu'], '1');
    assert.match(await logOf(app, 'alice', job.id), /gpu job on job-/);
  });

  it('a job outlives its kubelet and containerd being killed: its state follows Kubernetes once they are back', async t => {
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo started; sleep 12; echo finished'],
      shell: true,
      memoryMiB: 64,
      timeLimitSeconds: 180
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    let job = created.body;
    for (let i = 0; i < 300 && job.state !== 'running'; i++) {
      await new Promise(r => setTimeout(r, 200));
      job = (await api<Job>(app, 'GET', `/api/v1/jobs/${id}`, 'alice')).body;
    }
    assert.equal(job.state, 'running');
    for (const component of ['kubelet', 'containerd'])
      process.kill(cluster.pid(component), 'SIGKILL');
    await new Promise(r => setTimeout(r, 3000));
    // Nothing reports while they are down: the companion keeps what it knew.
    assert.equal((await api<Job>(app, 'GET', `/api/v1/jobs/${id}`, 'alice')).body.state, 'running');
    for (const component of ['containerd', 'kubelet'])
      await run('bash', [NODE_UP, '--restart', component], { env: cluster.env });
    for (let i = 0; i < 450 && !['succeeded', 'failed'].includes(job.state); i++) {
      await new Promise(r => setTimeout(r, 200));
      job = (await api<Job>(app, 'GET', `/api/v1/jobs/${id}`, 'alice')).body;
    }
    assert.equal(job.state, 'succeeded', job.message ?? '');
    assert.match(await logOf(app, 'alice', id), /started[\s\S]*finished/);
  });
});
