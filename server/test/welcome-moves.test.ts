/**
 * Welcome back across a rename: POST /api/v1/welcome/journal/moves carries the caller's runs,
 * visit record and cached summary from one notebook path to another, against a real JupyterHub
 * (identity) and SQLite, and the merge once on PostgreSQL. The journey it serves: a new notebook
 * runs as Untitled.ipynb, the first save renames it, and its history must follow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { WelcomeDigest, WelcomeNotebook } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { build, testConfig, type Overrides } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startPostgres, type IPostgres } from './helpers/postgres.js';
import { analysis, hash, run } from './fixtures/welcome/notebooks.js';

const UNTITLED = 'Untitled.ipynb';
const NAMED = 'analysis.ipynb';
const MOVES = '/api/v1/welcome/journal/moves';

let hub: IHub;
let postgres: IPostgres;
const tokens: Record<string, string> = {};

before(async () => {
  [hub, postgres] = await Promise.all([startHub(), startPostgres()]);
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await Promise.all([hub?.stop(), postgres?.stop()]);
});

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function companion(t: TestContext, overrides: Overrides = {}) {
  return build(
    t,
    testConfig({ jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken }, ...overrides })
  );
}

const post = (app: FastifyInstance, user: string, url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: as(user), payload: payload as object });

async function notebook(app: FastifyInstance, user: string, path: string) {
  const res = await app.inject({
    url: `/api/v1/welcome/notebook?path=${encodeURIComponent(path)}`,
    headers: as(user)
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as WelcomeNotebook;
}

async function digest(app: FastifyInstance, user: string, path: string) {
  const res = await post(app, user, '/api/v1/welcome/digest', { path, cells: analysis() });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as WelcomeDigest;
}

async function journal(app: FastifyInstance, user: string, events: unknown[]) {
  const res = await post(app, user, '/api/v1/welcome/journal', { events });
  assert.equal(res.statusCode, 200, res.body);
}

async function visit(app: FastifyInstance, user: string, path: string, event = 'opened') {
  const cells = analysis().map(c => ({ id: c.id, sourceHash: hash(c.source) }));
  const res = await post(app, user, '/api/v1/welcome/visits', { path, event, cells });
  assert.equal(res.statusCode, 200, res.body);
}

function assertProblem(res: LightMyRequestResponse, field: string, message: RegExp) {
  assert.equal(res.statusCode, 400, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as {
    code: string;
    detail: string;
    errors?: { path: string; message: string }[];
  };
  assert.equal(body.code, 'validation_failed', res.body);
  const error = body.errors?.find(e => e.path === field);
  assert.ok(error, `no error for ${field}: ${res.body}`);
  assert.match(error.message, message, res.body);
  assert.match(body.detail, new RegExp(field.replace('.', '\\.')), res.body);
}

/** Everyone's cached summary rows (the database directly: no route reads the cache bare). */
const summaries = (app: FastifyInstance) =>
  app.database.db
    .withTables<{ welcome_summaries: { user_name: string; path: string } }>()
    .selectFrom('welcome_summaries')
    .select(['user_name', 'path'])
    .orderBy('user_name')
    .execute();

/** Alice's Untitled.ipynb: three runs (the last one failing), a visit, hidden; Bob's the same path. */
async function untitled(app: FastifyInstance) {
  await journal(app, 'alice', [
    run(UNTITLED, 'c-load', 30),
    run(UNTITLED, 'c-mean', 20, 'error', {
      errorName: 'ZeroDivisionError',
      errorValue: 'division by zero',
      executionCount: 2
    }),
    run(UNTITLED, 'c-plot', 10)
  ]);
  await visit(app, 'alice', UNTITLED);
  await journal(app, 'bob', [run(UNTITLED, 'c-load', 5)]);
  await visit(app, 'bob', UNTITLED);
}

