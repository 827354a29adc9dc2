/**
 * Only the leader acts: two companions against the same cluster Lease (a real kube-apiserver)
 * and the same database judge one idle server. Every window is judged once, one warning mail
 * goes out, and when the companion that warned goes away the other one takes over the count
 * and stops the server on time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startPrometheus, type ITestPrometheus } from './helpers/prometheus.js';
import { startScriptedExporter, type IScriptedExporter } from './fixtures/idle/exporter.js';
import { readMail, startSmtp } from './fixtures/idle/smtp.js';

const CONFIG = fileURLToPath(new URL('./fixtures/idle/jupyterhub_config.py', import.meta.url));
const WINDOW = 8;
const LEASE = 'hotstepper-idle-guard';

let cluster: ITestCluster;
let hub: IHub;
let prometheus: ITestPrometheus;
let exporter: IScriptedExporter;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

before(async () => {
  process.env.HS_IDLE_WEAK_TOKEN ??= 'unused-weak-token-of-the-leader-test';
  exporter = await startScriptedExporter();
  [cluster, hub, prometheus, smtp] = await Promise.all([
    startCluster(),
    startHub({ config: CONFIG }),
    startPrometheus({ exporterPort: exporter.port, interval: '1s' }),
    startSmtp()
  ]);
});

after(async () => {
  await Promise.all([
    cluster?.stop(),
    hub?.stop(),
    prometheus?.stop(),
    exporter?.stop(),
    smtp?.stop()
  ]);
});

async function until<T>(
  what: string,
  seconds: number,
  check: () => Promise<T | undefined | false>
) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

const hubGet = async (path: string) =>
  (await (
    await fetch(`${hub.apiUrl}${path}`, { headers: { Authorization: `token ${hub.serviceToken}` } })
  ).json()) as {
    servers: Record<string, { ready?: boolean; pending?: string | null }>;
  };

test('two companions, one Lease: only the leader judges and acts; the other takes over', async t => {
  exporter.set('jupyter-alice', { cpu: 0, gpu: 0 });
  await fetch(`${hub.apiUrl}/users/alice/server`, {
    method: 'POST',
    headers: { Authorization: `token ${hub.serviceToken}` }
  });
  await until('alice ready', 150, async () => (await hubGet('/users/alice')).servers['']?.ready);
  t.after(() =>
    fetch(`${hub.apiUrl}/users/alice/server`, {
      method: 'DELETE',
      headers: { Authorization: `token ${hub.serviceToken}` }
    })
  );

  const dbPath = join(scratchDir(), 'shared.sqlite');
  const config = () => {
    const c = testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      prometheus: { url: prometheus.url },
      kubernetes: { kubeconfig: cluster.kubeconfig },
      mail: {
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, timeoutSeconds: 5 },
        from: 'Hotstepper <hotstepper@example.org>',
        addresses: { alice: 'alice@example.org' }
      },
      idle: {
        hubUrl: hub.url,
        profiles: {
          // Leadership is what this test is about: kernels are not looked at (they come from
          // the reports users' servers push, which idle.test.ts covers).
          gpu: {
            match: { gpu: true },
            intervalSeconds: 1,
            windowSeconds: WINDOW,
            segmentSeconds: 2,
            thresholds: { gpuPercent: 5 },
            activityCountsAsUse: { hubActivity: true, kernelBusy: false },
            warnAfter: 1,
            stopAfter: 3
          },
          cpu: {
            intervalSeconds: 1,
            windowSeconds: WINDOW,
            segmentSeconds: 2,
            thresholds: { cpuCores: 0.2 },
            activityCountsAsUse: { hubActivity: true, kernelBusy: false },
            warnAfter: 1,
            stopAfter: 3
          }
        }
      } as never
    });
    c.database.path = dbPath;
    // Info, to a stream the test reads: the elector logs its identity when it starts leading.
    c.log = { ...c.log, level: 'info' };
    return c;
  };
  const logs: string[][] = [[], []];
  const companions = [
    await build(t, config(), { logStream: { write: line => void logs[0].push(line) } }),
    await build(t, config(), { logStream: { write: line => void logs[1].push(line) } })
  ];
  /** The identity companion `i` led the idle guard Lease with, from its own log. */
  const ledAs = (i: number): string | undefined => {
    for (const line of logs[i]) {
      let entry: { msg?: string; lease?: string; identity?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.msg === 'started leading' && entry.lease === LEASE) return entry.identity;
    }
    return undefined;
  };
  const holder = async () =>
    (
      await cluster.kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: LEASE, namespace: 'default' })
    ).spec?.holderIdentity;
  let reader = companions[1];
  const decisions = async (action: string) =>
    (await reader.database.db
      .withTables<{ idle_decisions: { user_name: string; action: string; at: number } }>()
      .selectFrom('idle_decisions')
      .select(['at'])
      .where('user_name', '=', 'alice')
      .where('action', '=', action)
      .execute()) as { at: number }[];

  // Warned once (one mail), by whichever holds the Lease.
  await until('alice warned', WINDOW * 4, async () => (await decisions('warn')).length === 1);
  // Who leads: exactly one companion started leading, and the Lease names it.
  const first = await holder();
  assert.ok(first, 'one companion holds the idle guard Lease');
  const leaders = [0, 1].filter(i => ledAs(i) !== undefined);
  assert.equal(leaders.length, 1, `exactly one companion started leading: ${leaders}`);
  const [leader] = leaders;
  assert.equal(first, ledAs(leader), 'the Lease holder is the companion that leads');
  const other = 1 - leader;

  // The leader, the companion that warned, goes: the other takes the Lease over.
  reader = companions[other];
  await companions[leader].close();
  await until('alice stopped', WINDOW * 6, async () => !(await hubGet('/users/alice')).servers['']);
  await until('the stop recorded', 15, async () => (await decisions('stop')).length === 1);

  const idle = (await decisions('idle')).map(d => d.at).sort();
  assert.equal(idle.length, 3, 'each window judged once, not once per companion');
  for (let i = 1; i < idle.length; i++) {
    assert.ok(
      idle[i] - idle[i - 1] >= WINDOW * 1000 - 500,
      `windows ${i} and ${i + 1} are a window apart`
    );
  }
  assert.equal((await decisions('warn')).length, 2, 'warned in windows 1 and 2');
  const mails = smtp.received
    .filter(m => m.to.includes('alice@example.org'))
    .map(m => readMail(m.raw));
  assert.equal(
    mails.filter(m => /is idle/.test(m.subject)).length,
    2,
    'one mail per warning, not one per companion'
  );
  assert.equal(mails.filter(m => /was stopped/.test(m.subject)).length, 1);
  // Who leads now: the other one, by the identity it logged when it took over.
  const second = ledAs(other);
  assert.ok(second, 'the remaining companion started leading');
  assert.notEqual(second, first, 'a different identity from the first leader');
  assert.equal(await holder(), second, 'the remaining companion holds the Lease');
});
