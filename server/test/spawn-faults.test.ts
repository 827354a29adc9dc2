/**
 * Spawn faults on the real node (issue #22): a real hub spawning with Hotstepper's KubeSpawner
 * (jupyter/hotstepper/spawner.py) onto the test cluster's real node. A pod whose image cannot be
 * pulled, whose image name is not valid, or whose container exits fails the spawn within seconds
 * with the kubelet's reason, in the hub's progress stream (what the spawn-pending page shows),
 * and leaves no pod behind; never a bare timeout, a traceback or a server path.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';

const run = promisify(execFile);
const IMAGES = fileURLToPath(new URL('../../dev/node/images.sh', import.meta.url));
const CONFIG = fileURLToPath(
  new URL('./fixtures/spawn-faults/jupyterhub_config.py', import.meta.url)
);

const JUPYTER_SOURCE = fileURLToPath(new URL('../../jupyter', import.meta.url));

let cluster: ITestCluster;
let hub: IHub;
let busybox: string;
let missing: string;
const invalid = '127.0.0.1:5000/Hotstepper/Not A Name::x';

before(async () => {
  const built = run('bash', [IMAGES, 'busybox'], { maxBuffer: 4 << 20 });
  cluster = await startCluster({ realNode: true });
  busybox = (await built).stdout.match(/^busybox=(.+)$/m)?.[1] ?? '';
  assert.ok(busybox, 'dev/node/images.sh printed no busybox image');
  // The same repository as busybox, with a tag the registry has never had.
  missing = `${busybox.replace(/:[^:/]+$/, '')}:nope-${Date.now()}`;
  // The hub's KubeSpawner reads the cluster from KUBECONFIG, and each user's pod from the fixture;
  // the spawner is this checkout's (jupyter/hotstepper), ahead of the wheel in the venv.
  process.env.KUBECONFIG = cluster.kubeconfig;
  process.env.PYTHONPATH = JUPYTER_SOURCE;
  process.env.HS_TEST_SPAWNS = JSON.stringify({
    alice: { image: missing },
    bob: { image: busybox, cmd: ['sh', '-c', 'echo boom; exit 1'] },
    carol: { image: invalid },
    // Runs (the pod becomes Running and ready), then exits before it ever serves.
    dave: { image: busybox, cmd: ['sh', '-c', 'echo starting; sleep 4; exit 3'] },
    // Runs and never serves: no server in busybox.
    // A server that answers (busybox's httpd: any HTTP answer is one, as for the hub).
    frank: { image: busybox, cmd: ['sh', '-c', 'exec httpd -f -p 8888 -h /tmp'] },
    erin: {
      image: busybox,
      cmd: ['sh', '-c', 'echo listening nowhere; sleep 600'],
      http_timeout: 8
    }
  });
  hub = await startHub({ config: CONFIG });
});
after(async () => {
  await Promise.all([hub?.stop(), cluster?.stop()]);
});

async function hubApi(method: string, path: string): Promise<Response> {
  return fetch(`${hub.apiUrl}${path}`, {
    method,
    headers: { Authorization: `token ${hub.serviceToken}` }
  });
}

interface IProgress {
  failed?: boolean;
  ready?: boolean;
  message?: string;
  html_message?: string;
}

/**
 * Starts `user`'s server and follows the hub's progress stream (what the spawn-pending page
 * shows) until it ends: the last event (failed or ready), within `seconds`, with every message
 * seen. A spawn that fails within the hub's slow_spawn_timeout fails the POST itself; its
 * message must then be the one the progress stream reports.
 */
