/**
 * Usage against real parts: a control plane with kwok's simulated GPU fleet, the local platform's
 * usage exporter and a real Prometheus scraping it every second, a real JupyterHub. A pod's use is
 * scripted by its annotations; live usage, the meter's "used" hours and the Prometheus-down path
 * are checked end to end.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { UsageHistory, UsageLive } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { startExporter } from '../../dev/usage/exporter.mjs';
import { buildApp } from '../src/app.js';
import { me } from '../src/features/me/index.js';
import { usage } from '../src/features/usage/index.js';
import { testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startPrometheus, type ITestPrometheus } from './helpers/prometheus.js';
import { waitFor } from './helpers/ports.js';

const FLEET = fileURLToPath(new URL('../../dev/k8s/fleet.mjs', import.meta.url));
const GIB = 2 ** 30;

let cluster: ITestCluster;
let hub: IHub;
let prometheus: ITestPrometheus;
let exporter: { port: number; stop(): Promise<void> };
const tokens: Record<string, string> = {};
const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

before(async () => {
  [cluster, hub] = await Promise.all([startCluster(), startHub()]);
  await promisify(execFile)(process.execPath, [FLEET], {
    env: { ...cluster.env, KUBECONFIG: cluster.kubeconfig }
  });
  exporter = await startExporter({ kubeconfig: cluster.kubeconfig });
  prometheus = await startPrometheus({ exporterPort: exporter.port });
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await exporter?.stop();
  await prometheus?.stop();
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

describe('usage with a real cluster and Prometheus', () => {
  let app: FastifyInstance;

  after(() => app?.close());

  it('shows my pod live: CPU, memory and GPU against requests and limits', async () => {
    app = await buildApp(
      testConfig({
        log: { level: (process.env.USAGE_TEST_LOG as 'warn') ?? 'silent' },
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        kubernetes: { kubeconfig: cluster.kubeconfig },
        prometheus: { url: prometheus.url },
        usage: {
          meter: { enabled: true, intervalSeconds: 2, leaseName: 'usage-test' },
          liveCacheSeconds: 0
        }
      }),
      // `me` for my namespace; the other features play no part here.
      { features: [me, usage] }
    );
    await app.ready();
    // Tenancy creates alice's namespace; the pod goes in as her jobs would.
    const ns = await app.inject({ url: '/api/v1/me/namespace', headers: as('alice') });
    assert.equal(ns.statusCode, 200, ns.body);
    const namespace = (ns.json() as { namespace: string }).namespace;
    const core = cluster.kc.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          name: 'train',
          labels: { 'job-name': 'train' },
          annotations: {
            'hotstepper.dev/cpu-usage': '1.5',
            'hotstepper.dev/memory-usage': '3Gi',
            'hotstepper.dev/gpu-util': '80',
            'hotstepper.dev/gpu-memory-used': '4096'
          }
        },
        spec: {
          tolerations: [{ operator: 'Exists' }],
          nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' },
          containers: [
            {
              name: 'main',
              image: 'python:3.12',
              resources: {
                requests: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' },
                limits: { cpu: '4', memory: '8Gi', 'nvidia.com/gpu': '1' }
              }
            }
          ]
        }
      }
    });

    let live: UsageLive | undefined;
    await waitFor('live usage with figures', 90, async () => {
      const res = await app.inject({ url: '/api/v1/usage/live', headers: as('alice') });
      live = res.json() as UsageLive;
      const pod = live.pods?.[0];
      return Boolean(pod?.cpu.used && Math.abs(pod.cpu.used - 1.5) < 0.05 && pod.gpus.length);
    });
    const pod = live!.pods[0];
    assert.equal(live!.prometheus.state, 'connected');
    assert.equal(pod.kind, 'job');
    assert.deepEqual({ request: pod.cpu.request, limit: pod.cpu.limit }, { request: 2, limit: 4 });
    assert.ok(Math.abs(pod.cpu.used! - 1.5) < 0.1, `cpu used ${pod.cpu.used}`);
    assert.equal(pod.memory.used, 3 * GIB);
    assert.deepEqual(
      { limit: pod.memory.limit, request: pod.memory.request },
      { limit: 8 * GIB, request: 4 * GIB }
    );
    assert.deepEqual(pod.gpus, [
      {
        gpu: '0',
        model: 'NVIDIA A100-SXM4-80GB',
        profile: null,
        utilisation: 0.8,
        memoryUsedBytes: 4096 * 2 ** 20
      }
    ]);
    assert.equal(live!.totals.gpu.request, 1);

    // Bob has no pods, and never sees alice's.
    const bob = (
      await app.inject({ url: '/api/v1/usage/live', headers: as('bob') })
    ).json() as UsageLive;
    assert.deepEqual(bob.pods, []);
  });

  it('meters requested and used hours from the cluster and Prometheus', async () => {
    let history: UsageHistory | undefined;
    const row = (r: string) => history?.rows.find(x => x.resource === r);
    await waitFor('metered hours with figures', 60, async () => {
      history = (
        await app.inject({ url: '/api/v1/usage/history?days=1', headers: as('alice') })
      ).json() as UsageHistory;
      return (row('cpu')?.used ?? 0) > 0 && (row('cpu')?.requested ?? 0) > 10 / 3600;
    }).catch(err => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(history)}`);
    });
    const cpu = row('cpu')!;
    const gpu = row('gpu:NVIDIA-A100-SXM4-80GB')!;
    const memory = row('memory')!;
    // Requested 2 cores, 4 GiB, 1 GPU: used 1.5 cores, 3 GiB, 80 % of the GPU, over measured time.
    const measured = (r: typeof cpu) => r.requested - r.unmeasured;
    assert.ok(measured(cpu) > 0, JSON.stringify(cpu));
    const ratio = (r: typeof cpu, amount: number) => r.used / (measured(r) / amount);
    assert.ok(Math.abs(ratio(cpu, 2) - 1.5) < 0.25, `cpu ${ratio(cpu, 2)}`);
    assert.ok(Math.abs(ratio(memory, 4) - 3) < 0.3, `memory ${ratio(memory, 4)}`);
    assert.ok(Math.abs(ratio(gpu, 1) - 0.8) < 0.1, `gpu ${ratio(gpu, 1)}`);
    // The API rounds hours to 1e-6: round(2h) / 2 and round(h) may differ by half a step.
    assert.ok(Math.abs(cpu.requested / 2 - gpu.requested) <= 1e-6, JSON.stringify(history?.rows));
  });

  it('says so when Prometheus is down, and still serves the history', async () => {
    await prometheus.stop();
    const live = (
      await app.inject({ url: '/api/v1/usage/live', headers: as('alice') })
    ).json() as UsageLive;
    assert.equal(live.prometheus.state, 'down');
    assert.match(live.prometheus.detail, /did not answer/);
    assert.equal(live.pods.length, 1);
    assert.equal(live.pods[0].cpu.used, null);
    assert.equal(live.pods[0].cpu.request, 2);
    const history = await app.inject({ url: '/api/v1/usage/history', headers: as('alice') });
    assert.equal(history.statusCode, 200);
    assert.ok((history.json() as UsageHistory).rows.length >= 3);
  });
});
