/**
 * CSV exports and the operators' per-group table, over rollups seeded straight into a real SQLite
 * database and groups in a real JupyterHub (read by the companion with its service token), so
 * every figure and every byte of the CSV is known in advance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Problem, RateCard, UsageGroupList } from '@hotstepper/schema';
import { buildApp } from '../src/app.js';
import { usage } from '../src/features/usage/index.js';
import type { UsageTables } from '../src/features/usage/migrations.js';
import { utcDay } from '../src/features/usage/rollups.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

const RATES: RateCard = {
  currency: 'CZK',
  charge: 'requests',
  cpuCoreHour: 1,
  memoryGibHour: 0.5,
  gpuHour: { default: 40, 'NVIDIA-A100-SXM4-80GB': 50 },
  migHour: { default: 10, '1g.10gb': 8 }
};
const A100 = 'gpu:NVIDIA-A100-SXM4-80GB';
const EVIL = '=HYPERLINK("http://x","y")';
const today = utcDay(Date.now());
const yesterday = utcDay(Date.now() - 86_400_000);
const longAgo = utcDay(Date.now() - 40 * 86_400_000);

/** user, day, resource, requested, used, unmeasured */
const ROLLUPS: [string, string, string, number, number, number][] = [
  ['alice', yesterday, 'cpu', 10, 6, 0],
  ['alice', yesterday, A100, 2, 0, 2],
  ['alice', today, 'memory', 8, 0, 8],
  ['alice', longAgo, 'cpu', 1000, 0, 1000],
  ['bob', today, 'cpu', 4, 0, 4],
  ['bob', today, 'mig:1g.10gb', 1.5, 0, 1.5],
  ['carol', today, 'cpu', 1, 0, 1],
  [EVIL, today, 'cpu', 2.5, 0, 2.5],
  ['-2+3', today, 'memory', 1, 0, 1]
];

let hub: IHub;
let app: FastifyInstance;
const tokens: Record<string, string> = {};
const as = (user: string) => ({ authorization: `token ${tokens[user]}` });
const get = (url: string, user: string) => app.inject({ url, headers: as(user) });

async function hubGroup(name: string, users: string[]) {
  const res = await fetch(`${hub.apiUrl}/groups/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { Authorization: `token ${hub.serviceToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ users })
  });
  assert.equal(res.status, 201, await res.text());
}

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await hub.createToken(user)).token;
  // The fixture has students [alice] and hotstepper-admins [carol] (carol is an operator).
  await hubGroup('ml-lab', ['alice', 'bob']);
  await hubGroup('+formula', ['bob']);
  await hubGroup('empty', []);
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      database: { path: join(scratchDir(), 'usage-export.sqlite') },
      usage: {
        rateCard: RATES,
        meter: { enabled: false, intervalSeconds: 60, leaseName: 'x' },
        liveCacheSeconds: 10
      }
    }),
    { features: [usage] }
  );
  await app.ready();
  await app.database.db
    .withTables<UsageTables>()
    .insertInto('usage_rollups')
    .values(
      ROLLUPS.map(([user_name, day, resource, requested, used, unmeasured]) => ({
        user_name,
        day,
        resource,
        requested,
        used,
        unmeasured
      }))
    )
    .execute();
});
after(async () => {
  await app?.close();
  await hub?.stop();
});

