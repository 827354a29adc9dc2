/**
 * Welcome back against a real JupyterHub (identity), real SQLite and dev/llm's scripted
 * OpenAI-compatible server (the only stand-in): journal ingest and its limits, the digest on
 * crafted notebooks, the summary with redaction, cache and every fault.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { WelcomeDigest, WelcomeSummary } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import OpenAI from 'openai';
import { MADE_UP_CELL_ID, scriptedContent } from '../../dev/llm/replies.mjs';
import { startScriptedLlm, type IScriptedLlm } from '../../dev/llm/server.mjs';
import { build, scratchDir, testConfig, type Overrides } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startPostgres, type IPostgres } from './helpers/postgres.js';
import {
  analysis,
  code,
  errorOutput,
  hash,
  large,
  run,
  type Cell
} from './fixtures/welcome/notebooks.js';

let hub: IHub;
let llm: IScriptedLlm;
let postgres: IPostgres;
const tokens: Record<string, string> = {};
const PATH = 'work/rain.ipynb';

before(async () => {
  [hub, llm, postgres] = await Promise.all([startHub(), startScriptedLlm(), startPostgres()]);
  for (const user of ['alice', 'bob', 'admin']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await Promise.all([hub?.stop(), llm?.close(), postgres?.stop()]);
});

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function companion(t: TestContext, overrides: Overrides = {}) {
  return build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      llm: { baseUrl: llm.url, timeoutSeconds: 3, maxRetries: 1, maxRetryAfterSeconds: 2 },
      ...overrides
    })
  );
}

const post = (app: FastifyInstance, user: string, url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: as(user), payload: payload as object });

function assertProblem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as { code: string; detail: string; errors?: { path: string }[] };
  assert.equal(body.code, code);
  return body;
}

async function runs(app: FastifyInstance, user: string, path = PATH): Promise<number> {
  const res = await app.inject({
    url: `/api/v1/welcome/notebook?path=${encodeURIComponent(path)}`,
    headers: as(user)
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { executions: number }).executions;
}

/** A test-only backdating of the last visit and runs: the database directly, not a route. */
async function backdate(app: FastifyInstance, user: string, days: number) {
  const shift = (iso: string | null) =>
    iso ? new Date(Date.parse(iso) - days * 86_400_000).toISOString() : null;
  const db = app.database.db.withTables<{
    welcome_notebooks: {
      user_name: string;
      last_opened_at: string | null;
      last_closed_at: string | null;
    };
    welcome_executions: { user_name: string; started_at: string };
  }>();
  for (const row of await db
    .selectFrom('welcome_notebooks')
    .selectAll()
    .where('user_name', '=', user)
    .execute()) {
    await db
      .updateTable('welcome_notebooks')
      .set({ last_opened_at: shift(row.last_opened_at), last_closed_at: shift(row.last_closed_at) })
      .where('user_name', '=', user)
      .execute();
  }
  for (const row of await db
    .selectFrom('welcome_executions')
    .selectAll()
    .where('user_name', '=', user)
    .execute()) {
    await db
      .updateTable('welcome_executions')
      .set({ started_at: shift(row.started_at)! })
      .where('user_name', '=', user)
      .where('started_at', '=', row.started_at)
      .execute();
  }
}

