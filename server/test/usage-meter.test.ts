/**
 * The usage meter over a scripted pod timeline (start, in-place resize, a job that runs and ends
 * while the companion is down, a companion restart, a deletion), with a real SQLite database and
 * a real JupyterHub for the HTTP side. The meter's clock and its view of the cluster are scripted
 * so the expected hours and CZK are exact; usage-cluster.test.ts meters a real cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Problem, RateCard, UsageHistory, UsageUserList } from '@hotstepper/schema';
import { createMeter, type IMeter } from '../src/features/usage/meter.js';
import type { IUsagePod } from '../src/features/usage/pods.js';
import { ConfigError, validateConfig } from '../src/platform/config.js';
import { buildApp } from '../src/app.js';
import { usage } from '../src/features/usage/index.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { join } from 'node:path';

const RATES: RateCard = {
  currency: 'CZK',
  charge: 'requests',
  cpuCoreHour: 1,
  memoryGibHour: 0.5,
  gpuHour: { default: 40, 'NVIDIA-A100-SXM4-80GB': 50 },
  migHour: { default: 10, '1g.10gb': 8 }
};
const GIB = 2 ** 30;
const at = (iso: string) => Date.parse(iso);

function pod(p: Partial<IUsagePod> & Pick<IUsagePod, 'uid' | 'namespace' | 'name'>): IUsagePod {
  return {
    kind: 'server',
    phase: 'Running',
    node: 'a100-0',
    startedAt: null,
    endedAt: null,
    cpu: { request: 1, limit: null },
    memory: { request: GIB, limit: null },
    gpus: {},
    ...p
  };
}

/** A scripted view of the cluster, as the usage index would present it. */
class Cluster {
  pods = new Map<string, IUsagePod>();
  meter?: IMeter;
  set(p: IUsagePod) {
    const previous = this.pods.get(p.uid);
    this.pods.set(p.uid, p);
    if (previous) this.meter?.changed(previous, p);
  }
  delete(uid: string) {
    const previous = this.pods.get(uid)!;
    this.pods.delete(uid);
    this.meter?.changed(previous, undefined);
  }
}

let hub: IHub;
let app: FastifyInstance;
const tokens: Record<string, string> = {};
const as = (user: string) => ({ authorization: `token ${tokens[user]}` });
const dbPath = join(scratchDir(), 'usage.sqlite');

/** Only this feature: what the test checks does not depend on the others. */
function companion() {
  return buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      database: { path: dbPath },
      usage: {
        rateCard: RATES,
        meter: { enabled: true, intervalSeconds: 60, leaseName: 'x' },
        liveCacheSeconds: 10
      }
    }),
    { features: [usage] }
  );
}

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await hub.createToken(user)).token;
  app = await companion();
  await app.ready();
});
after(async () => {
  await app?.close();
  await hub?.stop();
});