describe('usage CSV export', () => {
  it('exports my history exactly: header, one row per day and resource, total, currency', async () => {
    const res = await get('/api/v1/usage/history.csv?days=30', 'alice');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
    const from = utcDay(Date.now() - 29 * 86_400_000);
    assert.equal(
      res.headers['content-disposition'],
      `attachment; filename="usage-alice-${from}-${today}.csv"`
    );
    assert.equal(
      res.body,
      'day,resource,unit,requested,used,unmeasured,unit_price,cost,currency\r\n' +
        `${yesterday},cpu,core-hours,10,6,0,1,10,CZK\r\n` +
        `${yesterday},${A100},GPU-hours,2,0,2,50,100,CZK\r\n` +
        `${today},memory,GiB-hours,8,0,8,0.5,4,CZK\r\n` +
        'total,,,,,,,114,CZK\r\n'
    );
    // The long window takes in the old row; the CSV and the JSON history agree on the total.
    const all = await get('/api/v1/usage/history.csv?days=400', 'alice');
    assert.match(all.body, /\r\ntotal,,,,,,,1114,CZK\r\n$/);
    const json = await get('/api/v1/usage/history?days=400', 'alice');
    assert.equal((json.json() as { totals: { cost: number } }).totals.cost, 1114);
  });

  it('exports every user for operators, most expensive first, formulas neutralised', async () => {
    const res = await get('/api/v1/usage/users.csv?days=30', 'carol');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(String(res.headers['content-disposition']), /^attachment; filename="usage-users-/);
    assert.equal(
      res.body,
      'user,cpu_core_hours,memory_gib_hours,gpu_hours,mig_hours,cost,currency\r\n' +
        'alice,10,8,2,0,114,CZK\r\n' +
        'bob,4,0,0,1.5,16,CZK\r\n' +
        `"'=HYPERLINK(""http://x"",""y"")",2.5,0,0,0,2.5,CZK\r\n` +
        'carol,1,0,0,0,1,CZK\r\n' +
        "'-2+3,0,1,0,0,0.5,CZK\r\n"
    );
  });

  it('exports every group for operators', async () => {
    const res = await get('/api/v1/usage/groups.csv?days=30', 'carol');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(
      res.body,
      'group,members,cpu_core_hours,memory_gib_hours,gpu_hours,mig_hours,cost,currency\r\n' +
        'ml-lab,2,14,8,2,1.5,130,CZK\r\n' +
        'students,1,10,8,2,0,114,CZK\r\n' +
        "'+formula,1,4,0,0,1.5,16,CZK\r\n" +
        'hotstepper-admins,1,1,0,0,0,1,CZK\r\n' +
        'empty,0,0,0,0,0,0,CZK\r\n'
    );
  });
});

describe('usage per group', () => {
  it('sums each hub group over its members, most expensive first', async () => {
    const res = await get('/api/v1/usage/groups?days=30', 'carol');
    assert.equal(res.statusCode, 200, res.body);
    const list = res.json() as UsageGroupList;
    assert.equal(list.currency, 'CZK');
    assert.equal(list.days, 30);
    assert.deepEqual(
      list.groups.map(g => [g.group, g.members, g.cost, g.cpuCoreHours, g.gpuHours, g.migHours]),
      [
        ['ml-lab', 2, 130, 14, 2, 1.5],
        ['students', 1, 114, 10, 2, 0],
        ['+formula', 1, 16, 4, 0, 1.5],
        ['hotstepper-admins', 1, 1, 1, 0, 0],
        ['empty', 0, 0, 0, 0, 0]
      ]
    );
  });
});

/** The usage feature alone, calling the hub with `token` as its service token. */
const usageWithHubToken = (token: string) =>
  buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: token },
      database: { path: join(scratchDir(), 'usage-export-token.sqlite') },
      usage: {
        rateCard: RATES,
        meter: { enabled: false, intervalSeconds: 60, leaseName: 'x' },
        liveCacheSeconds: 10
      }
    }),
    { features: [usage] }
  );