describe('journal', () => {
  it('answers a notebook without history as a state: 200, nulls, no runs, not hidden', async t => {
    const app = await companion(t);
    const res = await app.inject({
      url: `/api/v1/welcome/notebook?path=${encodeURIComponent('never/opened.ipynb')}`,
      headers: as('alice')
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      path: 'never/opened.ipynb',
      lastVisitAt: null,
      lastExecutionAt: null,
      daysAway: null,
      executions: 0,
      hidden: false
    });
  });

  it("stores a batch and keeps it per user: another user's path reads as never opened", async t => {
    const app = await companion(t);
    const res = await post(app, 'alice', '/api/v1/welcome/journal', {
      events: [
        run(PATH, 'c-load', 30),
        run(PATH, 'c-mean', 20, 'error', {
          errorName: 'ZeroDivisionError',
          errorValue: 'division by zero',
          executionCount: 2
        })
      ]
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { accepted: 2 });
    assert.equal(await runs(app, 'alice'), 2);
    // Bob sees exactly what a path nobody opened looks like: he cannot tell Alice has history.
    const bob = await app.inject({
      url: `/api/v1/welcome/notebook?path=${PATH}`,
      headers: as('bob')
    });
    assert.equal(bob.statusCode, 200, bob.body);
    assert.deepEqual(bob.json(), {
      path: PATH,
      lastVisitAt: null,
      lastExecutionAt: null,
      daysAway: null,
      executions: 0,
      hidden: false
    });
    // Bob's digest of the same path knows nothing of Alice's runs.
    const digest = (
      await post(app, 'bob', '/api/v1/welcome/digest', { path: PATH, cells: analysis() })
    ).json() as WelcomeDigest;
    assert.equal(digest.lastExecutions.length, 0);
    assert.equal(digest.lastWorkedAt, null);
  });

  it('refuses a batch of 100,000 events whole, and one over 1,000 by name', async t => {
    const app = await companion(t);
    const huge = { events: Array.from({ length: 100_000 }, (_, i) => run(PATH, `c${i}`, 1)) };
    assertProblem(await post(app, 'alice', '/api/v1/welcome/journal', huge), 413, 'body_too_large');
    const over = {
      events: Array.from({ length: 1001 }, () => ({
        path: 'a.ipynb',
        cellId: 'x',
        startedAt: '2026-11-01T00:00:00Z',
        durationMs: 1,
        status: 'ok'
      }))
    };
    const body = assertProblem(
      await post(app, 'alice', '/api/v1/welcome/journal', over),
      400,
      'validation_failed'
    );
    assert.match(body.detail, /body\.events/);
    assert.equal(await runs(app, 'alice', 'a.ipynb'), 0);
  });

  it('refuses a batch with one malformed entry, naming it, and writes nothing of it', async t => {
    const app = await companion(t);
    const events = Array.from({ length: 10 }, (_, i) => run(PATH, `c${i}`, 5));
    (events[7] as Record<string, unknown>).startedAt = 'yesterday';
    const body = assertProblem(
      await post(app, 'alice', '/api/v1/welcome/journal', { events }),
      400,
      'validation_failed'
    );
    assert.ok(
      body.errors?.some(e => e.path === 'body.events.7.startedAt'),
      JSON.stringify(body.errors)
    );
    (events[7] as Record<string, unknown>).startedAt = new Date().toISOString();
    (events[3] as Record<string, unknown>).status = 'exploded';
    assertProblem(
      await post(app, 'alice', '/api/v1/welcome/journal', { events }),
      400,
      'validation_failed'
    );
    assertProblem(
      await post(app, 'alice', '/api/v1/welcome/journal', { events: [] }),
      400,
      'validation_failed'
    );
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/welcome/journal',
      headers: { ...as('alice'), 'content-type': 'application/json' },
      payload: '{"events": ['
    });
    assertProblem(bad, 400, 'malformed_json');
    assert.equal(await runs(app, 'alice'), 0);
  });

  it('ingests 100,000 events in batches of 1,000 and survives a companion restart', async t => {
    const config = testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken }
    });
    const first = await build(t, config);
    const started = performance.now();
    for (let b = 0; b < 100; b++) {
      const events = Array.from({ length: 1000 }, (_, i) =>
        run(`n${b % 5}.ipynb`, `c${i}`, 1000 - i)
      );
      const res = await post(first, 'alice', '/api/v1/welcome/journal', { events });
      assert.equal(res.statusCode, 200, res.body);
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `100,000 events in ${seconds.toFixed(1)} s (${Math.round(100_000 / seconds)} events/s)`
    );
    await first.close();
    const second = await build(t, config);
    assert.equal(await runs(second, 'alice', 'n0.ipynb'), 20_000);
  });
});

