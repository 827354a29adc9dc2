// The platform's registry with its disk full (issue #22): a push fails with one line that says why
// and what to do, what the registry already holds keeps being served, and once space is freed the
// same command pushes. A second registry for this test only, its storage on a small tmpfs; the
// machine's registry (port 5000) is never touched.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from './helpers/ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGES = join(ROOT, 'dev/node/images.sh');
const REGISTRY_SH = join(ROOT, 'dev/node/registry.sh');

interface IRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, or kills its process group after `seconds`. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, seconds: number): Promise<IRun> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone already */
      }
      fail(new Error(`${cmd} ${args.join(' ')} took over ${seconds} s\n${stderr}`));
    }, seconds * 1000);
    child.once('error', fail);
    child.once('close', code => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const MANIFEST_TYPES =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

function sha256(bytes: Buffer): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

async function get(url: string): Promise<{ status: number; body: Buffer; digest: string | null }> {
  const res = await fetch(url, {
    headers: { Accept: MANIFEST_TYPES },
    signal: AbortSignal.timeout(10_000)
  });
  return {
    status: res.status,
    body: Buffer.from(await res.arrayBuffer()),
    digest: res.headers.get('docker-content-digest')
  };
}

function refOf(out: string, name: string): string {
  const line = out.split('\n').find(l => l.startsWith(`${name}=`));
  assert.ok(line, `no ${name}= line in: ${out}`);
  return line.slice(name.length + 1);
}

describe('the registry with its disk full', { timeout: 300_000 }, () => {
  let dir = '';
  let storage = '';
  let mounted = false;
  let env: NodeJS.ProcessEnv = {};
  let addr = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'registry-full-'));
    storage = join(dir, 'registry', 'storage');
    mkdirSync(storage, { recursive: true });
    // 4 MiB: busybox (about 1 MB compressed) fits with room to spare, then a filler takes the rest.
    const m = await run(
      'mount',
      ['-t', 'tmpfs', '-o', 'size=4096k', 'tmpfs', storage],
      process.env,
      20
    );
    assert.equal(m.code, 0, m.stderr);
    mounted = true;
    const port = await freePort();
    addr = `127.0.0.1:${port}`;
    env = {
      ...process.env,
      HOTSTEPPER_REGISTRY_PORT: String(port),
      HOTSTEPPER_REGISTRY_DIR: join(dir, 'registry')
    };
  });

  after(async () => {
    if (dir) await run('bash', [REGISTRY_SH, 'stop'], env, 30).catch(() => undefined);
    if (mounted) {
      const u = await run('umount', [storage], process.env, 30);
      if (u.code !== 0) await run('umount', ['-l', storage], process.env, 30);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a push in one line, keeps serving what it has, and takes the push once space is freed', async () => {
    // 1. While there is room: busybox goes in.
    const first = await run('bash', [IMAGES, 'busybox'], env, 240);
    assert.equal(first.code, 0, first.stderr);
    const busybox = refOf(first.stdout, 'busybox');
    assert.ok(busybox.startsWith(`${addr}/hotstepper/busybox:`), busybox);
    const busyboxTag = busybox.split(':').pop()!;
    const manifestUrl = `http://${addr}/v2/hotstepper/busybox/manifests/${busyboxTag}`;
    const initial = await get(manifestUrl);
    assert.equal(initial.status, 200);
    const manifestDigest = sha256(initial.body);
    assert.equal(initial.digest, manifestDigest);
    const layer: string = JSON.parse(initial.body.toString()).layers[0].digest;

    // 2. The disk fills: a filler takes everything but two pages.
    const { bavail, bsize } = statfsSync(storage);
    const filler = join(storage, 'filler');
    const f = await run('fallocate', ['-l', String((bavail - 2) * bsize), filler], process.env, 20);
    assert.equal(f.code, 0, f.stderr);

    // 3. Another image (pause, a new layer) cannot go in: non-zero, one line that says why.
    const full = await run('bash', [IMAGES, 'pause'], env, 240);
    const output = full.stdout + full.stderr;
    assert.notEqual(full.code, 0, output);
    assert.doesNotMatch(full.stdout, /^pause=/m, 'nothing is reported as built');
    const lines = output.split('\n').filter(l => /could not push/.test(l));
    assert.equal(lines.length, 1, output);
    const [line] = lines;
    assert.match(line, new RegExp(`${addr}/hotstepper/pause:`));
    assert.ok(line.includes(`registry at ${addr}`), line);
    assert.ok(line.includes(storage), line);
    assert.match(line, /out of space/);
    assert.match(line, /free space there, or point HOTSTEPPER_CACHE/);
    assert.doesNotMatch(
      output,
      /goroutine|panic:|\.go:\d+|Internal Server Error|HTTP status/,
      output
    );
    const pause = /could not push (\S+):/.exec(line)![1];
    const pauseTag = pause.split(':').pop()!;
    const pauseUrl = `http://${addr}/v2/hotstepper/pause/manifests/${pauseTag}`;
    assert.notEqual((await get(pauseUrl)).status, 200, 'the failed push left no image');

    // 4. What was there is still served, whole.
    const during = await get(manifestUrl);
    assert.equal(during.status, 200);
    assert.equal(sha256(during.body), manifestDigest);
    const blob = await get(`http://${addr}/v2/hotstepper/busybox/blobs/${layer}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(blob.body), layer);

    // 5. A push that failed half way can leave its tag listed with an empty link (the registry
    // writes the tag's link in place): the next run must not take that for the image.
    const tagDir = join(
      storage,
      'docker/registry/v2/repositories/hotstepper/pause/_manifests/tags',
      pauseTag,
      'current'
    );
    rm(filler);
    mkdirSync(tagDir, { recursive: true });
    writeFileSync(join(tagDir, 'link'), '');
    const listed = await get(`http://${addr}/v2/hotstepper/pause/tags/list`);
    assert.ok(listed.body.toString().includes(pauseTag), 'the broken tag is listed');
    assert.notEqual((await get(pauseUrl)).status, 200);

    // 6. Space freed: the same command pushes.
    const again = await run('bash', [IMAGES, 'pause'], env, 240);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(refOf(again.stdout, 'pause'), pause);
    assert.match(again.stderr, /does not resolve/);
    const pushed = await get(pauseUrl);
    assert.equal(pushed.status, 200);
    assert.equal(pushed.digest, sha256(pushed.body));

    // 7. And busybox is still what it was.
    const afterwards = await get(manifestUrl);
    assert.equal(afterwards.status, 200);
    assert.equal(sha256(afterwards.body), manifestDigest);
  });
});

function rm(path: string): void {
  rmSync(path, { force: true });
}
