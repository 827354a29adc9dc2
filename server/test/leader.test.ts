/**
 * Leader election on a real Lease (dev/k8s control plane): one of several electors leads; a
 * leader that dies without releasing is replaced once its lease expires, one that stops and
 * releases is replaced at once, and a leader whose Lease is taken steps down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createLeaderElector,
  leaseNamespace,
  type ILeaderElector
} from '../src/platform/kubernetes/leader.js';
import { createTransport, type IKubeTransport } from '../src/platform/kubernetes/transport.js';
import { scratchDir } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

let cluster: ITestCluster;
let transport: IKubeTransport;

before(async () => {
  cluster = await startCluster();
  transport = createTransport(cluster.kc);
});
after(async () => {
  transport?.close();
  await cluster?.stop();
});

// Short timings keep the test quick; the ratios are client-go's defaults (15 s / 10 s / 2 s).
const TIMING = { leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.2 };

function elector(name: string, identity: string, log: string[]): ILeaderElector {
  return createLeaderElector(transport, {
    namespace: 'default',
    name,
    identity,
    ...TIMING,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped`)
  });
}

async function leaderWithin(electors: ILeaderElector[], seconds: number) {
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const leaders = electors.filter(e => e.isLeader());
    assert.ok(leaders.length <= 1, 'never two leaders at once');
    if (leaders.length === 1) return { leader: leaders[0], ms: performance.now() - started };
    await new Promise(r => setTimeout(r, 20));
  }
  assert.fail(`no leader within ${seconds} s`);
}

describe('leader election on a Lease', () => {
  it('fails over after the lease expires when the leader dies without releasing', async () => {
    const log: string[] = [];
    const a = elector('hotstepper-usage-meter', 'replica-a', log);
    const b = elector('hotstepper-usage-meter', 'replica-b', log);
    a.start();
    await leaderWithin([a], 5);
    b.start();
    await new Promise(r => setTimeout(r, 1000));
    assert.equal(b.isLeader(), false, 'the follower waits while the leader renews');
    await a.stop({ release: false }); // a crash: no release
    const { leader, ms } = await leaderWithin([a, b], 10);
    assert.equal(leader, b);
    // It had to wait out the lease (2 s, from when it last saw a renewal).
    assert.ok(ms > 1000, `took over after ${ms} ms`);
    console.log(`# failover without release: ${Math.round(ms)} ms (lease 2 s)`);
    await b.stop();
    assert.deepEqual(log, [
      'replica-a started',
      'replica-a stopped',
      'replica-b started',
      'replica-b stopped'
    ]);
  });

  it('hands over at once when the leader stops and releases', async () => {
    const log: string[] = [];
    const a = elector('hotstepper-idle-guard', 'replica-a', log);
    const b = elector('hotstepper-idle-guard', 'replica-b', log);
    a.start();
    await leaderWithin([a], 5);
    b.start();
    await new Promise(r => setTimeout(r, 500));
    await a.stop();
    const { leader, ms } = await leaderWithin([a, b], 5);
    assert.equal(leader, b);
    assert.ok(ms < 1000, `took over after ${ms} ms, well inside the 2 s lease`);
    console.log(`# failover with release: ${Math.round(ms)} ms (lease 2 s)`);
    await b.stop();
  });

  it('steps down when another holder takes the Lease', async () => {
    let signal: AbortSignal | undefined;
    const watched = createLeaderElector(transport, {
      namespace: 'default',
      name: 'hotstepper-taken',
      identity: 'replica-a',
      ...TIMING,
      onStartedLeading: s => (signal = s)
    });
    watched.start();
    await leaderWithin([watched], 5);
    const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases/hotstepper-taken';
    const lease = await transport.request<{ spec: object }>('GET', path);
    await transport.request('PUT', path, {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: 'intruder',
        renewTime: new Date().toISOString().replace('Z', '000Z')
      }
    });
    const deadline = Date.now() + 3000;
    while (watched.isLeader() && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
    assert.equal(watched.isLeader(), false);
    assert.equal(signal?.aborted, true, 'the controller is told through its signal');
    await watched.stop();
  });

  it('takes the Lease namespace from the configuration, the service account, or default', () => {
    const file = join(scratchDir(), 'namespace');
    writeFileSync(file, 'hotstepper\n');
    assert.equal(leaseNamespace('ops', file), 'ops');
    assert.equal(leaseNamespace(undefined, file), 'hotstepper');
    assert.equal(leaseNamespace(undefined, join(scratchDir(), 'missing')), 'default');
  });
});
