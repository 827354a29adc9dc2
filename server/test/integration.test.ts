/**
 * The companion against a real JupyterHub and, for everything stored, both SQLite and a real
 * PostgreSQL. Both are started once for this file; JupyterHub is stopped by the last suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Me, Preferences, Status, User } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { features } from '../src/app.js';
import { collectMigrations } from '../src/platform/feature.js';
import { serverReportMigrations } from '../src/platform/server-reports.js';
import { route } from '../src/platform/routes.js';
import { build, testConfig, type Overrides } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';
import { startPostgres, type IPostgres } from './helpers/postgres.js';

let hub: IHub;
let postgres: IPostgres;
const tokens: Record<string, string> = {};

before(async () => {
  [hub, postgres] = await startAll(startHub(), startPostgres());
  for (const user of ['alice', 'bob', 'carol', 'admin']) {
    tokens[user] = (await hub.createToken(user)).token;
  }
});
after(async () => {
  await Promise.all([hub?.stop(), postgres?.stop()]);
});

const hubConfig = (): Overrides => ({
  jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken }
});

function companion(t: TestContext, overrides: Overrides = {}) {
  return build(t, testConfig({ ...hubConfig(), ...overrides }));
}

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function assertProblem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.ok(body.detail.length > 20, 'the detail says what happened');
  return body as { detail: string; errors?: { path: string; message: string }[] };
}

describe('identity', () => {
  const me = async (app: FastifyInstance, headers: Record<string, string>) => {
    const res = await app.inject({ url: '/api/v1/me', headers });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as Me).user;
  };

  it('resolves each user from their own hub token, with groups and the admin flag', async t => {
    const app = await companion(t);
    const expected: Record<string, User> = {
      alice: { name: 'alice', groups: ['students'], admin: false },
      bob: { name: 'bob', groups: [], admin: false },
      // hub admin flag
      admin: { name: 'admin', groups: [], admin: true },
      // member of the configured admin group (default hotstepper-admins)
      carol: { name: 'carol', groups: ['hotstepper-admins'], admin: true }
    };
    for (const [name, user] of Object.entries(expected)) {
      assert.deepEqual(await me(app, as(name)), user);
    }
  });

  it('takes the admin groups from the configuration', async t => {
    const app = await companion(t, { identity: { adminGroups: ['students'] } });
    assert.equal((await me(app, as('carol'))).admin, false);
    assert.equal((await me(app, as('alice'))).admin, true);
  });

  it('accepts "Bearer" as well as "token"', async t => {
    const app = await companion(t);
    const user = await me(app, { authorization: `Bearer ${tokens.bob}` });
    assert.equal(user.name, 'bob');
  });

  it('answers 401 token_missing without a token, and for other schemes', async t => {
    const app = await companion(t);
    assertProblem(await app.inject({ url: '/api/v1/me' }), 401, 'token_missing');
    const basic = { authorization: 'Basic YWxpY2U6c2VjcmV0' };
    assertProblem(await app.inject({ url: '/api/v1/me', headers: basic }), 401, 'token_missing');
  });

  it('answers 401 token_invalid for a token the hub does not know', async t => {
    const app = await companion(t);
    const res = await app.inject({
      url: '/api/v1/me',
      headers: { authorization: 'token garbage' }
    });
    const problem = assertProblem(res, 401, 'token_invalid');
    assert.match(problem.detail, /Log in to JupyterHub again/);
  });

  it('refuses a service token with 403 not_a_user', async t => {
    const app = await companion(t);
    const headers = { authorization: `token ${hub.serviceToken}` };
    assertProblem(await app.inject({ url: '/api/v1/me', headers }), 403, 'not_a_user');
  });

  it('asks the hub once per token within the cache time', async t => {
    const app = await companion(t);
    for (let i = 0; i < 3; i++) await me(app, as('alice'));
    assert.deepEqual(app.identity.stats(), { entries: 1, hits: 2, misses: 1, ttlSeconds: 30 });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^hotstepper_identity_cache_hits_total 2$/m);
    assert.match(metrics, /^hotstepper_identity_cache_misses_total 1$/m);
  });

  it('rejects a revoked token once the cache time has passed, and evicts it', async t => {
    const app = await companion(t, { identity: { cacheSeconds: 1 } });
    const { id, token } = await hub.createToken('alice');
    const headers = { authorization: `token ${token}` };
    assert.equal((await me(app, headers)).name, 'alice');
    await hub.revokeToken('alice', id);
    // Still cached: the hub is not asked again within the TTL.
    assert.equal((await me(app, headers)).name, 'alice');
    assert.equal(app.identity.stats().entries, 1);
    await new Promise(r => setTimeout(r, 1100));
    assertProblem(await app.inject({ url: '/api/v1/me', headers }), 401, 'token_invalid');
    assert.equal(app.identity.stats().entries, 0, 'the 401 from the hub evicted the entry');
  });

  it('lets operators see /status and answers 403 forbidden to everyone else', async t => {
    const app = await companion(t);
    for (const user of ['alice', 'bob']) {
      const res = await app.inject({ url: '/api/v1/status', headers: as(user) });
      assertProblem(res, 403, 'forbidden');
    }
    for (const user of ['admin', 'carol']) {
      const res = await app.inject({ url: '/api/v1/status', headers: as(user) });
      assert.equal(res.statusCode, 200, res.body);
    }
  });

  it('needs no token for the API docs', async t => {
    const app = await companion(t);
    const res = await app.inject({ url: '/api/docs/json' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().paths['/api/v1/me'].get.operationId, 'getMe');
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`with ${dialect}`, () => {
    // A fresh database per test; `database` keeps it for a restart within the test.
    const database = async () =>
      dialect === 'postgres' ? { url: await postgres.createDatabase() } : {};
    const put = (app: FastifyInstance, user: string, payload: unknown, type = 'application/json') =>
      app.inject({
        method: 'PUT',
        url: '/api/v1/me/preferences',
        headers: { ...as(user), 'content-type': type },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
      });
    const get = async (app: FastifyInstance, user: string) => {
      const res = await app.inject({ url: '/api/v1/me/preferences', headers: as(user) });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as Preferences;
    };

    it('answers /me with the user and the connections', async t => {
      const app = await companion(t, { database: await database() });
      const connectionsOf = async (user: string) => {
        const res = await app.inject({ url: '/api/v1/me', headers: as(user) });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json() as Me;
        assert.equal(body.user.name, user);
        return Object.fromEntries(body.connections.map(c => [c.name, c]));
      };
      // An operator sees where each part is, to act on it.
      const byName = await connectionsOf('admin');
      assert.deepEqual(Object.keys(byName), [
        'jupyterhub',
        'database',
        'kubernetes',
        'prometheus',
        'llm'
      ]);
      assert.equal(byName.jupyterhub.state, 'connected', byName.jupyterhub.detail);
      assert.match(byName.jupyterhub.detail, /^JupyterHub 5\.\d+\.\d+ at http:\/\/127\.0\.0\.1/);
      assert.equal(byName.database.state, 'connected', byName.database.detail);
      assert.match(
        byName.database.detail,
        dialect === 'sqlite' ? /^SQLite at / : /^PostgreSQL at /
      );
      assert.ok(
        !byName.database.detail.includes('@'),
        'no database credentials, even for operators'
      );
      for (const off of ['kubernetes', 'prometheus', 'llm']) {
        assert.equal(byName[off].state, 'not_configured');
      }
      // A user sees the same states, but no internal address, path or configuration hint.
      const forUser = await connectionsOf('alice');
      for (const [name, c] of Object.entries(forUser)) {
        assert.equal(c.state, byName[name].state);
        assert.doesNotMatch(c.detail, /127\.0\.0\.1|sqlite|\/|KUBECONFIG|url/i, c.detail);
      }
      assert.equal(forUser.jupyterhub.detail, 'Connected.');
      assert.equal(forUser.llm.detail, 'Not set up on this platform.');
    });

    it('gives default preferences until a user stores some, and keeps users apart', async t => {
      const app = await companion(t, { database: await database() });
      assert.deepEqual(await get(app, 'alice'), { welcomeBack: true, idleMail: true });
      const res = await put(app, 'alice', { welcomeBack: false, idleMail: true });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { welcomeBack: false, idleMail: true });
      assert.deepEqual(await get(app, 'alice'), { welcomeBack: false, idleMail: true });
      assert.deepEqual(await get(app, 'bob'), { welcomeBack: true, idleMail: true });
      await put(app, 'bob', { welcomeBack: true, idleMail: false });
      assert.deepEqual(await get(app, 'alice'), { welcomeBack: false, idleMail: true });
      assert.deepEqual(await get(app, 'bob'), { welcomeBack: true, idleMail: false });
    });

    it('keeps preferences across a restart with the same database', async t => {
      const config = testConfig({ ...hubConfig(), database: await database() });
      const first = await build(t, config);
      assert.equal(
        (await put(first, 'alice', { welcomeBack: false, idleMail: false })).statusCode,
        200
      );
      await first.close();
      const second = await build(t, config);
      assert.deepEqual(await get(second, 'alice'), { welcomeBack: false, idleMail: false });
      // Migrations ran once, at the first start.
      const res = await second.inject({ url: '/api/v1/status', headers: as('admin') });
      const status = res.json() as Status;
      const every = Object.keys({
        ...serverReportMigrations,
        ...collectMigrations(features)
      }).sort();
      assert.ok(every.includes('2026-11-25_me_preferences'));
      assert.deepEqual(status.database, { dialect, migrations: every });
    });

    it('rejects malformed JSON, other content types, unknown keys and wrong types', async t => {
      const app = await companion(t, { database: await database() });
      assertProblem(await put(app, 'alice', '{"welcomeBack": tru'), 400, 'malformed_json');
      // An empty body labelled JSON (what Jupyter's ServerConnection sends) is no body at all.
      const empty = await put(app, 'alice', '');
      assertProblem(empty, 400, 'validation_failed');
      assert.match((empty.json() as { detail: string }).detail, /body/);
      assertProblem(await put(app, 'alice', '{"__proto__": {"x": 1}}'), 400, 'malformed_json');
      assertProblem(
        await put(app, 'alice', 'welcomeBack=false', 'text/plain'),
        415,
        'unsupported_media_type'
      );

      const unknown = assertProblem(
        await put(app, 'alice', { welcomeBack: true, idleMail: true, colour: 'red' }),
        400,
        'validation_failed'
      );
      assert.deepEqual(
        unknown.errors?.map(e => e.path),
        ['body.colour']
      );

      // "false" is not false: bodies are not coerced.
      const typed = assertProblem(
        await put(app, 'alice', { welcomeBack: 'false', idleMail: 1 }),
        400,
        'validation_failed'
      );
      assert.deepEqual(typed.errors?.map(e => e.path).sort(), [
        'body.idleMail',
        'body.welcomeBack'
      ]);

      const missing = assertProblem(
        await put(app, 'alice', { welcomeBack: false }),
        400,
        'validation_failed'
      );
      assert.deepEqual(
        missing.errors?.map(e => e.path),
        ['body.idleMail']
      );

      const big = JSON.stringify({
        welcomeBack: true,
        idleMail: true,
        pad: 'x'.repeat(1024 * 1024)
      });
      assertProblem(await put(app, 'alice', big), 413, 'body_too_large');

      // Nothing of the above was stored.
      assert.deepEqual(await get(app, 'alice'), { welcomeBack: true, idleMail: true });
    });

    it('reports the database and the identity cache in /status', async t => {
      const app = await companion(t, { database: await database() });
      const res = await app.inject({ url: '/api/v1/status', headers: as('admin') });
      assert.equal(res.statusCode, 200, res.body);
      const status = res.json() as Status;
      assert.equal(status.version, '0.1.0');
      assert.equal(status.node, process.version);
      assert.equal(status.database.dialect, dialect);
      assert.deepEqual(status.identityCache, { entries: 1, hits: 0, misses: 1, ttlSeconds: 30 });
      assert.ok(status.uptimeSeconds >= 0 && Date.parse(status.startedAt) <= Date.now());
      assert.equal(status.connections.find(c => c.name === 'database')?.state, 'connected');
      // Secrets never come back.
      assert.ok(!res.body.includes(hub.serviceToken));
    });
  });
}

describe('operations', () => {
  it('is alive, and ready while the database and JupyterHub answer', async t => {
    const app = await companion(t);
    assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
    const checks = ready
      .json()
      .checks.map((c: { name: string; state: string }) => `${c.name}:${c.state}`);
    assert.deepEqual(checks, ['jupyterhub:connected', 'database:connected']);
  });

  it('is not ready when the service token is wrong, and says so', async t => {
    const app = await companion(t, {
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: 'not-the-token' }
    });
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    const check = ready.json().checks.find((c: { name: string }) => c.name === 'jupyterhub');
    assert.match(check.detail, /rejects the companion's service token/);
  });

  it('counts requests by route template, method and status', async t => {
    const app = await companion(t);
    await app.inject({ url: '/api/v1/me', headers: as('alice') });
    await app.inject({ url: '/api/v1/me' });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(
      metrics,
      /hotstepper_http_request_duration_seconds_count\{route="\/api\/v1\/me",method="GET",status_code="200"\} 1/
    );
    assert.match(
      metrics,
      /hotstepper_http_request_duration_seconds_count\{route="\/api\/v1\/me",method="GET",status_code="401"\} 1/
    );
    assert.match(metrics, /^process_cpu_user_seconds_total /m);
  });

  it('answers unknown routes with 404 not_found', async t => {
    const app = await companion(t);
    assertProblem(
      await app.inject({ url: '/api/v1/nothing', headers: as('bob') }),
      404,
      'not_found'
    );
    assertProblem(await app.inject({ url: '/nothing' }), 404, 'not_found');
  });

  it('turns a response that breaks the contract into a 500 without internals', async t => {
    const lines: string[] = [];
    const app = await build(t, testConfig({ ...hubConfig(), log: { level: 'error' } }), {
      features: [
        {
          name: 'broken',
          routes: async a =>
            route(a, 'getMe', async () => ({ user: { name: 'x' } }) as unknown as Me)
        }
      ],
      logStream: { write: line => void lines.push(line) }
    });
    const problem = assertProblem(
      await app.inject({ url: '/api/v1/me', headers: as('bob') }),
      500,
      'internal_error'
    );
    assert.doesNotMatch(problem.detail, /schema|groups/);
    assert.match(lines.join(''), /getMe answered a body that breaks its schema/);
  });

  it('never logs a token, even at trace level and in query strings', async t => {
    const lines: string[] = [];
    const app = await build(t, testConfig({ ...hubConfig(), log: { level: 'trace' } }), {
      logStream: { write: line => void lines.push(line) }
    });
    const { token } = await hub.createToken('alice');
    await app.inject({ url: '/api/v1/me', headers: { authorization: `token ${token}` } });
    await app.inject({
      url: `/api/v1/me?token=${token}`,
      headers: { authorization: `Bearer ${token}` }
    });
    await app.inject({ url: `/nothing?token=${token}` });
    await app.inject({
      url: '/api/v1/me',
      headers: { authorization: 'token garbage-token-123', cookie: 'c=secret-cookie' }
    });
    const log = lines.join('');
    assert.match(log, /"url":"\/api\/v1\/me\?token=\[REDACTED\]"/, 'the requests were logged');
    assert.ok(!log.includes(token), 'a user token reached the log');
    assert.ok(!log.includes('garbage-token-123'));
    assert.ok(!log.includes('secret-cookie'));
    assert.ok(!log.includes(hub.serviceToken), 'the service token reached the log');
  });
});

// Last: this stops the hub for the rest of the file.
describe('when JupyterHub is down', () => {
  it('answers 503 hub_unreachable naming the hub, and is not ready', async t => {
    await hub.stop();
    const app = await companion(t);
    const res = await app.inject({
      url: '/api/v1/me',
      headers: { authorization: 'token uncached' }
    });
    const problem = assertProblem(res, 503, 'hub_unreachable');
    assert.ok(
      problem.detail.includes(`JupyterHub is not reachable at ${hub.apiUrl}`),
      problem.detail
    );
    assert.match(problem.detail, /ECONNREFUSED/);
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    const check = ready.json().checks.find((c: { name: string }) => c.name === 'jupyterhub');
    assert.equal(check.state, 'down');
    assert.ok(
      check.detail.startsWith(`JupyterHub at ${hub.apiUrl} did not answer: ECONNREFUSED`),
      check.detail
    );
    // Liveness does not depend on the hub.
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  });
});
