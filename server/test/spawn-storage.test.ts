/**
 * Storage done for real (issue #15, item 3): the seeds' example on a real hub, KubeSpawner and the
 * test cluster's real node. The "restricted" group (students) gets its own home and the shared
 * volume read-only; the "full access" group (teachers) gets the shared volume read-write and every
 * user's home. Enforced by what is mounted: each pod says what it can do with what it got (its
 * probe in fixtures/spawn/storage_hub.py), and a student who asks for the homes is refused by the
 * hub before any pod exists. The companion makes each namespace's claims, bound to one
 * PersistentVolume per namespace on the same folder of the node.
 *
 * A fresh home on the same hub: Kubernetes keeps a claim while any pod names it, a finished job's
 * too, so the spawner deletes the finished ones with the home, refuses while one still runs, and
 * finishes a deletion an earlier fresh home left behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { hubRequest, spawnServer, stopServer } from './helpers/spawn.js';

const run = promisify(execFile);
const IMAGES = fileURLToPath(new URL('../../dev/node/images.sh', import.meta.url));
const CONFIG = fileURLToPath(new URL('./fixtures/spawn/storage_hub.py', import.meta.url));
const JUPYTER_SOURCE = fileURLToPath(new URL('../../jupyter', import.meta.url));
const PREFIX = 'hs-store-';

let cluster: ITestCluster;
let hub: IHub;
let companion: FastifyInstance;
let shared: string;
let homes: string;

/** A folder the pods' user (1000:100) owns, as dev/start.sh makes the shared one. */
function podFolder(path: string): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, 1000, 100);
  chmodSync(path, 0o2775);
  return path;
}