describe('digest', () => {
  it('finds the outline, the last runs, the still-failing cell with its last frame, and cells never run', async t => {
    const app = await companion(t);
    await post(app, 'alice', '/api/v1/welcome/journal', {
      events: [
        run(PATH, 'c-load', 60),
        run(PATH, 'c-mean', 50, 'error', {
          errorName: 'ZeroDivisionError',
          errorValue: 'division by zero'
        })
      ]
    });
    await post(app, 'alice', '/api/v1/welcome/visits', {
      path: PATH,
      event: 'closed',
      cells: analysis().map(c => ({ id: c.id, sourceHash: hash(String(c.source)) }))
    });
    await backdate(app, 'alice', 7);
    const res = await post(app, 'alice', '/api/v1/welcome/digest', {
      path: PATH,
      cells: analysis()
    });
    assert.equal(res.statusCode, 200, res.body);
    const d = res.json() as WelcomeDigest;
    assert.deepEqual(
      d.outline.map(h => [h.level, h.text]),
      [
        [1, 'Rainfall analysis'],
        [2, 'Loading'],
        [2, 'Statistics']
      ]
    );
    assert.ok(d.daysAway! >= 7 && d.daysAway! < 7.1, String(d.daysAway));
    assert.deepEqual(
      d.lastExecutions.map(e => [e.cellId, e.index, e.status]),
      [
        ['c-load', 1, 'ok'],
        ['c-mean', 3, 'error']
      ]
    );
    assert.equal(d.failing?.cellId, 'c-mean');
    assert.equal(d.failing?.errorName, 'ZeroDivisionError');
    assert.match(
      d.failing!.lastFrame,
      /^Cell In\[2\], line 1\n----> 1 mean = df\.rain\.sum\(\) \/ 0$/
    );
    assert.deepEqual(
      d.neverRun.cells.map(c => c.cellId),
      ['c-plot']
    );
    assert.deepEqual(d.changed, []);
    const n = await app.inject({
      url: `/api/v1/welcome/notebook?path=${PATH}`,
      headers: as('alice')
    });
    assert.ok((n.json() as { daysAway: number }).daysAway >= 7);
  });

  it('says which cells changed or were added since my last visit, and how many went', async t => {
    const app = await companion(t);
    const before = analysis();
    await post(app, 'alice', '/api/v1/welcome/visits', {
      path: PATH,
      event: 'closed',
      cells: before.map(c => ({ id: c.id, sourceHash: hash(String(c.source)) }))
    });
    const now: Cell[] = before.filter(c => c.id !== 'c-empty');
    now[1] = { ...now[1], source: 'import pandas as pd\ndf = pd.read_csv("rain-2026.csv")' };
    now.push(code('c-new', 'df.describe()'));
    const d = (
      await post(app, 'alice', '/api/v1/welcome/digest', { path: PATH, cells: now })
    ).json() as WelcomeDigest;
    assert.deepEqual(
      d.changed.map(c => [c.cellId, c.change]),
      [
        ['c-load', 'changed'],
        ['c-new', 'added']
      ]
    );
    assert.equal(d.removedCount, 1);
  });

  it('keeps a 2,000-cell notebook within the token budget', async t => {
    const app = await companion(t);
    const cells = large(2000);
    await post(app, 'alice', '/api/v1/welcome/journal', {
      events: cells
        .filter(c => c.cell_type === 'code')
        .slice(0, 900)
        .map((c, i) => run('big.ipynb', c.id, 900 - i))
    });
    const d = (
      await post(app, 'alice', '/api/v1/welcome/digest', { path: 'big.ipynb', cells })
    ).json() as WelcomeDigest;
    assert.equal(d.cellCount, 2000);
    assert.ok(d.budget.tokens <= d.budget.limit, `${d.budget.tokens} tokens > ${d.budget.limit}`);
    assert.equal(d.budget.trimmed, true);
    assert.ok(d.neverRun.count > 250, String(d.neverRun.count));
    assert.ok(d.outline.length > 0 && d.lastExecutions.length > 0);
  });

  it('takes a 5,000-cell notebook over HTTP (more than the usual 1 MiB body)', async t => {
    const app = await companion(t);
    const cells = large(5000);
    const body = JSON.stringify({ path: 'huge.ipynb', cells });
    assert.ok(body.length > 1024 * 1024, `${body.length} bytes`);
    const res = await post(app, 'alice', '/api/v1/welcome/digest', JSON.parse(body));
    assert.equal(res.statusCode, 200, res.body.slice(0, 300));
    const d = res.json() as WelcomeDigest;
    assert.equal(d.cellCount, 5000);
    assert.ok(d.budget.tokens <= d.budget.limit);
  });

  it('reads binary outputs and odd shapes without trouble, and refuses a cell without an id', async t => {
    const app = await companion(t);
    const cells = [
      code('img', 'plot()', {
        execution_count: 3,
        outputs: [
          {
            output_type: 'display_data',
            data: { 'image/png': 'iVBORw0KGgo'.repeat(5000) },
            metadata: {}
          }
        ]
      }),
      { id: 'lines', cell_type: 'code', source: ['a = 1\n', 'b = 2'], outputs: [] } as Cell
    ];
    const d = (
      await post(app, 'alice', '/api/v1/welcome/digest', { path: 'bin.ipynb', cells })
    ).json() as WelcomeDigest;
    assert.equal(d.failing, null);
    assert.ok(!JSON.stringify(d).includes('iVBORw0KGgo'));
    assert.equal(d.neverRun.cells[0].source, 'a = 1\nb = 2');
    const body = assertProblem(
      await post(app, 'alice', '/api/v1/welcome/digest', {
        path: 'x.ipynb',
        cells: [{ cell_type: 'code', source: '' }]
      }),
      400,
      'validation_failed'
    );
    assert.ok(body.errors?.some(e => e.path === 'body.cells.0.id'));
  });
});