describe('usage meter', () => {
  let clock = 0;
  const cluster = new Cluster();
  const meterOn = (db: FastifyInstance) => {
    const meter = createMeter({
      db: db.database.db,
      pods: () => cluster.pods.values(),
      userOf: ns => ({ 'hs-alice': 'alice', 'hs-bob': 'bob' })[ns],
      modelOf: node => (node.startsWith('a100') ? 'NVIDIA-A100-SXM4-80GB' : undefined),
      synced: () => true,
      now: () => clock
    });
    cluster.meter = meter;
    return meter;
  };

  it('meters a timeline to exact hours across a resize, a midnight and a restart', async () => {
    let meter = meterOn(app);
    const a = pod({
      uid: 'a',
      namespace: 'hs-alice',
      name: 'jupyter-alice',
      startedAt: at('2026-11-20T22:00:00Z'),
      cpu: { request: 2, limit: 4 },
      memory: { request: 4 * GIB, limit: 8 * GIB },
      gpus: { 'nvidia.com/gpu': 1 }
    });
    clock = at('2026-11-20T21:59:00Z');
    cluster.set({ ...a, startedAt: null, phase: 'Pending' });
    await meter.pass();
    clock = at('2026-11-20T22:00:00Z');
    cluster.set(a);
    clock = at('2026-11-20T23:00:00Z');
    await meter.pass();
    // A second pass at the same instant adds nothing.
    await meter.pass();
    clock = at('2026-11-20T23:30:00Z');
    cluster.set({ ...a, cpu: { request: 4, limit: 4 } });
    clock = at('2026-11-21T00:30:00Z');
    await meter.pass();

    // The companion stops. While it is down, bob's job runs 01:00-01:45 and ends.
    await app.close();
    cluster.meter = undefined;
    cluster.set(
      pod({
        uid: 'b',
        namespace: 'hs-bob',
        name: 'train-x1',
        kind: 'job',
        node: 'a100-1',
        phase: 'Succeeded',
        startedAt: at('2026-11-21T01:00:00Z'),
        endedAt: at('2026-11-21T01:45:00Z'),
        memory: { request: 2 * GIB, limit: null },
        gpus: { 'nvidia.com/mig-1g.10gb': 1 }
      })
    );
    clock = at('2026-11-21T02:00:00Z');
    app = await companion();
    await app.ready();
    meter = meterOn(app);
    await meter.pass();
    clock = at('2026-11-21T03:00:00Z');
    cluster.delete('a');
    clock = at('2026-11-21T03:10:00Z');
    await meter.pass();
    clock = at('2026-11-21T04:00:00Z');
    await meter.pass();

    const rows = await app.database.db
      .withTables<{
        usage_rollups: {
          user_name: string;
          day: string;
          resource: string;
          requested: number;
          used: number;
          unmeasured: number;
        };
      }>()
      .selectFrom('usage_rollups')
      .select(['user_name', 'day', 'resource', 'requested'])
      .orderBy('user_name')
      .orderBy('day')
      .orderBy('resource')
      .execute();
    const round = (n: number) => Math.round(n * 1e9) / 1e9;
    assert.deepEqual(
      rows.map(r => [r.user_name, r.day, r.resource, round(r.requested)]),
      [
        ['alice', '2026-11-20', 'cpu', 5],
        ['alice', '2026-11-20', 'gpu:NVIDIA-A100-SXM4-80GB', 2],
        ['alice', '2026-11-20', 'memory', 8],
        ['alice', '2026-11-21', 'cpu', 12],
        ['alice', '2026-11-21', 'gpu:NVIDIA-A100-SXM4-80GB', 3],
        ['alice', '2026-11-21', 'memory', 12],
        ['bob', '2026-11-21', 'cpu', 0.75],
        ['bob', '2026-11-21', 'memory', 1.5],
        ['bob', '2026-11-21', 'mig:1g.10gb', 0.75]
      ]
    );
  });

  it('serves exactly those rollups, priced in CZK, as my history', async () => {
    const res = await app.inject({ url: '/api/v1/usage/history?days=30', headers: as('alice') });
    assert.equal(res.statusCode, 200, res.body);
    const history = res.json() as UsageHistory;
    assert.equal(history.user, 'alice');
    assert.equal(history.currency, 'CZK');
    const costs = Object.fromEntries(history.rows.map(r => [`${r.day} ${r.resource}`, r.cost]));
    assert.deepEqual(costs, {
      '2026-11-20 cpu': 5,
      '2026-11-20 gpu:NVIDIA-A100-SXM4-80GB': 100,
      '2026-11-20 memory': 4,
      '2026-11-21 cpu': 12,
      '2026-11-21 gpu:NVIDIA-A100-SXM4-80GB': 150,
      '2026-11-21 memory': 6
    });
    assert.equal(history.totals.cost, 277);
    assert.equal(history.meteredUntil, '2026-11-21T03:00:00.000Z');
    // Nothing was measured (no Prometheus): every hour is unmeasured, none used.
    assert.ok(history.rows.every(r => r.used === 0 && r.unmeasured === r.requested));
  });

  it("never shows a user anyone else's numbers", async () => {
    const bob = (
      await app.inject({ url: '/api/v1/usage/history', headers: as('bob') })
    ).json() as UsageHistory;
    assert.equal(bob.user, 'bob');
    assert.deepEqual(bob.rows.map(r => r.resource).sort(), ['cpu', 'memory', 'mig:1g.10gb']);
    assert.equal(bob.totals.cost, 0.75 + 0.75 + 6);
    const carol = (
      await app.inject({ url: '/api/v1/usage/history', headers: as('carol') })
    ).json() as UsageHistory;
    assert.equal(carol.rows.length, 0);
    // The history has no user parameter to ask for someone else.
    const other = await app.inject({ url: '/api/v1/usage/history?user=alice', headers: as('bob') });
    assert.equal(other.statusCode, 400);
    const table = await app.inject({ url: '/api/v1/usage/users', headers: as('alice') });
    assert.equal(table.statusCode, 403);
    assert.equal((table.json() as Problem).code, 'forbidden');
  });

  it('gives operators every user, most expensive first', async () => {
    const res = await app.inject({ url: '/api/v1/usage/users?days=30', headers: as('carol') });
    assert.equal(res.statusCode, 200, res.body);
    const list = res.json() as UsageUserList;
    assert.deepEqual(
      list.users.map(u => [u.user, u.cost, u.gpuHours, u.migHours]),
      [
        ['alice', 277, 5, 0],
        ['bob', 7.5, 0, 0.75]
      ]
    );
  });

  it('refuses days out of 1..400 or not a number, naming the field', async () => {
    for (const days of ['0', '401', '100000', 'abc', '1.5']) {
      const res = await app.inject({
        url: `/api/v1/usage/history?days=${days}`,
        headers: as('alice')
      });
      assert.equal(res.statusCode, 400, `days=${days}`);
      const problem = res.json() as Problem;
      assert.equal(problem.code, 'validation_failed');
      assert.match(problem.detail ?? '', /days/);
    }
    const ok = await app.inject({ url: '/api/v1/usage/history?days=400', headers: as('alice') });
    assert.equal(ok.statusCode, 200);
  });

  it('publishes the rate card', async () => {
    const res = await app.inject({ url: '/api/v1/usage/ratecard', headers: as('bob') });
    assert.deepEqual(res.json(), RATES);
  });
});