describe('welcome: a notebook renamed', () => {
  it('moves my runs, visit and digest from Untitled.ipynb to the new name; Bob keeps his', async t => {
    const app = await companion(t);
    await untitled(app);
    const before = await digest(app, 'alice', UNTITLED);
    for (const user of ['alice', 'bob']) {
      await app.database.db
        .withTables<{ welcome_summaries: Record<string, string> }>()
        .insertInto('welcome_summaries')
        .values({
          user_name: user,
          path: UNTITLED,
          input_hash: '0'.repeat(64),
          summary: '{}',
          model: 'm',
          created_at: new Date().toISOString()
        })
        .execute();
    }
    assert.equal(before.lastExecutions.length, 3);

    const res = await post(app, 'alice', MOVES, { from: UNTITLED, to: NAMED });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');

    const moved = await notebook(app, 'alice', NAMED);
    assert.equal(moved.executions, 3);
    assert.equal(moved.lastVisitAt, (await notebook(app, 'alice', NAMED)).lastVisitAt);
    assert.notEqual(moved.lastVisitAt, null);
    const after = await digest(app, 'alice', NAMED);
    assert.equal(after.path, NAMED);
    assert.deepEqual(
      after.lastExecutions.map(e => [e.cellId, e.status]),
      before.lastExecutions.map(e => [e.cellId, e.status])
    );
    assert.equal(after.failing?.cellId, before.failing?.cellId);
    assert.equal(after.lastVisitAt, before.lastVisitAt);
    // The summary's digest (no LLM configured here: summary null, the digest all the same).
    const summary = await post(app, 'alice', '/api/v1/welcome/summary', {
      path: NAMED,
      cells: analysis()
    });
    assert.equal(summary.statusCode, 200, summary.body);
    assert.equal((summary.json() as { digest: WelcomeDigest }).digest.lastExecutions.length, 3);
    // The cached summary row went along.
    assert.deepEqual(
      (await summaries(app)).map(r => [r.user_name, r.path]),
      [
        ['alice', NAMED],
        ['bob', UNTITLED]
      ]
    );

    // Nothing is left under the old name: it reads as a notebook never opened.
    assert.deepEqual(await notebook(app, 'alice', UNTITLED), {
      path: UNTITLED,
      lastVisitAt: null,
      lastExecutionAt: null,
      daysAway: null,
      executions: 0,
      hidden: false
    });
    assert.equal((await digest(app, 'alice', UNTITLED)).lastExecutions.length, 0);

    // Bob's Untitled.ipynb is his own: untouched, and nothing of Alice's reached his new name.
    const bob = await notebook(app, 'bob', UNTITLED);
    assert.equal(bob.executions, 1);
    assert.notEqual(bob.lastVisitAt, null);
    assert.equal((await notebook(app, 'bob', NAMED)).executions, 0);
  });

  it('answers 204 when there is nothing to move, and the move is idempotent', async t => {
    const app = await companion(t);
    await untitled(app);
    // A notebook saved under a new name before any run; a second pathChanged for the same move.
    let res = await post(app, 'alice', MOVES, { from: 'never/run.ipynb', to: 'x.ipynb' });
    assert.equal(res.statusCode, 204, res.body);
    res = await post(app, 'alice', MOVES, { from: UNTITLED, to: UNTITLED });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(
      (await notebook(app, 'alice', UNTITLED)).executions,
      3,
      'onto itself: nothing moves'
    );
    res = await post(app, 'alice', MOVES, { from: UNTITLED, to: NAMED });
    assert.equal(res.statusCode, 204, res.body);
    res = await post(app, 'alice', MOVES, { from: UNTITLED, to: NAMED });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await notebook(app, 'alice', NAMED)).executions, 3);
    // Bob moving "his" analysis.ipynb moves nothing of Alice's.
    res = await post(app, 'bob', MOVES, { from: NAMED, to: 'stolen.ipynb' });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await notebook(app, 'alice', NAMED)).executions, 3);
    assert.equal((await notebook(app, 'bob', 'stolen.ipynb')).executions, 0);
    // Into a folder and back out: a move is a move.
    res = await post(app, 'alice', MOVES, { from: NAMED, to: 'work/2026/analysis.ipynb' });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await notebook(app, 'alice', 'work/2026/analysis.ipynb')).executions, 3);
  });

  it('refuses an empty or absolute path and a .. segment, by field', async t => {
    const app = await companion(t);
    await untitled(app);
    const move = (body: unknown) => post(app, 'alice', MOVES, body);
    assertProblem(await move({ from: '', to: NAMED }), 'body.from', /fewer than 1 characters/);
    assertProblem(await move({ from: UNTITLED, to: '/home/alice/a.ipynb' }), 'body.to', /pattern/);
    assertProblem(await move({ from: UNTITLED, to: '../bob/a.ipynb' }), 'body.to', /'\.\.'/);
    assertProblem(await move({ from: 'a/../Untitled.ipynb', to: NAMED }), 'body.from', /'\.\.'/);
    assertProblem(await move({ from: UNTITLED }), 'body.to', /required/);
    assertProblem(
      await move({ from: UNTITLED, to: NAMED, user: 'bob' }),
      'body.user',
      /additional/
    );
    // Nothing moved.
    assert.equal((await notebook(app, 'alice', UNTITLED)).executions, 3);
  });

  for (const db of ['SQLite', 'PostgreSQL']) {
    it(`merges into a path that has history already (${db}): runs appended, newest wins`, async t => {
      const app = await companion(
        t,
        db === 'PostgreSQL' ? { database: { url: await postgres.createDatabase() } } : {}
      );
      await untitled(app);
      // The old name was hidden; the new name got a visit and a run first (saved, then reported).
      const hide = await app.inject({
        method: 'PUT',
        url: '/api/v1/welcome/notebook',
        headers: as('alice'),
        payload: { path: UNTITLED, hidden: true }
      });
      assert.equal(hide.statusCode, 200, hide.body);
      await journal(app, 'alice', [run(NAMED, 'c-empty', 1)]);
      await new Promise(r => setTimeout(r, 20));
      await visit(app, 'alice', NAMED, 'closed');
      const newest = (await notebook(app, 'alice', NAMED)).lastVisitAt;

      const res = await post(app, 'alice', MOVES, { from: UNTITLED, to: NAMED });
      assert.equal(res.statusCode, 204, res.body);
      const merged = await notebook(app, 'alice', NAMED);
      assert.equal(merged.executions, 4);
      assert.equal(merged.lastVisitAt, newest);
      assert.equal(merged.hidden, true, 'a "don\'t show" choice survives the rename');
      assert.equal((await notebook(app, 'alice', UNTITLED)).executions, 0);
      assert.equal((await digest(app, 'alice', NAMED)).lastExecutions.at(-1)?.cellId, 'c-empty');
      assert.equal((await notebook(app, 'bob', UNTITLED)).executions, 1);
    });
  }
});
