/**
 * Flare with users' servers as pods: the index of server pods fed watch events by a fake
 * transport, and the gateway (target pod) forwarding to the address the index holds. A second
 * loopback address (127.0.0.2) stands in for the pod's IP; an app on 127.0.0.1 at the same port,
 * where target loopback would go, must never be reached.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { flare } from '../src/features/flare/index.js';
import { ConfigError } from '../src/platform/config.js';
import { createServerPods, type IServerPods } from '../src/platform/kubernetes/server-pods.js';
import type { IKubeTransport } from '../src/platform/kubernetes/transport.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { freePort, waitFor } from './helpers/ports.js';

const DOMAIN = 'flare.localhost';
const POD_IP = '127.0.0.2';
const SELECTOR = 'component=singleuser-server';

interface IPodOptions {
  ip?: string;
  phase?: string;
  ready?: boolean;
  deleting?: boolean;
  hostNetwork?: boolean;
  /** KubeSpawner's servername label (escaped) and annotation (exact, named servers only). */
  label?: string;
  annotation?: string;
}

function serverPod(namespace: string, name: string, o: IPodOptions = {}) {
  return {
    metadata: {
      name,
      namespace,
      labels: {
        component: 'singleuser-server',
        'hub.jupyter.org/username': 'alice',
        'hub.jupyter.org/servername': o.label ?? ''
      },
      annotations: {
        'hub.jupyter.org/username': 'alice',
        ...(o.annotation ? { 'hub.jupyter.org/servername': o.annotation } : {})
      },
      ...(o.deleting ? { deletionTimestamp: '2026-12-07T05:00:00Z' } : {})
    },
    ...(o.hostNetwork ? { spec: { hostNetwork: true } } : {}),
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip ? { podIP: o.ip } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }]
    }
  };
}

/** A transport that lists `initial` and then delivers what the test sends as watch events. */
function fakeTransport(initial: object[]) {
  const paths: string[] = [];
  let onLine: ((value: unknown) => void) | undefined;
  let opened: () => void = () => undefined;
  const watching = new Promise<void>(resolve => (opened = resolve));
  const transport: IKubeTransport = {
    async request<T>(_method: string, path: string) {
      paths.push(path);
      return { metadata: { resourceVersion: '1' }, items: initial } as T;
    },
    stream(path, line, { signal, onOpen }) {
      paths.push(path);
      onLine = line;
      onOpen?.();
      opened();
      return new Promise(resolve => signal.addEventListener('abort', () => resolve()));
    },
    close: () => undefined
  };
  const send = (type: string, object: object) => onLine?.({ type, object });
  return { transport, paths, watching, send };
}

