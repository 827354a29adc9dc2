/**
 * Spawn options (issue #15, item 1): the options schema the companion owns, resolved per hub group,
 * and the check the hub's spawner asks before any start, against a real JupyterHub: each bad input
 * answers 422 naming the field in a sentence, a good one the pod settings, and a spawn that passes
 * is remembered as its server's last options, for its owner only.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Problem, SpawnCheck, SpawnOptions } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { build, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { createSpawnService } from '../src/features/spawn/service.js';
import { validateConfig } from '../src/platform/config.js';
import type { ITenancy } from '../src/platform/kubernetes/tenancy.js';
import type { Overrides } from './helpers/build.js';

const CONFIG = fileURLToPath(new URL('./fixtures/spawn/options_hub.py', import.meta.url));
const NOTEBOOK = '127.0.0.1:5000/hotstepper/notebook:3f2a9c1d';

let hub: IHub;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub({ config: CONFIG });
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => hub?.stop());

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function config(spawn: Overrides['spawn'] = {}) {
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    spawn: { notebookImage: NOTEBOOK, ...spawn }
  });
}

async function check(app: FastifyInstance, user: string, payload: unknown) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/spawn/check',
    headers: as(user),
    payload: payload as object
  });
  return { status: res.statusCode, body: res.json() as SpawnCheck & Problem };
}

/** The one field error of a 422, by path. */
async function refused(app: FastifyInstance, payload: unknown, path: string, user = 'alice') {
  const { status, body } = await check(app, user, payload);
  assert.equal(status, 422, JSON.stringify(body));
  assert.equal(body.code, 'spawn_refused');
  const error = body.errors?.find(e => e.path === path);
  assert.ok(error, `no error at ${path}: ${JSON.stringify(body.errors)}`);
  assert.doesNotMatch(error.message, /must match|instancePath|undefined|NaN/);
  assert.ok(body.detail.includes(error.message), body.detail);
  return error.message;
}

describe('spawn options', () => {
  it('resolves per hub group: a student reads the shared volume, a teacher writes it, others do not see it', async t => {
    const app = await build(t, config());
    const get = async (user: string) => {
      const res = await app.inject({ url: '/api/v1/spawn/options', headers: as(user) });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as SpawnOptions;
    };
    const [alice, bob, carol] = [await get('alice'), await get('bob'), await get('carol')];
    assert.deepEqual(alice.storage.volumes, [
      {
        name: 'shared',
        label: 'Shared course files',
        mountPath: '/home/jovyan/shared',
        access: 'ro'
      }
    ]);
    assert.equal(bob.storage.volumes[0]?.access, 'rw');
    assert.deepEqual(carol.storage.volumes, []);
    // The local platform's defaults: its notebook image, the real node's simulated GPUs.
    assert.deepEqual(alice.images, [
      {
        name: '127.0.0.1:5000/hotstepper/notebook',
        description: "The platform's notebook image: JupyterLab with the Hotstepper extensions",
        category: 'Python',
        keywords: ['python', 'jupyterlab'],
        tags: [{ tag: '3f2a9c1d' }]
      }
    ]);
    assert.deepEqual(alice.cpu, { min: 0.5, max: 2, step: 0.5, default: 1 });
    assert.deepEqual(alice.memory, { min: 1, max: 4, step: 0.5, default: 1 });
    assert.deepEqual(alice.gpus, [
      {
        model: 'NVIDIA-A100-SXM4-80GB',
        label: 'NVIDIA A100 80 GB (simulated)',
        migProfiles: ['1g.10gb'],
        whole: true,
        simulated: true
      }
    ]);
    assert.deepEqual(alice.customImages, { allowed: false, pattern: '(?!)' });
    assert.equal(alice.maxServers, 2);
    assert.deepEqual(alice.defaults, {
      image: NOTEBOOK,
      cpu: 1,
      memory: 1,
      home: 'keep',
      volumes: []
    });
  });

  it('gives a user in several groups the most permissive of each key', async t => {
    const app = await build(
      t,
      config({
        groups: {
          students: { volumes: { shared: 'ro' }, cpu: { max: 4 }, maxServers: 3 },
          teachers: { volumes: { shared: 'rw' }, customImages: { allowed: true, pattern: 'x/.*' } }
        }
      })
    );
    const both = createSpawnService({
      db: app.database.db,
      config: app.config.spawn,
      activeServers: async () => [],
      log: app.log
    });
    const options = await both.options({
      name: 'dora',
      groups: ['students', 'teachers'],
      admin: false
    });
    assert.equal(options.storage.volumes[0]?.access, 'rw');
    assert.equal(options.cpu.max, 4);
    assert.equal(options.maxServers, 3);
    assert.deepEqual(options.customImages, { allowed: true, pattern: 'x/.*' });
  });
});

