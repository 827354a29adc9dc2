/**
 * My own images on the spawn page (issue #15, item 2): a user's images in the registry under
 * spawn.userImages.repository (where the image builder pushes) join the user's catalogue as
 * "My images", dated tags newest first, and only theirs: another user neither sees them nor may
 * start them. A registry of this test's own (dev/node/registry.sh on a free port), images pushed
 * through the distribution API; a tag pushed later shows after the next refresh.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { SpawnOptions } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { build, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';

const run = promisify(execFile);
const REGISTRY_SH = fileURLToPath(new URL('../../dev/node/registry.sh', import.meta.url));
const CONFIG = fileURLToPath(new URL('./fixtures/spawn/options_hub.py', import.meta.url));
const NOTEBOOK = '127.0.0.1:5000/hotstepper/notebook:3f2a9c1d';

let hub: IHub;
let dir = '';
let env: NodeJS.ProcessEnv = {};
let registry = '';
const tokens: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'user-images-'));
  env = {
    ...process.env,
    HOTSTEPPER_REGISTRY_PORT: String(await freePort()),
    HOTSTEPPER_REGISTRY_DIR: join(dir, 'registry')
  };
  registry = (await run('bash', [REGISTRY_SH, 'ensure'], { env, timeout: 30_000 })).stdout.trim();
  hub = await startHub({ config: CONFIG });
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await hub?.stop();
  if (dir) {
    await run('bash', [REGISTRY_SH, 'stop'], { env, timeout: 30_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

const digest = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

async function putBlob(repo: string, body: Buffer): Promise<string> {
  const sum = digest(body);
  const start = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, await start.text());
  const location = new URL(start.headers.get('location')!, `http://${registry}`);
  location.searchParams.set('digest', sum);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body
  });
  assert.equal(put.status, 201, await put.text());
  return sum;
}

/** An image with no layers whose config says when it was built, as repo:tag. */
async function pushImage(repo: string, tag: string, created: string): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({
      created,
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {}
    })
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await putBlob(repo, config),
        size: config.length
      },
      layers: []
    })
  );
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest
  });
  assert.equal(res.status, 201, await res.text());
}

async function app(t: Parameters<typeof build>[0]): Promise<FastifyInstance> {
  return build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      spawn: {
        notebookImage: NOTEBOOK,
        userImages: {
          registry: `http://${registry}`,
          repository: 'hotstepper/users/{namespace}',
          refreshSeconds: 1
        }
      }
    })
  );
}

async function options(server: FastifyInstance, user: string): Promise<SpawnOptions> {
  const res = await server.inject({
    url: '/api/v1/spawn/options',
    headers: { authorization: `token ${tokens[user]}` }
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as SpawnOptions;
}

/** Polls the user's options until `ok` holds, for a few refreshes. */
async function until(
  server: FastifyInstance,
  user: string,
  ok: (o: SpawnOptions) => boolean
): Promise<SpawnOptions> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const o = await options(server, user);
    if (ok(o)) return o;
    assert.ok(Date.now() < deadline, JSON.stringify(o.images));
    await new Promise(r => setTimeout(r, 250));
  }
}

describe('my own images', { timeout: 120_000 }, () => {
  it("lists a user's images as My images, newest tag first, to that user only", async t => {
    // bob's namespace under the test config's prefix is hs-bob.
    await pushImage('hotstepper/users/hs-bob/rstats', '20261101-aaaa', '2026-11-01T08:00:00Z');
    await pushImage('hotstepper/users/hs-bob/rstats', '20261205-bbbb', '2026-12-05T08:00:00Z');
    await pushImage('hotstepper/users/hs-alice/other', '1', '2026-12-01T08:00:00Z');
    await pushImage('hotstepper/shared-but-not-users', '1', '2026-12-01T08:00:00Z');
    const server = await app(t);
    const mine = await until(server, 'bob', o => o.images.some(i => i.category === 'My images'));
    // The catalogue's own image stays first: a plain spawn still gets it.
    assert.equal(mine.images[0].name, '127.0.0.1:5000/hotstepper/notebook');
    assert.deepEqual(
      mine.images.filter(i => i.category === 'My images'),
      [
        {
          name: `${registry}/hotstepper/users/hs-bob/rstats`,
          description: 'Your own image',
          category: 'My images',
          keywords: ['rstats'],
          tags: [
            { tag: '20261205-bbbb', date: '2026-12-05' },
            { tag: '20261101-aaaa', date: '2026-11-01' }
          ]
        }
      ]
    );
    const alice = await options(server, 'alice');
    assert.deepEqual(
      alice.images.filter(i => i.category === 'My images').map(i => i.name),
      [`${registry}/hotstepper/users/hs-alice/other`]
    );

    // bob may start his own image; alice may not (custom images are off).
    const check = (user: string) =>
      server.inject({
        method: 'POST',
        url: '/api/v1/spawn/check',
        headers: { authorization: `token ${tokens[user]}` },
        payload: { image: `${registry}/hotstepper/users/hs-bob/rstats:20261101-aaaa` }
      });
    const ok = await check('bob');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().pod.image, `${registry}/hotstepper/users/hs-bob/rstats:20261101-aaaa`);
    const refused = await check('alice');
    assert.equal(refused.statusCode, 422, refused.body);
    assert.match(refused.json().detail, /is not in the catalogue/);
  });

  it('shows a tag pushed later after the next refresh', async t => {
    await pushImage('hotstepper/users/hs-bob/later', 'v1', '2026-12-06T08:00:00Z');
    const server = await app(t);
    const has = (o: SpawnOptions, tag: string) =>
      o.images.some(i => i.name.endsWith('/hs-bob/later') && i.tags.some(x => x.tag === tag));
    await until(server, 'bob', o => has(o, 'v1'));
    await pushImage('hotstepper/users/hs-bob/later', 'v2', '2026-12-07T08:00:00Z');
    const o = await until(server, 'bob', x => has(x, 'v2'));
    const later = o.images.find(i => i.name.endsWith('/hs-bob/later'));
    assert.deepEqual(
      later?.tags.map(x => x.tag),
      ['v2', 'v1']
    );
  });
});