describe('usage rate card configuration', () => {
  it('defaults to a complete CZK card', () => {
    const card = validateConfig({}).usage.rateCard;
    assert.equal(card.currency, 'CZK');
    assert.equal(card.charge, 'requests');
    assert.ok(card.gpuHour.default > 0);
  });
  it('refuses a negative or missing price, naming the key', () => {
    const bad = (rateCard: object) => () => validateConfig({ usage: { rateCard } });
    assert.throws(
      bad({ ...RATES, cpuCoreHour: -1 }),
      (e: Error) =>
        e instanceof ConfigError && /usage\.rateCard\.cpuCoreHour must be >= 0/.test(e.message)
    );
    const missing: Partial<RateCard> = { ...RATES };
    delete missing.memoryGibHour;
    assert.throws(
      bad(missing),
      (e: Error) => e instanceof ConfigError && /usage\.rateCard.*memoryGibHour/.test(e.message)
    );
    assert.throws(
      bad({ ...RATES, gpuHour: { 'NVIDIA-L4': 10 } }),
      (e: Error) => e instanceof ConfigError && /usage\.rateCard\.gpuHour.*default/.test(e.message)
    );
    assert.throws(
      bad({ ...RATES, migHour: { default: 1, '1g.10gb': -3 } }),
      (e: Error) =>
        e instanceof ConfigError &&
        /usage\.rateCard\.migHour\.1g\.10gb must be >= 0/.test(e.message)
    );
  });
});
