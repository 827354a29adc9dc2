/**
 * Limits of welcome back (issue 21, item 9), against a real JupyterHub and dev/llm's scripted
 * OpenAI-compatible server: summaries past the cache (`refresh`) are held to a few per user and
 * hour while cached reads are not, and the journal keeps no row past its retention.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { WelcomeSummary } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { startScriptedLlm, type IScriptedLlm } from '../../dev/llm/server.mjs';
import { analysis, run } from './fixtures/welcome/notebooks.js';
import { build, scratchDir, testConfig, type Overrides } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

let hub: IHub;
let llm: IScriptedLlm;
const tokens: Record<string, string> = {};
const PATH = 'work/rain.ipynb';
const DAY_MINUTES = 24 * 60;

before(async () => {
  [hub, llm] = await Promise.all([startHub(), startScriptedLlm()]);
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await Promise.all([hub?.stop(), llm?.close()]);
});

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function companion(t: TestContext, overrides: Overrides = {}) {
  return build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      llm: { baseUrl: llm.url, timeoutSeconds: 3, maxRetries: 0 },
      ...overrides
    })
  );
}

const post = (app: FastifyInstance, user: string, url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: as(user), payload: payload as object });

async function executions(app: FastifyInstance, user: string): Promise<number> {
  const res = await app.inject({
    url: `/api/v1/welcome/notebook?path=${encodeURIComponent(PATH)}`,
    headers: as(user)
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { executions: number }).executions;
}

describe('welcome: limits', { timeout: 120_000 }, () => {
  it('holds refresh (past the cache) to the hourly cap with 429 summary_refresh_limited; cached reads go on', async t => {
    const app = await companion(t, { welcome: { refreshesPerHour: 2, retentionDays: 180 } });
    const journal = { events: [run(PATH, 'c-load', 60), run(PATH, 'c-mean', 50)] };
    for (const user of ['alice', 'bob'])
      assert.equal((await post(app, user, '/api/v1/welcome/journal', journal)).statusCode, 200);
    const ask = (user: string, refresh: boolean) =>
      post(app, user, '/api/v1/welcome/summary', { path: PATH, cells: analysis(), refresh });

    const asked = llm.requests.length;
    for (let i = 0; i < 2; i++) {
      const res = await ask('alice', true);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as WelcomeSummary).source, 'llm');
    }
    const over = await ask('alice', true);
    assert.equal(over.statusCode, 429, over.body);
    assert.match(String(over.headers['content-type']), /^application\/problem\+json/);
    const problem = over.json() as { code: string; detail: string };
    assert.equal(problem.code, 'summary_refresh_limited');
    assert.match(problem.detail, /Ask without refresh for the summary already made/);
    const wait = Number(over.headers['retry-after']);
    assert.ok(wait > 3500 && wait <= 3600, `retry-after: ${wait}`);
    // The refused refresh did not reach the LLM: two calls for alice's two refreshes.
    assert.equal(llm.requests.length - asked, 2);

    // Ordinary reads come from the cache, as many as she likes.
    for (let i = 0; i < 5; i++) {
      const res = await ask('alice', false);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as WelcomeSummary).source, 'cache');
    }
    // Another user has a cap of their own.
    const bob = await ask('bob', true);
    assert.equal(bob.statusCode, 200, bob.body);
    assert.equal((bob.json() as WelcomeSummary).source, 'llm');
  });

  it('deletes journal rows past the retention on write and in the sweep; recent rows stay', async t => {
    const config = testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      database: { path: join(scratchDir(), 'hotstepper.sqlite') },
      welcome: { refreshesPerHour: 5, retentionDays: 30 }
    });
    const first = await build(t, config);
    // alice writes runs from 40 days ago (past the retention) and recent ones: the old go at once.
    const res = await post(first, 'alice', '/api/v1/welcome/journal', {
      events: [
        run(PATH, 'c-old-1', 40 * DAY_MINUTES),
        run(PATH, 'c-old-2', 31 * DAY_MINUTES),
        run(PATH, 'c-recent', 29 * DAY_MINUTES),
        run(PATH, 'c-today', 5)
      ]
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 4);
    assert.equal(await executions(first, 'alice'), 2);

    // bob's runs age while he writes nothing: the sweep (at start, then hourly) removes them.
    await post(first, 'bob', '/api/v1/welcome/journal', {
      events: [run(PATH, 'c-a', 10), run(PATH, 'c-b', 5)]
    });
    const db = first.database.db.withTables<{
      welcome_executions: { user_name: string; cell_id: string; started_at: string };
    }>();
    await db
      .updateTable('welcome_executions')
      .set({ started_at: new Date(Date.now() - 45 * 86_400_000).toISOString() })
      .where('user_name', '=', 'bob')
      .where('cell_id', '=', 'c-a')
      .execute();
    assert.equal(await executions(first, 'bob'), 2);
    await first.close();

    const second = await build(t, config);
    assert.equal(await executions(second, 'bob'), 1);
    assert.equal(await executions(second, 'alice'), 2);
    const kept = await second.database.db
      .withTables<{ welcome_executions: { user_name: string; cell_id: string } }>()
      .selectFrom('welcome_executions')
      .select(['user_name', 'cell_id'])
      .orderBy('user_name')
      .orderBy('cell_id')
      .execute();
    assert.deepEqual(
      kept.map(r => `${r.user_name}:${r.cell_id}`),
      ['alice:c-recent', 'alice:c-today', 'bob:c-b']
    );
  });
});