describe('usage per group when the hub refuses', () => {
  it('answers 503 naming the missing scopes, and the per-user table still works', async () => {
    // What the per-group table needs of the hub (GET /groups with members).
    const needed = ['list:groups', 'read:groups'];
    // A real token, valid, of the hub's admin: limited to reading users, so without those scopes.
    const limited = (await hub.createToken('admin', ['list:users', 'read:users'])).token;
    const whoami = await fetch(`${hub.apiUrl}/user`, {
      headers: { Authorization: `token ${limited}` }
    });
    assert.equal(whoami.status, 200, 'the token is valid');
    const held = ((await whoami.json()) as { name: string; scopes: string[] }).scopes;
    assert.ok(held.includes('read:users'), `the token holds read:users: ${held}`);
    const missing = needed.filter(s => !held.includes(s)).sort();
    assert.deepEqual(missing, needed, `the token lacks the group scopes: ${held}`);
    const groups = await fetch(`${hub.apiUrl}/groups`, {
      headers: { Authorization: `token ${limited}` }
    });
    assert.equal(groups.status, 403, 'the hub refuses the groups to that token');

    const broken = await usageWithHubToken(limited);
    try {
      const res = await broken.inject({ url: '/api/v1/usage/groups', headers: as('carol') });
      assert.equal(res.statusCode, 503, res.body);
      const problem = res.json() as Problem;
      assert.equal(problem.code, 'hub_refused');
      // Named: exactly the scopes the token lacks, not the ones it holds.
      const named = [...new Set((problem.detail ?? '').match(/\b[a-z]+:[a-z_]+\b/g) ?? [])].sort();
      assert.deepEqual(named, missing, problem.detail);
      assert.match(problem.detail ?? '', /HTTP 403/);
      const users = await broken.inject({ url: '/api/v1/usage/users', headers: as('carol') });
      assert.equal(users.statusCode, 200, users.body);
    } finally {
      await broken.close();
    }
  });
});

describe('usage per group with list:groups but not read:groups', () => {
  it('answers 503 naming read:groups instead of counting every group as empty', async () => {
    const token = (await hub.createToken('admin', ['list:users', 'read:users', 'list:groups']))
      .token;
    // The premise: the hub lists the groups to this token, without their members.
    const listed = await fetch(`${hub.apiUrl}/groups`, {
      headers: { Authorization: `token ${token}` }
    });
    assert.equal(listed.status, 200);
    const items = (await listed.json()) as { name: string; users?: string[] }[];
    assert.ok(items.length > 0 && items.every(g => g.users === undefined), JSON.stringify(items));
    const app = await usageWithHubToken(token);
    try {
      const res = await app.inject({ url: '/api/v1/usage/groups', headers: as('carol') });
      assert.equal(res.statusCode, 503, res.body);
      const problem = res.json() as Problem;
      assert.equal(problem.code, 'hub_refused');
      const named = [...new Set((problem.detail ?? '').match(/\b[a-z]+:[a-z_]+\b/g) ?? [])];
      assert.deepEqual(named, ['read:groups'], problem.detail);
    } finally {
      await app.close();
    }
  });
});

describe('usage export access and validation', () => {
  it('refuses operators-only tables and exports to anyone else', async () => {
    for (const url of [
      '/api/v1/usage/users',
      '/api/v1/usage/groups',
      '/api/v1/usage/users.csv',
      '/api/v1/usage/groups.csv'
    ]) {
      const res = await get(url, 'alice');
      assert.equal(res.statusCode, 403, url);
      assert.equal((res.json() as Problem).code, 'forbidden', url);
      assert.doesNotMatch(res.body, /bob|HYPERLINK/, url);
    }
    // My own CSV has no way to name someone else.
    const other = await get('/api/v1/usage/history.csv?user=bob', 'alice');
    assert.equal(other.statusCode, 400);
    const bob = await get('/api/v1/usage/history.csv?days=30', 'bob');
    assert.doesNotMatch(bob.body, /core-hours,10,/);
    assert.match(bob.body, /\r\ntotal,,,,,,,16,CZK\r\n$/);
  });

  it('refuses days out of 1..400 or not a number, naming the field', async () => {
    for (const path of ['history.csv', 'users.csv', 'groups.csv', 'groups']) {
      for (const days of ['0', '401', 'abc', '1.5']) {
        const res = await get(`/api/v1/usage/${path}?days=${days}`, 'carol');
        assert.equal(res.statusCode, 400, `${path} days=${days}`);
        const problem = res.json() as Problem;
        assert.equal(problem.code, 'validation_failed');
        assert.match(problem.detail ?? '', /days/);
      }
    }
  });
});