async function spawn(user: string, seconds: number) {
  const started = Date.now();
  const res = await hubApi('POST', `/users/${user}/server`);
  let immediate: string | undefined;
  if (res.status !== 202 && res.status !== 201) {
    const body = await res.text();
    assert.equal(res.status, 500, `spawn of ${user}: ${res.status} ${body}`);
    immediate = (JSON.parse(body) as { message: string }).message;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  const messages: string[] = [];
  let last: IProgress | undefined;
  try {
    const stream = await fetch(`${hub.apiUrl}/users/${user}/server/progress`, {
      headers: { Authorization: `token ${hub.serviceToken}` },
      signal: controller.signal
    });
    assert.equal(stream.status, 200);
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .filter(line => line.startsWith('data:'))
          .map(line => line.slice(5))
          .join('\n');
        buffer = buffer.slice(end + 2);
        if (!data.trim()) continue;
        last = JSON.parse(data) as IProgress;
        messages.push(last.message ?? '');
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    assert.fail(
      `the spawn of ${user} did not end within ${seconds} s; messages:\n${messages.join('\n')}`
    );
  } finally {
    clearTimeout(timer);
  }
  if (immediate !== undefined) assert.equal(last?.message, `Spawn failed: ${immediate}`);
  return { last, messages, seconds: (Date.now() - started) / 1000 };
}

/** The hub no longer has the server pending or running, and the user's namespace has no pod. */
async function assertCleanedUp(user: string) {
  const until = Date.now() + 30_000;
  const core = cluster.kc.makeApiClient(CoreV1Api);
  for (;;) {
    const model = (await (await hubApi('GET', `/users/${user}`)).json()) as {
      servers?: Record<string, unknown>;
      pending?: string | null;
    };
    const pods = await core.listNamespacedPod({ namespace: `hs-faults-${user}` });
    const left = pods.items.map(p => p.metadata?.name);
    if (!model.pending && Object.keys(model.servers ?? {}).length === 0 && left.length === 0) {
      return;
    }
    assert.ok(
      Date.now() < until,
      `not cleaned up within 30 s: pending ${model.pending}, servers ${JSON.stringify(
        model.servers
      )}, pods ${left.join(', ')}`
    );
    await new Promise(r => setTimeout(r, 500));
  }
}

function assertForAPerson(message: string) {
  assert.doesNotMatch(message, /Traceback|File "/);
  assert.doesNotMatch(message, /\/(usr|opt|root|var|home|tmp|work)\//, 'a server path');
  assert.doesNotMatch(message, /did not start in|timeout|timed out/i);
}

describe('spawn faults with KubeSpawner on the real node', { timeout: 600_000 }, () => {
  it('a server that starts and answers is ready as with plain KubeSpawner, and stops cleanly', async () => {
    const { last, messages } = await spawn('frank', 60);
    assert.equal(last?.ready, true, messages.join('\n'));
    const model = (await (await hubApi('GET', '/users/frank')).json()) as {
      servers: Record<string, { ready: boolean }>;
    };
    assert.equal(model.servers['']?.ready, true);
    const pods = await cluster.kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'hs-faults-frank' });
    assert.equal(pods.items[0]?.status?.phase, 'Running');
    const stopped = await hubApi('DELETE', '/users/frank/server');
    assert.ok([202, 204].includes(stopped.status), `stop: ${stopped.status}`);
    await assertCleanedUp('frank');
  });

  it('an image tag missing from the registry fails the spawn fast, naming the image and why, and leaves no pod', async () => {
    const { last, seconds, messages } = await spawn('alice', 60);
    assert.equal(last?.failed, true, messages.join('\n'));
    const message = last?.message ?? '';
    assert.ok(
      message.startsWith(`Spawn failed: The image ${missing} could not be pulled: `),
      message
    );
    assert.match(message, /could not be pulled: not found$/);
    assertForAPerson(message);
    assert.ok(seconds < 60, `took ${seconds} s`);
    await assertCleanedUp('alice');
  });

  it('a container that exits at once fails the spawn with its exit reason and its log, and leaves no pod', async () => {
    const { last, seconds, messages } = await spawn('bob', 60);
    assert.equal(last?.failed, true, messages.join('\n'));
    const message = last?.message ?? '';
    assert.match(
      message,
      /^Spawn failed: The server's container exited before the server started: Error, exit code 1/
    );
    assert.match(message, /Its log ends: boom/);
    assertForAPerson(message);
    assert.ok(seconds < 60, `took ${seconds} s`);
    await assertCleanedUp('bob');
  });

  it('an image name that is not valid fails the spawn, naming it, and leaves no pod', async () => {
    const { last, seconds, messages } = await spawn('carol', 60);
    assert.equal(last?.failed, true, messages.join('\n'));
    const message = last?.message ?? '';
    assert.ok(message.startsWith(`Spawn failed: The image name ${invalid} is not valid`), message);
    assertForAPerson(message);
    assert.ok(seconds < 60, `took ${seconds} s`);
    await assertCleanedUp('carol');
  });

  it('a container that runs, then exits before its server answers, fails the spawn with its exit reason', async () => {
    const { last, seconds, messages } = await spawn('dave', 60);
    assert.equal(last?.failed, true, messages.join('\n'));
    const message = last?.message ?? '';
    assert.match(
      message,
      /^Spawn failed: The server's container exited before the server started: Error, exit code 3/
    );
    assert.match(message, /Its log ends: starting$/);
    assertForAPerson(message);
    assert.ok(seconds < 60, `took ${seconds} s`);
    await assertCleanedUp('dave');
  });

  it('a server that runs but never answers fails the spawn after http_timeout, saying so with its log', async () => {
    const { last, seconds, messages } = await spawn('erin', 60);
    assert.equal(last?.failed, true, messages.join('\n'));
    const message = last?.message ?? '';
    assert.match(
      message,
      /^Spawn failed: The server started but did not answer within 8 seconds\. Its log ends: listening nowhere$/
    );
    assertForAPerson(message);
    assert.ok(seconds >= 8 && seconds < 60, `took ${seconds} s`);
    await assertCleanedUp('erin');
  });
});
