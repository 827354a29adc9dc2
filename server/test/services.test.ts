/**
 * Services on the local platform's real node: kube-proxy (iptables mode, built from
 * k8s.io/kubernetes) runs in the node's own network namespace, so two platforms side by side each
 * answer the same ClusterIP with their own pods, and nothing of either lands in the host's rules.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startAll } from './helpers/start-all.js';

const run = promisify(execFile);
const IMAGES = fileURLToPath(new URL('../../dev/node/images.sh', import.meta.url));
const CLUSTER_IP = '10.0.0.100';
let platforms: [ITestCluster, ITestCluster];
let image: string;

before(async () => {
  const built = run('bash', [IMAGES, 'busybox'], { maxBuffer: 4 << 20 });
  platforms = await startAll(startCluster({ realNode: true }), startCluster({ realNode: true }));
  image = (await built).stdout.match(/^busybox=(.+)$/m)?.[1] ?? '';
  assert.ok(image, 'dev/node/images.sh printed no busybox image');
});
after(async () => {
  await Promise.all((platforms ?? []).map(p => p?.stop()));
});

function onRealNode(name: string, labels: Record<string, string>, script: string): V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      restartPolicy: 'Never',
      nodeSelector: { 'hotstepper.dev/node': 'real' },
      tolerations: [{ key: 'hotstepper.dev/real-node', operator: 'Exists', effect: 'NoSchedule' }],
      automountServiceAccountToken: false,
      containers: [{ name, image, command: ['sh', '-c', script] }]
    }
  };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise(r => setTimeout(r, 300));
  }
}

/** A web pod answering its platform's name behind a Service at CLUSTER_IP, then a client's read. */
async function readThroughService(platform: ITestCluster, says: string): Promise<string> {
  const core = platform.kc.makeApiClient(CoreV1Api);
  const namespace = 'default';
  await core.createNamespacedPod({
    namespace,
    body: onRealNode(
      'web',
      { app: 'web' },
      `mkdir /tmp/w && echo ${says} > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w`
    )
  });
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: 'web' },
      spec: {
        clusterIP: CLUSTER_IP,
        selector: { app: 'web' },
        ports: [{ port: 80, targetPort: 8080 }]
      }
    }
  });
  await until('the web pod Ready', 60_000, async () => {
    const pod = await core.readNamespacedPod({ namespace, name: 'web' });
    return (
      pod.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') || undefined
    );
  });
  // Retried inside the pod: kube-proxy programs the Service a moment after its endpoints appear.
  await core.createNamespacedPod({
    namespace,
    body: onRealNode(
      'client',
      {},
      `for i in $(seq 1 40); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${CLUSTER_IP} 80 2>/dev/null ` +
        `| tail -1 | grep . && exit 0; sleep 0.5; done; exit 1`
    )
  });
  const phase = await until('the client pod to finish', 90_000, async () => {
    const pod = await core.readNamespacedPod({ namespace, name: 'client' });
    const p = pod.status?.phase;
    return p === 'Succeeded' || p === 'Failed' ? p : undefined;
  });
  const log = await core.readNamespacedPodLog({ namespace, name: 'client' });
  assert.equal(phase, 'Succeeded', `the client could not reach ${CLUSTER_IP}: ${log}`);
  return log.trim();
}

it('two platforms side by side each answer the same ClusterIP with their own pod', async () => {
  const [a, b] = platforms;
  const answers = await Promise.all([
    readThroughService(a, 'platform-a'),
    readThroughService(b, 'platform-b')
  ]);
  assert.deepEqual(answers, ['platform-a', 'platform-b']);
  // kube-proxy's rules are each node's own: the host's nat table has no chain for the Service.
  const { stdout } = await run('iptables-save', ['-t', 'nat'], { timeout: 10_000 });
  assert.doesNotMatch(stdout, new RegExp(`-d ${CLUSTER_IP.replace(/\./g, '\\.')}/32`));
  assert.doesNotMatch(stdout, /KUBE-SVC-/);
});