describe('spawn presets', () => {
  const names = (options: SpawnOptions) => options.presets.map(p => p.name);
  const get = async (app: FastifyInstance, user: string) => {
    const res = await app.inject({ url: '/api/v1/spawn/options', headers: as(user) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as SpawnOptions;
  };

  it("offers each user the presets of their groups, with the platform's defaults", async t => {
    assert.deepEqual(names(await get(await build(t, config()), 'carol')), ['light', 'gpu-slice']);
    const course = {
      name: 'course',
      label: 'Course work',
      description: 'One core, 2 GiB and the shared course files',
      groups: ['students', 'teachers'],
      request: { cpu: 1, memory: 2, volumes: ['shared'] }
    };
    const app = await build(
      t,
      config({ presets: [course, { name: 'x', label: 'X', request: { memory: 2 } }] })
    );
    const alice = await get(app, 'alice');
    assert.deepEqual(names(alice), ['course', 'x']);
    assert.deepEqual(alice.presets[0], {
      name: 'course',
      label: 'Course work',
      description: 'One core, 2 GiB and the shared course files',
      // home: SpawnRequest's default, which the response states like every other default.
      request: { cpu: 1, memory: 2, volumes: ['shared'], home: 'keep' }
    });
    // carol is in no group: the course preset is for students and teachers.
    assert.deepEqual(names(await get(app, 'carol')), ['x']);
  });

  it("leaves out a preset whose choices the user's options do not allow", async t => {
    const preset = (name: string, request: object, groups: string[] = []) => ({
      name,
      label: name,
      request,
      groups
    });
    const app = await build(
      t,
      config({
        presets: [
          preset('big', { cpu: 8 }),
          preset('big-for-students', { cpu: 4 }, ['students']),
          preset('h100', { gpu: { model: 'H100' } }),
          preset('shared', { volumes: ['shared'] }),
          preset('other-image', { image: 'elsewhere/image:1' })
        ],
        groups: { students: { cpu: { max: 4 }, volumes: { shared: 'ro' } } }
      })
    );
    // alice (students) may ask for 4 cores and mount the shared files; nobody may have 8 cores,
    // a GPU model the platform lacks, or an image outside the catalogue.
    assert.deepEqual(names(await get(app, 'alice')), ['big-for-students', 'shared']);
    assert.deepEqual(names(await get(app, 'carol')), []);
  });

  it('refuses a configuration whose presets repeat a name or name a missing volume', () => {
    const bad = () =>
      validateConfig({
        spawn: {
          presets: [
            { name: 'a', label: 'A', request: { cpu: 1 } },
            { name: 'a', label: 'A again', request: { volumes: ['nowhere'] } }
          ]
        }
      });
    assert.throws(bad, (err: Error) => {
      assert.match(err.message, /spawn\.presets\[1\]\.name: is used twice/);
      assert.match(err.message, /spawn\.presets\[1\]\.request\.volumes: names no volume nowhere/);
      return true;
    });
  });
});

describe('spawn check', () => {
  it('resolves a valid request into pod settings', async t => {
    const app = await build(t, config());
    const { status, body } = await check(app, 'bob', {
      image: NOTEBOOK,
      cpu: 0.5,
      memory: 1.5,
      gpu: { mig: '1g.10gb' },
      volumes: ['shared']
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.pod, {
      image: NOTEBOOK,
      cpu: 0.5,
      memoryBytes: 1.5 * 1024 ** 3,
      extraResourceLimits: { 'nvidia.com/mig-1g.10gb': '1' },
      nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' },
      volumes: [
        { name: 'shared', claimName: 'shared', mountPath: '/home/jovyan/shared', readOnly: false }
      ],
      freshHome: false
    });
    assert.equal(body.request.home, 'keep');
  });

  it('takes an empty request as a plain spawn with every default', async t => {
    const app = await build(t, config());
    const { status, body } = await check(app, 'alice', {});
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.pod.image, NOTEBOOK);
    assert.equal(body.pod.cpu, 1);
    assert.equal(body.pod.memoryBytes, 1024 ** 3);
    assert.deepEqual(body.pod.extraResourceLimits, {});
    assert.deepEqual(body.pod.volumes, []);
    const shared = await check(app, 'alice', { volumes: ['shared'] });
    assert.equal(shared.body.pod.volumes[0]?.readOnly, true);
  });

  it('refuses an image outside the catalogue when custom images are off', async t => {
    const app = await build(t, config());
    const message = await refused(app, { image: 'docker.io/library/ubuntu:24.04' }, '/image');
    assert.match(message, /not in the catalogue.*does not allow custom images/);
    assert.match(await refused(app, { image: `${NOTEBOOK}x` }, '/image'), /has no tag "3f2a9c1dx"/);
  });

  it('refuses a custom image that does not match the pattern, and takes one that does', async t => {
    const app = await build(
      t,
      config({ customImages: { allowed: true, pattern: 'registry\\.example\\.org/.+' } })
    );
    const message = await refused(app, { image: 'docker.io/evil/miner:1' }, '/image');
    assert.match(message, /does not match what the operators allow/);
    const ok = await check(app, 'alice', { image: 'registry.example.org/mine:1' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('refuses CPU and memory out of range or off the step, naming both', async t => {
    const app = await build(t, config());
    const { status, body } = await check(app, 'alice', { cpu: 64, memory: 1.25 });
    assert.equal(status, 422);
    assert.deepEqual(
      body.errors?.map(e => e.path),
      ['/cpu', '/memory']
    );
    assert.equal(body.errors?.[0]?.message, 'CPU must be between 0.5 and 2 cores; 64 is outside.');
    assert.equal(
      body.errors?.[1]?.message,
      'Memory goes in steps of 0.5 GiB from 1; choose 1 or 1.5 instead of 1.25.'
    );
  });

  it('refuses CPU or memory over what the namespace quota has left', async t => {
    const app = await build(t, config());
    const tenancy = {
      describe: async () => ({
        namespace: 'hs-alice',
        quota: {
          hard: {
            'requests.cpu': '2',
            'requests.memory': '4Gi',
            'requests.nvidia.com/mig-1g.10gb': '2'
          },
          used: {
            'requests.cpu': '1500m',
            'requests.memory': '3Gi',
            'requests.nvidia.com/mig-1g.10gb': '1'
          }
        }
      })
    } as unknown as ITenancy;
    const service = createSpawnService({
      db: app.database.db,
      config: app.config.spawn,
      tenancy,
      activeServers: async () => [],
      log: app.log
    });
    const user = { name: 'alice', groups: ['students'], admin: false };
    await assert.rejects(service.check(user, { cpu: 1, memory: 1.5 }), (err: Problem) => {
      assert.equal(err.status ?? (err as unknown as { statusCode: number }).statusCode, 422);
      const paths = err.errors?.map(e => e.path);
      assert.deepEqual(paths, ['/cpu', '/memory']);
      assert.match(
        err.errors?.[0]?.message ?? '',
        /more than your namespace quota has left \(0\.5 cores\)/
      );
      return true;
    });
    assert.deepEqual((await service.options(user)).quota, {
      cpu: 0.5,
      memory: 1,
      gpus: { 'nvidia.com/mig-1g.10gb': 1 }
    });
  });

  it('refuses a GPU model or MIG profile that does not exist', async t => {
    const app = await build(t, config());
    assert.match(
      await refused(app, { gpu: { model: 'NVIDIA-H100' } }, '/gpu/model'),
      /no GPU model "NVIDIA-H100".*NVIDIA-A100-SXM4-80GB/
    );
    assert.match(
      await refused(app, { gpu: { mig: '7g.80gb' } }, '/gpu/mig'),
      /no MIG profile "7g.80gb".*1g.10gb/
    );
  });

  it('refuses a fresh home without the typed confirmation', async t => {
    const app = await build(t, config());
    assert.match(
      await refused(app, { home: 'fresh' }, '/confirmHome'),
      /deletes everything in the home of your default server.*type "alice"/
    );
    await refused(app, { server: 'gpu', home: 'fresh', confirmHome: 'alice' }, '/confirmHome');
    const ok = await check(app, 'alice', { server: 'gpu', home: 'fresh', confirmHome: 'gpu' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.pod.freshHome, true);
  });

  it('refuses a volume the user may not mount', async t => {
    const app = await build(t, config());
    await refused(app, { volumes: ['shared'] }, '/volumes', 'carol');
  });

  it('refuses more servers than allowed, not counting the one being started', async t => {
    const app = await build(t, config());
    const running = ['', 'one'];
    const service = createSpawnService({
      db: app.database.db,
      config: app.config.spawn,
      activeServers: async () => running,
      log: app.log
    });
    const user = { name: 'alice', groups: [], admin: false };
    await assert.rejects(service.check(user, { server: 'two' }), (err: Problem) => {
      assert.equal(
        err.errors?.[0]?.message,
        'You run 2 servers already, the most you may run at once (2); stop one before ' +
          'starting server "two".'
      );
      return true;
    });
    // Restarting one of them is not one more.
    assert.equal((await service.check(user, { server: 'one' })).ok, true);
  });

  it('answers 400 to bodies that are not a spawn request', async t => {
    const app = await build(t, config());
    for (const payload of [
      { cpu: 'lots' },
      { image: 'has spaces:1' },
      { gpu: { model: 'A', mig: '1g.10gb' } },
      { home: 'wipe' },
      { volumes: 'shared' },
      { server: '../etc' },
      { profile: 'gpu' },
      [1, 2]
    ]) {
      const { status, body } = await check(app, 'alice', payload);
      assert.equal(status, 400, `${JSON.stringify(payload)}: ${JSON.stringify(body)}`);
      assert.equal(body.code, 'validation_failed');
    }
    const res = await app.inject({ url: '/api/v1/spawn/options' });
    assert.equal(res.statusCode, 401);
  });
});

describe('last options', () => {
  it('remembers each named server of its owner when the spawner checks, never a fresh home', async t => {
    const app = await build(t, config());
    const last = (user: string, name: string) =>
      app.inject({ url: `/api/v1/spawn/servers/${name}/last`, headers: as(user) });
    assert.equal((await last('alice', 'gpu')).statusCode, 404);
    // A check without spawning (the page's) is not remembered.
    assert.equal((await check(app, 'alice', { server: 'gpu', cpu: 2 })).status, 200);
    assert.equal((await last('alice', 'gpu')).statusCode, 404);
    const spawn = {
      server: 'gpu',
      cpu: 2,
      gpu: { model: 'NVIDIA-A100-SXM4-80GB' },
      home: 'fresh',
      confirmHome: 'gpu',
      spawning: true
    };
    assert.equal((await check(app, 'alice', spawn)).status, 200);
    assert.equal((await check(app, 'alice', { cpu: 0.5, spawning: true })).status, 200);
    const gpu = await last('alice', 'gpu');
    assert.equal(gpu.statusCode, 200, gpu.body);
    const body = gpu.json();
    assert.deepEqual(body.request, {
      server: 'gpu',
      image: NOTEBOOK,
      cpu: 2,
      memory: 1,
      gpu: { model: 'NVIDIA-A100-SXM4-80GB' },
      home: 'keep',
      volumes: []
    });
    assert.ok(!Number.isNaN(Date.parse(body.startedAt)));
    // The default server is "-" in the path.
    const plain = await last('alice', '-');
    assert.equal(plain.json().request.cpu, 0.5);
    assert.equal(plain.json().server, '');
    // Another user's server: as if it did not exist.
    const foreign = await last('bob', 'gpu');
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, 'not_found');
    // A refused spawn leaves the last options as they were.
    assert.equal(
      (await check(app, 'alice', { server: 'gpu', cpu: 64, spawning: true })).status,
      422
    );
    assert.equal((await last('alice', 'gpu')).json().request.cpu, 2);
  });
});