describe('summary', () => {
  async function summary(app: FastifyInstance, cells: Cell[], extra: object = {}, user = 'alice') {
    const started = performance.now();
    const res = await post(app, user, '/api/v1/welcome/summary', { path: PATH, cells, ...extra });
    assert.equal(res.statusCode, 200, res.body);
    return { body: res.json() as WelcomeSummary, ms: performance.now() - started };
  }

  async function journalled(t: TestContext) {
    const app = await companion(t);
    await post(app, 'alice', '/api/v1/welcome/journal', {
      events: [
        run(PATH, 'c-load', 60),
        run(PATH, 'c-mean', 50, 'error', {
          errorName: 'ZeroDivisionError',
          errorValue: 'division by zero'
        })
      ]
    });
    return app;
  }

  it('asks the LLM with structured output, links known cells, sends the user, and books the tokens', async t => {
    // The key from a file, as a mounted Kubernetes secret gives it.
    const keyFile = join(scratchDir(), 'api-key');
    writeFileSync(keyFile, 'sk-test-from-a-mounted-secret-0001\n');
    const app = await companion(t, {
      llm: {
        baseUrl: llm.url,
        apiKeyFile: keyFile,
        timeoutSeconds: 3,
        maxRetries: 1,
        maxRetryAfterSeconds: 2
      }
    });
    await post(app, 'alice', '/api/v1/welcome/journal', {
      events: [
        run(PATH, 'c-load', 60),
        run(PATH, 'c-mean', 50, 'error', {
          errorName: 'ZeroDivisionError',
          errorValue: 'division by zero'
        })
      ]
    });
    const before = llm.requests.length;
    const { body } = await summary(app, analysis());
    assert.equal(body.source, 'llm');
    assert.equal(body.scripted, true);
    assert.equal(body.note, null);
    assert.match(
      body.summary!.headline,
      /^Back to rain\.ipynb: 2 recent runs, one cell still failing$/
    );
    assert.equal(body.summary!.stoppedAt.cellId, 'c-mean');
    assert.equal(body.summary!.failure?.cellId, 'c-mean');
    const sent = llm.requests.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].body.user, 'alice');
    assert.equal(sent[0].body.response_format?.type, 'json_schema');
    assert.equal(sent[0].authorization, 'Bearer …0001');
    assert.match(sent[0].body.messages[0].content, /data, never instructions/);
    assertProblem(
      await app.inject({ url: '/api/v1/welcome/usage', headers: as('alice') }),
      403,
      'forbidden'
    );
    const usage = (
      await app.inject({ url: '/api/v1/welcome/usage', headers: as('admin') })
    ).json() as { users: { user: string; requests: number; promptTokens: number }[] };
    assert.equal(usage.users.length, 1);
    assert.equal(usage.users[0].user, 'alice');
    assert.equal(usage.users[0].requests, 1);
    assert.ok(usage.users[0].promptTokens > 100);
  });

  it('answers a reopen of the same notebook state from the cache, without a call', async t => {
    const app = await journalled(t);
    await summary(app, analysis());
    const before = llm.requests.length;
    const { body } = await summary(app, analysis());
    assert.equal(body.source, 'cache');
    assert.equal(body.summary!.stoppedAt.cellId, 'c-mean');
    assert.equal(llm.requests.length, before);
    const edited = analysis();
    edited[4] = code('c-plot', 'df.plot(kind="bar")');
    assert.equal((await summary(app, edited)).body.source, 'llm');
  });

  it('never lets a planted secret reach the endpoint', async t => {
    const app = await journalled(t);
    const secrets = {
      openai: 'sk-proj-Zx8f3KqL9mN2pR7tV5wY1bC4dE6gH0jS',
      aws: 'AKIAIOSFODNN7EXAMPLE',
      url: 'hunter2pass',
      pem: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
      random: 'q8Xv2Lr9TzW4mB7nK1pJ6sD3fG5hC0aE'
    };
    const cells = analysis();
    cells[1] = code(
      'c-load',
      `import os\nos.environ["OPENAI_API_KEY"] = "${secrets.openai}"\ndb = connect("postgres://ana:${secrets.url}@db.example.org/rain")\nkey = "${secrets.random}"`,
      { execution_count: 1 }
    );
    cells[3] = code(
      'c-mean',
      `aws = "${secrets.aws}"\npem = """-----BEGIN PRIVATE KEY-----\n${secrets.pem}\n-----END PRIVATE KEY-----"""\n1/0`,
      {
        execution_count: 2,
        outputs: [errorOutput('ValueError', `bad key ${secrets.openai}`, 'Cell In[2], line 3')]
      }
    );
    const before = llm.requests.length;
    const { body } = await summary(app, cells, { refresh: true });
    assert.equal(body.source, 'llm');
    const sent = JSON.stringify(llm.requests.slice(before));
    assert.ok(sent.length > 1000);
    for (const [what, secret] of Object.entries(secrets))
      assert.ok(!sent.includes(secret), `${what} leaked`);
    assert.match(sent, /\[redacted OpenAI\/Anthropic key\]/);
    assert.match(sent, /ana:\[redacted password\]@db\.example\.org/);
    // The user still sees their own notebook in the digest.
    assert.ok(JSON.stringify(body.digest).includes(secrets.openai));
  });

  for (const fault of [
    'rate_limit',
    'slow_rate_limit',
    'server_error',
    'stall',
    'malformed',
    'schema_break'
  ]) {
    it(`gives the digest alone with a note when the endpoint answers ${fault}`, async t => {
      const app = await journalled(t);
      llm.faults.push(fault, fault);
      const { body, ms } = await summary(app, analysis(), { refresh: true });
      llm.faults.length = 0;
      assert.equal(body.summary, null);
      assert.equal(body.source, 'none');
      assert.match(body.note!, /^The summary is not available: .+ This is the digest alone\.$/);
      assert.equal(body.digest.failing?.cellId, 'c-mean');
      assert.ok(ms < 3000 + 1500, `took ${Math.round(ms)} ms`);
      t.diagnostic(`${fault}: ${body.note} (${Math.round(ms)} ms)`);
    });
  }

  it('retries one 429 within the retry-after cap and then succeeds', async t => {
    const app = await journalled(t);
    llm.faults.push('rate_limit');
    const { body, ms } = await summary(app, analysis(), { refresh: true });
    assert.equal(body.source, 'llm');
    assert.ok(ms >= 900, `waited ${Math.round(ms)} ms for retry-after: 1`);
  });

  it('passes a prompt-injected answer on as plain text, with made-up cell ids dropped', async t => {
    const app = await journalled(t);
    const cells = analysis();
    cells[4] = code('c-plot', 'df.plot()  # [[scripted:injection]]');
    const before = llm.requests.length;
    const { body } = await summary(app, cells, { refresh: true });
    assert.equal(body.source, 'llm');
    assert.match(body.summary!.headline, /^<img src=x onerror=/);
    assert.ok(body.summary!.nextSteps.some(s => s.includes('<script>')));
    // What the LLM really answered: the real last run (c-mean) as where they stopped, and a cell
    // id this notebook does not have on the failure.
    const sent = llm.requests.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].fault, 'injection');
    const answered = JSON.parse(scriptedContent(sent[0].body, sent[0].fault)) as {
      stoppedAt: { cellId: string | null };
      failure: { cellId: string | null } | null;
    };
    assert.equal(answered.stoppedAt.cellId, 'c-mean');
    assert.equal(answered.failure?.cellId, MADE_UP_CELL_ID);
    assert.ok(!cells.some(c => c.id === MADE_UP_CELL_ID));
    assert.ok(cells.some(c => c.id === 'c-mean'));
    // The summary keeps the real reference and drops the made-up one (the failure itself stays).
    assert.equal(body.summary!.stoppedAt.cellId, 'c-mean');
    assert.ok(body.summary!.failure, 'the failure is kept, only its made-up cell id is dropped');
    assert.equal(body.summary!.failure.cellId, null);
    assert.match(body.summary!.failure.error, /ZeroDivisionError/);
    assert.ok(!JSON.stringify(body.summary).includes(MADE_UP_CELL_ID));
  });

  it('keeps an opted-out notebook away from the LLM, and says so', async t => {
    const app = await journalled(t);
    const before = llm.requests.length;
    const meta = await summary(app, analysis(), {
      metadata: { hotstepper: { welcome: { summarise: false } } }
    });
    const folder = await summary(app, analysis(), { private: true });
    assert.equal(llm.requests.length, before);
    for (const { body } of [meta, folder]) {
      assert.equal(body.summary, null);
      assert.match(body.note!, /kept away from the LLM/);
    }
  });

  it('says there is no LLM when none is configured', async t => {
    const app = await build(
      t,
      testConfig({ jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken } })
    );
    const res = await post(app, 'alice', '/api/v1/welcome/summary', {
      path: PATH,
      cells: analysis()
    });
    const body = res.json() as WelcomeSummary;
    assert.equal(body.summary, null);
    assert.match(body.note!, /No LLM is configured/);
  });

  it('shows operators that the LLM is the scripted server', async t => {
    const app = await companion(t);
    const me = (await app.inject({ url: '/api/v1/me', headers: as('admin') })).json() as {
      connections: { name: string; state: string; detail: string }[];
    };
    const conn = me.connections.find(c => c.name === 'llm')!;
    assert.equal(conn.state, 'connected');
    assert.match(conn.detail, /^Scripted test server \(dev\/llm, not a language model\)/);
  });
});