before(async () => {
  const built = run('bash', [IMAGES, 'busybox'], { maxBuffer: 4 << 20 });
  cluster = await startCluster({ realNode: true });
  const busybox = (await built).stdout.match(/^busybox=(.+)$/m)?.[1] ?? '';
  assert.ok(busybox, 'dev/node/images.sh printed no busybox image');
  const root = mkdtempSync(join(tmpdir(), 'hs-storage-'));
  chmodSync(root, 0o755);
  shared = podFolder(join(root, 'shared'));
  writeFileSync(join(shared, 'syllabus.txt'), 'week 1\n');
  homes = podFolder(join(root, 'homes'));
  podFolder(join(homes, 'hs-store-carol', 'claim-carol'));
  writeFileSync(join(homes, 'hs-store-carol', 'claim-carol', 'thesis.ipynb'), '{}\n');

  process.env.KUBECONFIG = cluster.kubeconfig;
  process.env.PYTHONPATH = JUPYTER_SOURCE;
  const port = await freePort();
  process.env.HS_TEST_COMPANION_URL = `http://127.0.0.1:${port}`;
  hub = await startHub({ config: CONFIG });
  // bob is the "full access" group's; alice is a student (test/fixtures/jupyterhub_config.py).
  const made = await hubApi('POST', '/groups/teachers', { users: ['bob'] });
  assert.ok([201, 409].includes(made.status), `teachers group: ${made.status}`);
  companion = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: cluster.kubeconfig, tenancy: { namespacePrefix: PREFIX } },
      spawn: {
        notebookImage: busybox,
        volumes: [
          {
            name: 'shared',
            label: 'Shared course files',
            mountPath: '/home/jovyan/shared',
            claimName: 'shared',
            source: { hostPath: { path: shared } }
          },
          {
            name: 'homes',
            label: "Everyone's homes",
            mountPath: '/home/jovyan/homes',
            claimName: 'all-homes',
            source: { hostPath: { path: homes } }
          }
        ],
        groups: {
          students: { volumes: { shared: 'ro' } },
          teachers: { volumes: { shared: 'rw', homes: 'rw' } }
        }
      }
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

/** Starts `user`'s default server with `options`; its refusal message, or '' once it is ready. */
const spawn = async (user: string, options: unknown) =>
  (await spawnServer(hub, user, options, 120)).message;

const core = () => cluster.kc.makeApiClient(CoreV1Api);

/** The probe lines of the user's pod: "<folder> absent|read-only|writable" and "<folder> has <path>". */
async function probe(user: string): Promise<string[]> {
  const log = await core().readNamespacedPodLog({
    name: `jupyter-${user}`,
    namespace: `${PREFIX}${user}`,
    container: 'notebook'
  });
  return String(log)
    .split('\n')
    .filter(l => l.startsWith('probe '))
    .map(l => l.slice('probe '.length));
}

describe('shared volumes mounted per group, enforced by the mounts', { timeout: 600_000 }, () => {
  it('a student asking for everyone’s homes is refused by the hub, and no pod starts', async () => {
    const message = await spawn('alice', { volumes: ['shared', 'homes'] });
    assert.match(message, /There is no volume "homes" you may mount\./);
    const pods = await core().listNamespacedPod({ namespace: `${PREFIX}alice` });
    assert.deepEqual(
      pods.items.map(p => p.metadata?.name),
      []
    );
  });

  it('a student gets the shared volume read-only, and no homes', async () => {
    assert.equal(await spawn('alice', { volumes: ['shared'] }), '');
    const lines = await probe('alice');
    assert.deepEqual(lines, [
      '/home/jovyan/shared read-only',
      '/home/jovyan/shared has /home/jovyan/shared/syllabus.txt',
      '/home/jovyan/homes absent'
    ]);
    // Read-only twice over: the claim's volume source and the mount.
    const pod = await core().readNamespacedPod({
      name: 'jupyter-alice',
      namespace: `${PREFIX}alice`
    });
    const volume = pod.spec?.volumes?.find(v => v.persistentVolumeClaim?.claimName === 'shared');
    assert.equal(volume?.persistentVolumeClaim?.readOnly, true);
    const mount = pod.spec?.containers[0].volumeMounts?.find(m => m.name === volume?.name);
    assert.equal(mount?.readOnly, true);
    // The claim is bound to a volume of its own namespace, on the shared folder.
    const claim = await core().readNamespacedPersistentVolumeClaim({
      name: 'shared',
      namespace: `${PREFIX}alice`
    });
    assert.equal(claim.status?.phase, 'Bound');
    const pv = await core().readPersistentVolume({ name: claim.spec?.volumeName ?? '' });
    assert.equal(pv.spec?.hostPath?.path, shared);
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Retain');
    assert.deepEqual(pv.spec?.claimRef?.namespace, `${PREFIX}alice`);
  });

  it('a teacher writes to the shared volume and sees every home', async () => {
    assert.equal(await spawn('bob', { volumes: ['shared', 'homes'] }), '');
    const lines = await probe('bob');
    assert.ok(lines.includes('/home/jovyan/shared writable'), lines.join('\n'));
    assert.ok(lines.includes('/home/jovyan/homes writable'), lines.join('\n'));
    assert.ok(
      lines.includes(
        '/home/jovyan/homes has /home/jovyan/homes/hs-store-carol/claim-carol/thesis.ipynb'
      ),
      lines.join('\n')
    );
    // What bob wrote is in the one shared folder the student reads; the student wrote nothing.
    assert.deepEqual(readdirSync(shared).sort(), ['syllabus.txt', 'written-by-bob']);
  });
});

describe('a fresh home', { timeout: 600_000 }, () => {
  const USER = 'carol';
  const namespace = `${PREFIX}${USER}`;
  const claim = `claim-${USER}`;

  /** What the pod's home held when it started ("home has <name>" lines of its probe). */
  async function homeHolds(): Promise<string[]> {
    const log = await core().readNamespacedPodLog({
      name: `jupyter-${USER}`,
      namespace,
      container: 'notebook'
    });
    return String(log)
      .split('\n')
      .filter(l => l.startsWith('home has '))
      .map(l => l.slice('home has '.length));
  }

  /** carol's server running with her home kept; her pod, to model other pods on. */
  async function running(): Promise<V1Pod> {
    const model = (await (await hubApi('GET', `/users/${USER}`)).json()) as {
      servers?: Record<string, { ready: boolean }>;
    };
    if (!model.servers?.['']?.ready) assert.equal(await spawn(USER, {}), '');
    return core().readNamespacedPod({ name: `jupyter-${USER}`, namespace });
  }

  /** A pod of carol's that mounts her home (as a job's does) and runs `script`, until `phase`. */
  async function podOnHome(server: V1Pod, name: string, script: string, phase: string) {
    const spec = server.spec!;
    await core().createNamespacedPod({
      namespace,
      body: {
        metadata: { name },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: spec.nodeSelector,
          tolerations: spec.tolerations,
          securityContext: spec.securityContext,
          containers: [
            {
              name: 'job',
              image: spec.containers[0].image,
              command: ['sh', '-c', script],
              volumeMounts: [{ name: 'home', mountPath: '/home/jovyan' }]
            }
          ],
          volumes: [{ name: 'home', persistentVolumeClaim: { claimName: claim } }]
        }
      }
    });
    const until = Date.now() + 90_000;
    for (;;) {
      const pod = await core().readNamespacedPod({ name, namespace });
      if (pod.status?.phase === phase) return;
      assert.notEqual(pod.status?.phase, 'Failed', `${name} failed`);
      assert.ok(Date.now() < until, `${name} not ${phase} within 90 s: ${pod.status?.phase}`);
      await new Promise(r => setTimeout(r, 500));
    }
  }

  const gone = async (name: string) =>
    core()
      .readNamespacedPod({ name, namespace })
      .then(
        () => false,
        (err: { code?: number }) => err.code === 404
      );

  it('deletes the finished pods that still name the old home, and starts empty', async () => {
    const server = await running();
    await podOnHome(server, 'wrote-old', 'echo old > /home/jovyan/old.txt', 'Succeeded');
    await stopServer(hub, USER);
    assert.equal(await spawn(USER, {}), '');
    assert.ok((await homeHolds()).includes('old.txt'), 'a kept home keeps what was written');
    await stopServer(hub, USER);

    assert.equal(await spawn(USER, { home: 'fresh', confirmHome: USER }), '');
    assert.ok(!(await homeHolds()).includes('old.txt'), (await homeHolds()).join(', '));
    assert.ok(await gone('wrote-old'), 'the finished pod on the old home is left');
  });

  it('refuses while a running pod uses the home, deleting nothing', async () => {
    const server = await running();
    await podOnHome(server, 'still-running', 'sleep 600', 'Running');
    await stopServer(hub, USER);
    try {
      const { failed, status, message } = await spawnServer(hub, USER, {
        home: 'fresh',
        confirmHome: USER
      });
      assert.ok(failed, `${status} ${message}`);
      assert.match(message, /Your home is still in use by still-running\. Stop that first/);
      const kept = await core().readNamespacedPersistentVolumeClaim({ name: claim, namespace });
      assert.equal(kept.metadata?.deletionTimestamp, undefined);
      assert.ok(!(await gone('still-running')), 'the running pod was deleted');
    } finally {
      await core().deleteNamespacedPod({ name: 'still-running', namespace, gracePeriodSeconds: 0 });
    }
  });

  it('finishes deleting a home an earlier fresh home left behind before the next start', async () => {
    const server = await running();
    await podOnHome(server, 'wrote-again', 'echo x > /home/jovyan/again.txt', 'Succeeded');
    await stopServer(hub, USER);
    // As a fresh home that gave up after its minute leaves it: deleted, held by a finished pod.
    await core().deleteNamespacedPersistentVolumeClaim({ name: claim, namespace });
    const held = await core().readNamespacedPersistentVolumeClaim({ name: claim, namespace });
    assert.ok(held.metadata?.deletionTimestamp, 'the claim is not held');

    assert.equal(await spawn(USER, {}), '');
    assert.ok(!(await homeHolds()).includes('again.txt'), (await homeHolds()).join(', '));
    assert.ok(await gone('wrote-again'));
  });
});