describe('server pods index', { timeout: 20_000 }, () => {
  let index: IServerPods;
  let fake: ReturnType<typeof fakeTransport>;

  before(async () => {
    fake = fakeTransport([
      serverPod('hs-alice', 'jupyter-alice', { ip: '10.0.0.5' }),
      serverPod('hs-bob', 'jupyter-bob', { ip: '10.0.0.6', ready: false })
    ]);
    index = createServerPods(fake.transport);
    index.start();
    await index.ready;
    await fake.watching;
  });
  after(() => index.stop());

  it('lists and watches only single-user server pods', () => {
    assert.ok(fake.paths.length >= 2);
    for (const path of fake.paths) {
      assert.match(path, /^\/api\/v1\/pods\?/);
      assert.equal(new URL(path, 'http://k').searchParams.get('labelSelector'), SELECTOR);
    }
  });

  it('answers the Running, Ready pod of a server in a namespace, and nothing else', () => {
    assert.equal(index.addressOf('hs-alice', ''), '10.0.0.5');
    assert.equal(index.addressOf('hs-alice', 'gpu'), undefined, 'another server');
    assert.equal(index.addressOf('hs-carol', ''), undefined, 'another namespace');
    assert.equal(index.addressOf('hs-bob', ''), undefined, 'not ready');
  });

  it('follows a pod becoming ready, restarting and going away', () => {
    fake.send('MODIFIED', serverPod('hs-bob', 'jupyter-bob', { ip: '10.0.0.6' }));
    assert.equal(index.addressOf('hs-bob', ''), '10.0.0.6');
    // A restart: the old pod terminates (still Ready for a moment), the new one starts.
    fake.send('MODIFIED', serverPod('hs-bob', 'jupyter-bob', { ip: '10.0.0.6', deleting: true }));
    fake.send('ADDED', serverPod('hs-bob', 'jupyter-bob-2', { phase: 'Pending', ready: false }));
    assert.equal(index.addressOf('hs-bob', ''), undefined, 'a terminating pod is not used');
    fake.send('MODIFIED', serverPod('hs-bob', 'jupyter-bob-2', { ip: '10.0.0.7' }));
    assert.equal(index.addressOf('hs-bob', ''), '10.0.0.7');
    fake.send('DELETED', serverPod('hs-bob', 'jupyter-bob', { ip: '10.0.0.6', deleting: true }));
    assert.equal(index.addressOf('hs-bob', ''), '10.0.0.7');
    fake.send('DELETED', serverPod('hs-bob', 'jupyter-bob-2', { ip: '10.0.0.7' }));
    assert.equal(index.addressOf('hs-bob', ''), undefined);
    assert.equal(index.informers()[0].objects, 1);
  });

  it('knows a named server by its exact name (annotation), not only its escaped label', () => {
    const pod = serverPod('hs-alice', 'jupyter-alice-my-5fgpu', {
      ip: '10.0.0.8',
      label: 'my-5fgpu',
      annotation: 'my_gpu'
    });
    fake.send('ADDED', pod);
    assert.equal(index.addressOf('hs-alice', 'my_gpu'), '10.0.0.8');
    assert.equal(index.addressOf('hs-alice', ''), '10.0.0.5');
  });

  it("never answers the node's address for a pod on the host network", () => {
    fake.send('ADDED', serverPod('hs-dan', 'jupyter-dan', { ip: '192.0.2.1', hostNetwork: true }));
    assert.equal(index.addressOf('hs-dan', ''), undefined);
  });
});

/** An API server that serves the server-pod list and a watch whose events the test sends. */
async function fakeApiServer(pods: object[]) {
  const watches = new Set<ServerResponse>();
  let version = 1;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://k');
    const mine = url.searchParams.get('labelSelector') === SELECTOR;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') {
      // Other informers (the GPU index) get a watch that never says anything.
      res.flushHeaders();
      if (mine) watches.add(res);
      res.on('close', () => watches.delete(res));
      return;
    }
    const items = mine && url.pathname === '/api/v1/pods' ? pods : [];
    res.end(JSON.stringify({ metadata: { resourceVersion: String(version) }, items }));
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = join(scratchDir(), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node takes plain http only with this set.
      clusters: [
        {
          name: 'fake',
          cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true }
        }
      ],
      users: [{ name: 'fake', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake'
    })
  );
  return {
    kubeconfig,
    watching: () => watches.size > 0,
    send(type: string, pod: ReturnType<typeof serverPod>) {
      version++;
      const object = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(version) } };
      for (const w of watches) w.write(`${JSON.stringify({ type, object })}\n`);
    },
    close: () =>
      new Promise<void>(r => {
        server.closeAllConnections();
        server.close(() => r());
      })
  };
}

/** The app at `host` answers `who`, for plain requests and WebSocket upgrades alike. */
function app(who: string, host: string, port: number): Promise<Server & { hits: number }> {
  const server = Object.assign(
    createServer((_req, res) => {
      server.hits++;
      res.end(who);
    }),
    { hits: 0 }
  );
  server.on('upgrade', (_req, socket) => {
    server.hits++;
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n${who}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The pod's app on POD_IP and the decoy on 127.0.0.1, at one port free on both. */
async function podAndDecoy() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pod = await app('the pod', POD_IP, 0);
    const port = (pod.address() as AddressInfo).port;
    try {
      return { pod, decoy: await app('the companion loopback', '127.0.0.1', port), port };
    } catch {
      pod.close();
    }
  }
  throw new Error('no port free on both loopback addresses');
}

function get(gw: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw, path: '/', headers: { host } }, res => {
      let body = '';
      res.on('data', d => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
    req.end();
  });
}