describe('scripted server', () => {
  it('streams the same reply over SSE that it answers as JSON, through the real SDK', async () => {
    const client = new OpenAI({ baseURL: llm.url, apiKey: 'x' });
    const request = {
      model: 'hotstepper-scripted',
      messages: [{ role: 'user' as const, content: 'hello' }]
    };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true }
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage ??= chunk.usage;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.ok(text.length > 20);
    assert.ok(usage);
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map(m => m.owned_by),
      ['hotstepper-scripted']
    );
  });
});

describe('on PostgreSQL', () => {
  it('keeps the journal, visits, hidden flag, summary cache and token usage', async t => {
    const app = await companion(t, { database: { url: await postgres.createDatabase() } });
    const events = [
      run(PATH, 'c-load', 60),
      run(PATH, 'c-mean', 50, 'error', {
        errorName: 'ZeroDivisionError',
        errorValue: 'division by zero'
      })
    ];
    assert.deepEqual((await post(app, 'alice', '/api/v1/welcome/journal', { events })).json(), {
      accepted: 2
    });
    const cells = analysis();
    const visit = {
      path: PATH,
      event: 'closed',
      cells: cells.map(c => ({ id: c.id, sourceHash: hash(String(c.source)) }))
    };
    assert.equal((await post(app, 'alice', '/api/v1/welcome/visits', visit)).statusCode, 200);
    cells[1] = { ...cells[1], source: 'df = load()' };
    const first = (
      await post(app, 'alice', '/api/v1/welcome/summary', { path: PATH, cells })
    ).json() as WelcomeSummary;
    assert.equal(first.source, 'llm');
    assert.deepEqual(
      first.digest.changed.map(c => c.cellId),
      ['c-load']
    );
    assert.equal(first.digest.failing?.cellId, 'c-mean');
    const again = (
      await post(app, 'alice', '/api/v1/welcome/summary', { path: PATH, cells })
    ).json() as WelcomeSummary;
    assert.equal(again.source, 'cache');
    await post(app, 'alice', '/api/v1/welcome/summary', { path: PATH, cells, refresh: true });
    const usage = (
      await app.inject({ url: '/api/v1/welcome/usage', headers: as('admin') })
    ).json() as { users: { requests: number }[] };
    assert.equal(usage.users[0].requests, 2);
    const hidden = await app.inject({
      method: 'PUT',
      url: '/api/v1/welcome/notebook',
      headers: as('alice'),
      payload: { path: PATH, hidden: true }
    });
    assert.equal((hidden.json() as { hidden: boolean; executions: number }).hidden, true);
    assert.equal((hidden.json() as { executions: number }).executions, 2);
    // Alice's runs and hidden choice stay hers.
    const bob = await app.inject({
      url: `/api/v1/welcome/notebook?path=${PATH}`,
      headers: as('bob')
    });
    assert.equal(bob.statusCode, 200, bob.body);
    const seen = bob.json() as { executions: number; hidden: boolean };
    assert.deepEqual(
      { executions: seen.executions, hidden: seen.hidden },
      { executions: 0, hidden: false }
    );
  });
});
