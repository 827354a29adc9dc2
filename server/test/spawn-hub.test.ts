/**
 * The hub enforces the companion's spawn options (issue #15, item 1): a real hub spawning with
 * Hotstepper's KubeSpawner (jupyter/hotstepper/spawner.py) onto the test cluster's real node, with
 * the companion checking each spawn. A tampered spawn request (through the hub's REST API, as a
 * page's form could be) is refused with the companion's sentences and no pod exists; a valid one
 * yields a pod whose container resources are what was asked, and is remembered.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { parseQuantity } from '../src/platform/kubernetes/gpus.js';
import { testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { hubRequest, spawnServer } from './helpers/spawn.js';

const run = promisify(execFile);
const IMAGES = fileURLToPath(new URL('../../dev/node/images.sh', import.meta.url));
const CONFIG = fileURLToPath(new URL('./fixtures/spawn/jupyterhub_config.py', import.meta.url));
const JUPYTER_SOURCE = fileURLToPath(new URL('../../jupyter', import.meta.url));

let cluster: ITestCluster;
let hub: IHub;
let companion: FastifyInstance;
let busybox: string;

before(async () => {
  const built = run('bash', [IMAGES, 'busybox'], { maxBuffer: 4 << 20 });
  cluster = await startCluster({ realNode: true });
  busybox = (await built).stdout.match(/^busybox=(.+)$/m)?.[1] ?? '';
  assert.ok(busybox, 'dev/node/images.sh printed no busybox image');
  // The hub's KubeSpawner reads the cluster from KUBECONFIG; the spawner is this checkout's.
  process.env.KUBECONFIG = cluster.kubeconfig;
  process.env.PYTHONPATH = JUPYTER_SOURCE;
  // The companion's port first: the hub's config names it, the companion needs the hub's API.
  const port = await freePort();
  process.env.HS_TEST_COMPANION_URL = `http://127.0.0.1:${port}`;
  hub = await startHub({ config: CONFIG });
  companion = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      spawn: { notebookImage: busybox }
    })
  );
  await companion.listen({ host: '127.0.0.1', port });
});
after(async () => {
  await companion?.close();
  await Promise.all([hub?.stop(), cluster?.stop()]);
});

const hubApi = (method: string, path: string, body?: unknown) =>
  hubRequest(hub, method, path, body);
const spawn = (user: string, options: unknown) => spawnServer(hub, user, options);

const pods = async (user: string) =>
  (await cluster.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: `hs-spawn-${user}` }))
    .items;

describe('the hub enforces the companion spawn options', { timeout: 600_000 }, () => {
  it('refuses a tampered spawn with the companion sentences, starting no pod', async () => {
    const { failed, status, message } = await spawn('alice', {
      image: 'docker.io/library/ubuntu:24.04',
      cpu: 64
    });
    assert.ok(failed, `${status} ${message}`);
    assert.equal(status, 500);
    assert.match(message, /^The server cannot start with these options\./);
    assert.match(message, /The image docker\.io\/library\/ubuntu:24\.04 is not in the catalogue/);
    assert.match(message, /CPU must be between 0\.5 and 2 cores; 64 is outside\./);
    assert.doesNotMatch(message, /Traceback|File "/);
    assert.deepEqual(await pods('alice'), []);
    const model = (await (await hubApi('GET', '/users/alice')).json()) as {
      servers?: Record<string, unknown>;
    };
    assert.deepEqual(model.servers ?? {}, {});
  });

  it('starts a valid spawn with the resources asked for: 0.5 CPU, 1.5 GiB, a MIG slice', async () => {
    const { failed, message } = await spawn('bob', {
      cpu: 0.5,
      memory: 1.5,
      gpu: { mig: '1g.10gb' }
    });
    assert.ok(!failed, message);
    const [pod] = await pods('bob');
    const container = pod?.spec?.containers.find(c => c.name === 'notebook');
    assert.ok(container, JSON.stringify(pod?.spec?.containers.map(c => c.name)));
    assert.equal(container.image, busybox);
    const { requests = {}, limits = {} } = container.resources ?? {};
    const q = (v: unknown) => parseQuantity(v === undefined ? undefined : String(v));
    assert.equal(q(limits.cpu), 0.5);
    // The operator's guarantee (0.1) below the choice; the memory guarantee (4G) capped at it.
    assert.equal(q(requests.cpu), 0.1);
    assert.equal(q(limits.memory), 1.5 * 1024 ** 3);
    assert.equal(q(requests.memory), 1.5 * 1024 ** 3);
    assert.equal(q(limits['nvidia.com/mig-1g.10gb']), 1);
    assert.equal(pod?.spec?.nodeSelector?.['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB');

    // The check that let it start remembered its options (kubespawner#917).
    const token = (await hub.createToken('bob')).token;
    const last = await companion.inject({
      url: '/api/v1/spawn/servers/-/last',
      headers: { authorization: `token ${token}` }
    });
    assert.equal(last.statusCode, 200, last.body);
    assert.deepEqual(last.json().request, {
      server: '',
      image: busybox,
      cpu: 0.5,
      memory: 1.5,
      gpu: { mig: '1g.10gb' },
      home: 'keep',
      volumes: []
    });
    const stopped = await hubApi('DELETE', '/users/bob/server');
    assert.ok([202, 204].includes(stopped.status), `stop: ${stopped.status}`);
  });
});
