/**
 * Jobs with the Kubernetes executor against a real control plane (kube-apiserver, controller
 * manager, scheduler) whose pods kwok plays with dev/jobs/kwok-stages.yaml: a Job's pod runs for
 * the delay in its annotation and then succeeds, or fails when its command is `false`. The
 * companion runs as the Helm chart's ServiceAccount, so this also shows the chart allows it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { BatchV1Api, CoreV1Api, type V1Job } from '@kubernetes/client-node';
import type { Job, JobList, JobPreview, Problem } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { build, testConfig } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';
import type { IConfig } from '../src/platform/config.js';

const FLEET = fileURLToPath(new URL('../../dev/k8s/fleet.mjs', import.meta.url));
const IMAGE = 'quay.io/jupyter/scipy-notebook:2025-10-20';
let cluster: ITestCluster;
let hub: IHub;
let chart: IChartIdentity;
const tokens: Record<string, string> = {};

before(async () => {
  [cluster, hub] = await startAll(startCluster(), startHub());
  execFileSync('node', [FLEET], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
  chart = await installChartRbac(cluster);
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function config(quota?: Record<string, string>): IConfig {
  const base = testConfig();
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    kubernetes: {
      kubeconfig: chart.kubeconfig,
      tenancy: { ...base.kubernetes.tenancy, ...(quota ? { quota } : {}) }
    },
    jobs: {
      ...base.jobs,
      executor: 'kubernetes',
      images: [IMAGE],
      kubernetes: {
        ...base.jobs.kubernetes,
        podAnnotations: { 'pod-complete.stage.kwok.x-k8s.io/delay': '3s' }
      }
    }
  });
}

async function companion(t: TestContext, c = config()): Promise<FastifyInstance> {
  const app = await build(t, c);
  await app.clusterIndex?.ready;
  return app;
}

async function api<T>(
  app: FastifyInstance,
  method: string,
  url: string,
  user = 'alice',
  body?: unknown
) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: as(user),
    payload: body as object
  });
  return { status: res.statusCode, body: (res.body ? JSON.parse(res.body) : undefined) as T };
}

/** Every state the job is seen in, until it ends. */
async function follow(app: FastifyInstance, id: string, user = 'alice', ms = 60_000) {
  const seen: string[] = [];
  const until = Date.now() + ms;
  for (;;) {
    const { body } = await api<Job>(app, 'GET', `/api/v1/jobs/${id}`, user);
    if (seen.at(-1) !== body.state) seen.push(body.state);
    if (['succeeded', 'failed', 'cancelled'].includes(body.state)) return { job: body, seen };
    if (Date.now() > until) throw new Error(`job ${id} stuck: ${seen.join(' -> ')}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

describe('kubernetes jobs', () => {
  it('runs a Job in the user namespace: Pending -> Running -> Succeeded, with the notebook server defaults', async t => {
    const app = await companion(t);
    // The user's notebook server, as KubeSpawner makes it, in their namespace.
    const namespace = app.tenancy.namespaceOf('alice');
    await app.tenancy.tenant('alice');
    // Its home volume: a claim bound to a volume made by hand (the test cluster has no provisioner).
    const core = cluster.kc.makeApiClient(CoreV1Api);
    await core.createPersistentVolume({
      body: {
        metadata: { name: 'home-alice' },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          hostPath: { path: '/tmp/home-alice' },
          claimRef: { namespace, name: 'claim-alice' }
        }
      }
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: 'claim-alice' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          volumeName: 'home-alice',
          storageClassName: '',
          resources: { requests: { storage: '1Gi' } }
        }
      }
    });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          name: 'jupyter-alice',
          labels: { component: 'singleuser-server', 'hub.jupyter.org/username': 'alice' }
        },
        spec: {
          securityContext: { runAsUser: 1000, fsGroup: 100 },
          volumes: [
            { name: 'home', persistentVolumeClaim: { claimName: 'claim-alice' } },
            { name: 'token', secret: { secretName: 'hub-token' } }
          ],
          containers: [
            {
              name: 'notebook',
              image: IMAGE,
              workingDir: '/home/jovyan',
              env: [
                { name: 'DATA_DIR', value: '/home/jovyan/data' },
                { name: 'JUPYTERHUB_API_TOKEN', value: 'must-not-travel' },
                { name: 'MY_PASSWORD', value: 'must-not-travel' }
              ],
              volumeMounts: [
                { name: 'home', mountPath: '/home/jovyan' },
                { name: 'token', mountPath: '/var/run/token' }
              ]
            }
          ]
        }
      }
    });
    // The companion sees it through its watch.
    let preview: JobPreview | undefined;
    for (
      let i = 0;
      i < 100 && !preview?.defaultsFrom.some(d => d.startsWith('notebook-server'));
      i++
    ) {
      preview = (
        await api<JobPreview>(app, 'POST', '/api/v1/jobs/preview', 'alice', {
          command: ['python', 'train.py']
        })
      ).body;
      await new Promise(r => setTimeout(r, 100));
    }
    assert.deepEqual(preview?.defaultsFrom, ['notebook-server:jupyter-alice', 'configuration']);
    assert.equal(preview?.spec.image, IMAGE);
    assert.deepEqual(preview?.spec.env, { DATA_DIR: '/home/jovyan/data' });
    assert.ok(preview?.quota.some(q => q.resource === 'requests.cpu' && q.hard === '8' && q.fits));

    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['python', 'train.py', '--lr', '0.1; rm -rf /'],
      secretEnv: { WANDB_API_KEY: 'secret-value' },
      cpu: 2,
      memoryMiB: 4096,
      timeLimitSeconds: 600
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'pending');
    assert.deepEqual(created.body.secretEnvNames, ['WANDB_API_KEY']);
    assert.equal(JSON.stringify(created.body).includes('secret-value'), false);
    const { job, seen } = await follow(app, created.body.id);
    assert.deepEqual(seen, ['pending', 'running', 'succeeded']);
    assert.equal(job.exitCode, 0);
    assert.ok((job.durationSeconds ?? 0) >= 2, `ran ${job.durationSeconds}s`);
    assert.ok(job.usage.cpuHours > 0);

    // What Kubernetes holds: the Job as the spec says, the Secret owned by it.
    const k8sJob = (await cluster.kc.makeApiClient(BatchV1Api).readNamespacedJob({
      namespace,
      name: job.kubernetes?.jobName ?? ''
    })) as V1Job;
    assert.equal(job.kubernetes?.namespace, namespace);
    assert.equal(k8sJob.metadata?.labels?.['hotstepper.io/job'], job.id);
    assert.equal(k8sJob.metadata?.labels?.['hotstepper.io/user'], 'alice');
    assert.equal(k8sJob.spec?.activeDeadlineSeconds, 600);
    assert.equal(k8sJob.spec?.backoffLimit, 0);
    assert.equal(k8sJob.spec?.ttlSecondsAfterFinished, 3600);
    const pod = k8sJob.spec?.template.spec;
    const container = pod?.containers[0];
    assert.deepEqual(container?.command, ['python', 'train.py', '--lr', '0.1; rm -rf /']);
    assert.equal(container?.image, IMAGE);
    assert.equal(container?.workingDir, '/home/jovyan');
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(container?.resources?.requests, { cpu: '2', memory: '4Gi' });
    assert.deepEqual(
      pod?.volumes?.map(v => v.name),
      ['home'],
      'the PVC, never the Secret volume'
    );
    assert.deepEqual(
      container?.volumeMounts?.map(m => m.mountPath),
      ['/home/jovyan']
    );
    assert.deepEqual(JSON.parse(JSON.stringify(container?.env)), [
      { name: 'DATA_DIR', value: '/home/jovyan/data' }
    ]);
    const secretName = container?.envFrom?.[0]?.secretRef?.name ?? '';
    const secret = await cluster.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ namespace, name: secretName });
    assert.equal(
      Buffer.from(secret.data?.WANDB_API_KEY ?? '', 'base64').toString(),
      'secret-value'
    );
    assert.deepEqual(
      secret.metadata?.ownerReferences?.map(o => [o.kind, o.name, o.uid]),
      [['Job', k8sJob.metadata?.name, k8sJob.metadata?.uid]]
    );

    // The log through the API server from the kubelet (kwok serves dev/jobs/kwok-job.log).
    const logs = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.equal(logs.statusCode, 200);
    assert.match(logs.body, /id: 1\nevent: line\ndata: kwok: this pod is simulated/);
    assert.match(logs.body, /id: 3\nevent: line\ndata: kwok: done\./);
    const resumed = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: { ...as('alice'), 'last-event-id': '2' }
    });
    assert.doesNotMatch(resumed.body, /id: [12]\n/);
    assert.match(resumed.body, /id: 3\nevent: line\ndata: kwok: done\./);
    assert.match(logs.body, /event: end\ndata: \{"state":"succeeded","exitCode":0\}/);

    // Deleting it deletes the Job, and its pods and Secret with it.
    assert.equal((await api(app, 'DELETE', `/api/v1/jobs/${job.id}`)).status, 204);
    const gone = await cluster.kc
      .makeApiClient(BatchV1Api)
      .readNamespacedJob({ namespace, name: k8sJob.metadata?.name ?? '' })
      .then(
        j => j.metadata?.deletionTimestamp !== undefined,
        (e: { code?: number }) => e.code === 404
      );
    assert.ok(gone, 'the Job is deleted');
  });

  it('a failing command ends Failed with its exit code', async t => {
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['false'],
      image: IMAGE
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { job, seen } = await follow(app, created.body.id);
    assert.deepEqual(seen, ['pending', 'running', 'failed']);
    assert.equal(job.exitCode, 1);
    assert.match(job.message ?? '', /code 1/);
  });

  it('cancels a job by deleting its Job', async t => {
    const app = await companion(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '1000'],
      image: IMAGE
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const namespace = created.body.kubernetes?.namespace ?? '';
    const name = created.body.kubernetes?.jobName ?? '';
    assert.ok(namespace && name, 'the job names its Kubernetes Job');
    const batch = cluster.kc.makeApiClient(BatchV1Api);
    // Before: the Job is in the cluster, ours.
    const before = await batch.readNamespacedJob({ namespace, name });
    assert.equal(before.metadata?.labels?.['hotstepper.io/job'], created.body.id);
    assert.equal(before.metadata?.deletionTimestamp, undefined);

    const cancelled = await api<Job>(app, 'POST', `/api/v1/jobs/${created.body.id}/cancel`);
    assert.equal(cancelled.body.state, 'cancelled');

    // After: the Job is deleted from the cluster (a GET answers 404 within the deadline).
    const deadline = Date.now() + 60_000;
    let last = 'still there';
    for (;;) {
      const state = await batch.readNamespacedJob({ namespace, name }).then(
        j => `still there (deletionTimestamp ${String(j.metadata?.deletionTimestamp)})`,
        (e: { code?: number }) => (e.code === 404 ? 'gone' : `GET failed: ${String(e)}`)
      );
      if (state === 'gone') break;
      last = state;
      assert.ok(Date.now() < deadline, `the Job ${namespace}/${name} after cancel: ${last}`);
      await new Promise(r => setTimeout(r, 250));
    }
    for (const [method, url] of [
      ['GET', `/api/v1/jobs/${created.body.id}`],
      ['GET', `/api/v1/jobs/${created.body.id}/logs?follow=false`],
      ['POST', `/api/v1/jobs/${created.body.id}/cancel`]
    ]) {
      assert.equal((await api(app, method, url, 'bob')).status, 404, `${method} ${url} as bob`);
    }
  });

  it('refuses what the quota cannot hold: in the preview, and at create', async t => {
    const app = await companion(
      t,
      config({
        'requests.cpu': '4',
        'requests.memory': '8Gi',
        'requests.nvidia.com/gpu': '1',
        'count/jobs.batch': '1',
        pods: '5'
      })
    );
    const gpu = { model: 'NVIDIA-A100-SXM4-80GB', count: 2 };
    const preview = await api<JobPreview>(app, 'POST', '/api/v1/jobs/preview', 'carol', {
      command: ['train'],
      image: IMAGE,
      gpu
    });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.fits, false);
    const line = preview.body.quota.find(q => q.resource === 'requests.nvidia.com/gpu');
    assert.deepEqual(line, {
      resource: 'requests.nvidia.com/gpu',
      hard: '1',
      used: '0',
      requested: '2',
      fits: false
    });
    assert.equal(preview.body.gpus?.resource, 'nvidia.com/gpu');
    assert.ok((preview.body.gpus?.total ?? 0) > 0);
    // The form is bypassed: create refuses the same, and nothing is made.
    const refused = await api<Problem>(app, 'POST', '/api/v1/jobs', 'carol', {
      command: ['train'],
      image: IMAGE,
      gpu
    });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'quota_exceeded');
    assert.equal(refused.body.quota?.[0].resource, 'requests.nvidia.com/gpu');
    assert.deepEqual((await api<JobList>(app, 'GET', '/api/v1/jobs', 'carol')).body.items, []);
    // count/jobs.batch is Kubernetes' own to refuse: a second Job is over it.
    const first = await api<Job>(app, 'POST', '/api/v1/jobs', 'carol', {
      command: ['sleep', '1000'],
      image: IMAGE
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    let second: { status: number; body: Problem } | undefined;
    for (let i = 0; i < 50; i++) {
      second = await api<Problem>(app, 'POST', '/api/v1/jobs', 'carol', {
        command: ['true'],
        image: IMAGE
      });
      if (second.status !== 201) break;
      await api(app, 'DELETE', `/api/v1/jobs/${(second.body as unknown as Job).id}`);
      await new Promise(r => setTimeout(r, 100));
    }
    assert.equal(second?.status, 409, JSON.stringify(second?.body));
    assert.equal(second?.body.code, 'quota_exceeded');
    assert.equal(second?.body.quota?.[0].resource, 'count/jobs.batch');
    const listed = await api<JobList>(app, 'GET', '/api/v1/jobs', 'carol');
    assert.deepEqual(
      listed.body.items.map(j => j.id),
      [first.body.id]
    );
  });

  it('refuses bad images and GPUs with the field named', async t => {
    const app = await companion(t);
    const cases: [unknown, string][] = [
      [{ command: ['true'], image: 'docker.io/evil/miner' }, 'body.image'],
      [{ command: ['true'], image: IMAGE, gpu: { model: 'NVIDIA-Z9000' } }, 'body.gpu.model'],
      [{ command: ['true'], image: IMAGE, gpu: { migProfile: '9g.900gb' } }, 'body.gpu.migProfile'],
      [
        { command: ['true'], image: IMAGE, gpu: { model: 'NVIDIA-A100-SXM4-80GB', count: 9 } },
        'body.gpu.count'
      ]
    ];
    for (const [body, path] of cases) {
      const res = await api<Problem>(app, 'POST', '/api/v1/jobs', 'bob', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(
        res.body.errors?.some(e => e.path === path),
        `${path}: ${JSON.stringify(res.body)}`
      );
    }
    assert.deepEqual((await api<JobList>(app, 'GET', '/api/v1/jobs', 'bob')).body.items, []);
  });

  it('follows jobs again after a companion restart', async t => {
    const c = config();
    const first = await companion(t, c);
    const created = await api<Job>(first, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '3'],
      image: IMAGE
    });
    await first.close();
    const second = await companion(t, c);
    const { job } = await follow(second, created.body.id);
    assert.equal(job.state, 'succeeded');
  });
});