/** A WebSocket handshake through the gateway: everything the far end answered. */
function upgrade(gw: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(gw, '127.0.0.1');
    let text = '';
    socket.on('data', d => (text += d));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
    );
  });
}

describe('flare gateway, target pod', { timeout: 60_000 }, () => {
  let api: Awaited<ReturnType<typeof fakeApiServer>>;
  let companion: FastifyInstance;
  let apps: Awaited<ReturnType<typeof podAndDecoy>>;
  let gw: number;
  let namespace: string;
  const host = () => `dash.${DOMAIN}:${gw}`;

  before(async () => {
    apps = await podAndDecoy();
    gw = await freePort();
    api = await fakeApiServer([]);
    companion = await buildApp(
      testConfig({
        kubernetes: { kubeconfig: api.kubeconfig },
        flare: {
          domain: DOMAIN,
          publicUrl: `http://{host}:${gw}/`,
          // appHost stays 127.0.0.1: where the decoy listens.
          gateway: { host: '127.0.0.1', port: gw, target: 'pod', connectTimeoutSeconds: 2 }
        } as never
      }),
      { features: [flare] }
    );
    await companion.ready();
    namespace = companion.tenancy.namespaceOf('alice');
    await waitFor('the server pod watch', 10, async () => api.watching());
    // Alice's default server reports the port; a report names ports, never an address.
    await companion.serverReports.put('alice', {
      server: '',
      ports: [{ port: apps.port }],
      kernels: { busy: 0, lastActivity: null },
      at: new Date().toISOString()
    });
    await companion.flare.service.create('alice', {
      name: 'dash',
      port: apps.port,
      access: { mode: 'public' }
    });
  });
  after(async () => {
    await companion?.close();
    await api?.close();
    apps?.pod.close();
    apps?.decoy.close();
  });

  it('shows "app offline" while the owner\'s pod is not ready', async () => {
    api.send('ADDED', serverPod(namespace, 'jupyter-alice', { phase: 'Pending', ready: false }));
    // Someone else's ready pod with the same server name is not alice's.
    api.send('ADDED', serverPod('hs-mallory', 'jupyter-mallory', { ip: POD_IP }));
    await waitFor(
      'the index',
      5,
      async () => companion.serverPods?.addressOf('hs-mallory', '') === POD_IP
    );
    const answer = await get(gw, host());
    assert.equal(answer.status, 502);
    assert.match(answer.body, /the app is offline/);
    assert.equal((await companion.flare.service.get('alice', 'dash')).status, 'offline');
    assert.match(await upgrade(gw, host()), /^HTTP\/1.1 502/);
    assert.equal(apps.pod.hits + apps.decoy.hits, 0);
  });

  it("forwards to the owner's pod, never to the companion's loopback", async () => {
    api.send('MODIFIED', serverPod(namespace, 'jupyter-alice', { ip: POD_IP }));
    await waitFor(
      'the index',
      5,
      async () => companion.serverPods?.addressOf(namespace, '') === POD_IP
    );
    const answer = await get(gw, host());
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'the pod');
    assert.match(await upgrade(gw, host()), /101 Switching Protocols[\s\S]*the pod$/);
    assert.equal((await companion.flare.service.get('alice', 'dash')).status, 'online');
    assert.equal(apps.decoy.hits, 0, 'the app on 127.0.0.1 was reached');
  });

  it('goes offline again when the pod goes', async () => {
    api.send('DELETED', serverPod(namespace, 'jupyter-alice', { ip: POD_IP }));
    await waitFor('the index', 5, async () => !companion.serverPods?.addressOf(namespace, ''));
    // The gateway trusts an address it found for 2 s.
    await new Promise(r => setTimeout(r, 2_100));
    assert.equal((await get(gw, host())).status, 502);
    assert.equal(apps.decoy.hits, 0);
  });
});

describe('flare gateway, target pod without Kubernetes', { timeout: 20_000 }, () => {
  it('refuses to start, naming the key', async () => {
    const config = testConfig({
      flare: { gateway: { host: '127.0.0.1', port: 0, target: 'pod' } } as never
    });
    await assert.rejects(
      async () => (await buildApp(config, { features: [flare] })).close(),
      (err: Error) => err instanceof ConfigError && /flare\.gateway\.target/.test(err.message)
    );
  });
});
