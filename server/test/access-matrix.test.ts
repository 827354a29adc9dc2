/**
 * Who may call what, generated from the contract: every operation of schema/api.json (the table
 * the server registers its routes from) is called as its owner, as another student, as an
 * instructor of another course, as an operator, with no token, with a token the hub does not
 * know, with a token that lacks access:services!service=hotstepper, and through encoded,
 * doubled-slash and absolute-form request targets, against a real JupyterHub. Each operation's
 * class is its `x-hotstepper-access` in schema/api, carried into the served OpenAPI document;
 * requests are built from each operation's own schemas, so a new operation is covered as soon as
 * it is classified, and the test fails naming any operation (or route of the served document)
 * that is not.
 *
 * Expected: 401 with no identity, 403 token_scope_missing for a narrow token, 403 forbidden for
 * a role the caller lacks (operator routes), and for someone else's object or course exactly the
 * 404 an absent one gets (same code, same sentence). No caller ever meets a 5xx, apart from the
 * documented 503s of what this platform leaves off (Kubernetes) or what the caller lacks (a
 * running notebook server).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { operations } from '@hotstepper/schema';
import { api } from '@hotstepper/schema/json';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { graderPython, makeCourse } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { BODIES, operationIds, requestOf, urlOf, type Json } from './helpers/contract-requests.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { rawRequest } from './helpers/raw-http.js';
import { accountsPapermill, testHomes } from './helpers/unix-accounts.js';

/**
 * How an operation is authorised: its `x-hotstepper-access` in schema/api (and so in the served
 * OpenAPI document). Every operation must have one of these.
 * - public: no hub token (probes, the ingress' auth endpoint);
 * - user: the caller's own data, whoever calls (nothing of anyone else's is named);
 * - owner-object: names an object someone owns (a job, a Flare route, a stop explanation):
 *   anyone but its owner gets 404;
 * - operator: hub admins and the admin groups; anyone else gets 403;
 * - instructor: a course's instructors; anyone else gets 404, as if the course did not exist;
 * - student: a course's students (the student side of the grader); anyone else gets 404.
 */
const CLASSES = ['public', 'user', 'owner-object', 'operator', 'instructor', 'student'] as const;
type Access = (typeof CLASSES)[number];
const EXTENSION = 'x-hotstepper-access';

const accessOf = (id: string): Access | undefined => {
  const op = (api.operations as Record<string, Record<string, unknown>>)[id];
  const access = op?.[EXTENSION];
  return CLASSES.includes(access as Access) ? (access as Access) : undefined;
};

/**
 * What an entitled caller may meet instead of success on this platform, and why: the test
 * platform has no Kubernetes, and the test users have no running notebook server. Anything else
 * of 5xx fails.
 */
const UNAVAILABLE: Record<string, string[]> = {
  getMyNamespace: ['kubernetes_not_configured'],
  getClusterGpus: ['kubernetes_not_configured'],
  listFlarePorts: ['server_not_running'],
  createFlareRoute: ['server_not_running'],
  // The default test hub does not let the service read users' servers, which the check counts.
  checkSpawn: ['hub_unreachable']
};

const COURSE = 'cs101';
const COURSE_URL = `/api/v1/grader/courses/${COURSE}`;
let hub: IHub;
let app: FastifyInstance;
let port: number;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  // alice studies cs101 (taught by teach1); teach2 teaches another course; carol is an operator.
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], ['alice', 's01']);
  await makeCourse(hub.apiUrl, hub.serviceToken, 'other', ['teach2'], ['s02']);
  await Promise.all(
    ['alice', 'bob', 'carol', 'teach1', 'teach2'].map(async user => {
      tokens[user] = (await hub.createToken(user)).token;
    })
  );
  // A token of alice's that the hub resolves but that carries no access to the companion.
  const res = await fetch(`${hub.apiUrl}/users/alice/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${hub.serviceToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ expires_in: 3600, scopes: ['read:users:name!user=alice'] }),
    signal: AbortSignal.timeout(15_000)
  });
  assert.equal(res.status, 201, await res.clone().text());
  tokens.narrow = String(((await res.json()) as Json).token);

  const dir = mkdtempSync(join(tmpdir(), 'hs-matrix-'));
  for (const user of ['alice', 'bob', 'carol', 'teach1', 'teach2', 's01'])
    mkdirSync(join(dir, 'home', user), { recursive: true });
  const defaults = testConfig();
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      flare: {
        hubUrl: hub.url,
        gateway: {
          ...defaults.flare.gateway,
          host: '127.0.0.1',
          port: await freePort(),
          target: 'loopback',
          appHost: '127.0.0.1'
        }
      },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}'),
        concurrency: 1,
        unitTimeoutSeconds: 30
      },
      jobs: {
        ...defaults.jobs,
        local: {
          ...defaults.jobs.local,
          homeRoot: testHomes(['alice', 'bob', 'carol', 'teach1', 'teach2', 's01']),
          papermill: accountsPapermill(),
          logDir: join(dir, 'logs'),
          killGraceSeconds: 1
        }
      }
    })
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  // The course has an assignment with a notebook, so the instructor's and students' own calls
  // reach their handlers' work.
  const ps1 = `/api/v1/grader/courses/${COURSE}/assignments/ps1`;
  for (const [method, url, body] of [
    ['PUT', ps1, { duedate: null }],
    ['PUT', `${ps1}/notebooks/problem1`, BODIES.GraderNotebookPut],
    ['POST', `${ps1}/generate`, undefined]
  ] as const) {
    const res = await call('teach1', method, url, body);
    assert.equal(res.statusCode, 200, `${method} ${url}: ${show(res)}`);
  }
});

after(async () => {
  await app?.close();
  await hub?.stop();
});

function call(
  user: string | undefined,
  method: string,
  url: string,
  body?: unknown
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = {
    method: method as 'GET',
    url,
    headers: user ? { authorization: `token ${tokens[user] ?? user}` } : {}
  };
  if (body !== undefined) options.payload = body as object;
  return app.inject(options);
}

const codeOf = (res: LightMyRequestResponse): string | undefined => {
  try {
    return (res.json() as { code?: string }).code;
  } catch {
    return undefined;
  }
};
const show = (res: LightMyRequestResponse) => `${res.statusCode} ${res.body.slice(0, 300)}`;

/** The problem every unentitled caller must get. */
function assertProblem(res: LightMyRequestResponse, status: number, code: string, who: string) {
  assert.equal(res.statusCode, status, `${who}: ${show(res)}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, who);
  assert.equal(codeOf(res), code, `${who}: ${show(res)}`);
}

/** An entitled caller: no identity or role refusal, no 5xx but the operation's documented 503s. */
function assertReached(id: string, res: LightMyRequestResponse, who: string) {
  const code = codeOf(res);
  assert.ok(
    ![401, 403].includes(res.statusCode),
    `${who}: refused as an entitled caller: ${show(res)}`
  );
  if (res.statusCode >= 500) {
    assert.ok(
      res.statusCode === 503 && code !== undefined && (UNAVAILABLE[id] ?? []).includes(code),
      `${who}: ${show(res)}`
    );
  }
}

/** A job of alice's that has ended, so its log stream ends too. */
async function alicesJob(): Promise<Json> {
  const made = await call('alice', 'POST', '/api/v1/jobs', { command: ['true'] });
  assert.equal(made.statusCode, 201, made.body);
  const id = (made.json() as Json).id as string;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = (await call('alice', 'GET', `/api/v1/jobs/${id}`)).json() as Json;
    if (!['pending', 'running'].includes(job.state as string)) return { id };
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(job.state)}`);
    await new Promise(r => setTimeout(r, 200));
  }
}

/**
 * A fresh object of alice's for an owner-object operation, by the feature's tag: its path
 * parameters. Made with the feature's own create route where that needs nothing this platform
 * lacks; a Flare route needs alice's running server to report the port, so its row is written
 * as create would, and a stop explanation is written by the idle guard alone.
 */
const OWNED: Record<string, () => Promise<Json>> = {
  jobs: alicesJob,
  flare: async () => {
    const name = `m${randomUUID().slice(0, 8)}`;
    await app.database.db
      .withTables<{ flare_routes: Json }>()
      .insertInto('flare_routes')
      .values({
        name,
        owner: 'alice',
        port: 8050,
        access: JSON.stringify({ mode: 'link' }),
        share_token: randomUUID().replaceAll('-', ''),
        hits: 0,
        last_access: null,
        created_at: new Date().toISOString()
      })
      .execute();
    return { name };
  },
  // A server's last options are written by the hub's spawner check alone.
  spawn: async () => {
    await app.database.db
      .withTables<{ spawn_last: Json }>()
      .insertInto('spawn_last')
      .values({
        user_name: 'alice',
        server: 'gpu',
        request: '{}',
        started_at: new Date().toISOString()
      })
      .execute();
    return { name: 'gpu' };
  },
  idle: async () => {
    const id = randomUUID();
    await app.database.db
      .withTables<{ idle_decisions: Json }>()
      .insertInto('idle_decisions')
      .values({
        id,
        user_name: 'alice',
        server_name: '',
        at: Date.now(),
        action: 'stop',
        summary: 'Stopped after 3 idle hours.',
        evidence: '{}',
        acknowledged_at: null
      })
      .execute();
    return { id };
  }
};

/** Path parameters of the grader's course operations: alice's course and its members. */
const COURSE_PARAMS: Json = {
  course: COURSE,
  assignment: 'ps1',
  notebook: 'problem1',
  student: 's01',
  grade: 'squares',
  unit: '1'
};

const ids = operationIds();

describe('access matrix', () => {
  it(`classifies every operation of the contract and of the served document (${EXTENSION})`, async () => {
    const unclassified = ids.filter(id => accessOf(id) === undefined);
    assert.deepEqual(
      unclassified,
      [],
      `give these operations "${EXTENSION}": one of ${CLASSES.join(', ')} (schema/api): ${unclassified}`
    );
    const doc = (await call(undefined, 'GET', '/api/docs/json')).json() as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const served = new Map<string, unknown>();
    const outside: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const id = op.operationId;
        if (typeof id !== 'string' || !(id in operations)) outside.push(`${method} ${path}`);
        else served.set(id, op[EXTENSION]);
      }
    }
    assert.deepEqual(outside, [], `routes outside the contract, not classifiable: ${outside}`);
    const missing = ids.filter(id => !served.has(id));
    assert.deepEqual(missing, [], `operations this configuration does not serve: ${missing}`);
    for (const id of ids)
      assert.equal(served.get(id), accessOf(id), `${id} in the served document`);
  });

  for (const id of ids) {
    const access = accessOf(id);
    if (access === undefined) continue; // named by the classification test above
    it(`${id} (${access})`, { timeout: 120_000 }, async () => {
      const tag = (api.operations as Record<string, { tags: string[] }>)[id].tags[0];
      let params: Json = {};
      if (access === 'owner-object') {
        const make = OWNED[tag];
        assert.ok(make, `${id}: no way to make an object of alice's for tag ${tag}; add to OWNED`);
        params = await make();
      } else if (access === 'instructor' || access === 'student') {
        params = COURSE_PARAMS;
      }
      const r = requestOf(id, params);
      const send = (user: string | undefined, path = r.path) =>
        call(user, r.method, urlOf(r, path), r.body);

      if (access === 'public') {
        const res = await send(undefined);
        assert.ok(!String(codeOf(res)).startsWith('token_'), `no token: ${show(res)}`);
        assert.ok(res.statusCode < 500, `no token: ${show(res)}`);
        return;
      }

      // No identity: 401, whatever the path's spelling; a token without the scope: 403.
      assertProblem(await send(undefined), 401, 'token_missing', 'no token');
      assertProblem(await send('garbage-token'), 401, 'token_invalid', 'unknown token');
      assertProblem(await send('narrow'), 403, 'token_scope_missing', 'token without the scope');
      const encoded = [
        r.path.replace(/^\/api\//, '/%61pi/'),
        r.path.replace(/^\/api\/v1\//, '/api/v%31/'),
        r.path.replace(
          /\/([a-z])([^/]*)$/,
          (_, c: string, rest: string) => `/%${c.charCodeAt(0).toString(16)}${rest}`
        )
      ];
      for (const path of new Set(encoded)) {
        const res = await send(undefined, path);
        assertProblem(res, 401, 'token_missing', `no token, ${path}`);
      }
      // The absolute-form target (as a proxy sends it), over a real socket: the same 401.
      {
        const target = `http://127.0.0.1:${port}${urlOf(r)}`;
        const res = await rawRequest(port, r.method, target, {
          ...(r.body === undefined
            ? {}
            : { body: JSON.stringify(r.body), headers: { 'content-type': 'application/json' } })
        });
        const who = `no token, absolute-form ${r.method} ${target}`;
        assert.equal(res.status, 401, `${who}: ${res.status} ${res.body.slice(0, 300)}`);
        assert.equal((JSON.parse(res.body) as Json).code, 'token_missing', who);
      }
      // A doubled slash routes nowhere, or to the same route: never past identity.
      const doubled = await send(undefined, `/${r.path}`);
      assert.ok([401, 404].includes(doubled.statusCode), `no token, /${r.path}: ${show(doubled)}`);

      // Someone else's object answers exactly as an object that does not exist: 404, the same
      // code and the same sentence, so nothing tells a caller that it exists.
      const text = (x: LightMyRequestResponse, value: unknown) =>
        `${x.statusCode} ${codeOf(x)}: ${x.body.replace(/"instance":"[^"]*"/, '').replaceAll(String(value), '<x>')}`;
      let last = '';
      const hidden = async (user: string, key: string, who: string) => {
        const absent = `nx${randomUUID().slice(0, 8)}`;
        const a = requestOf(id, { ...params, [key]: absent });
        const [res, none] = [await send(user), await call(user, a.method, urlOf(a), a.body)];
        assert.equal(res.statusCode, 404, `${who}: ${show(res)}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/, who);
        assert.equal(none.statusCode, 404, `${who}, absent ${key}: ${show(none)}`);
        last = text(none, absent);
        assert.equal(text(res, params[key]), last, `${who}: told apart from an absent one`);
      };

      switch (access) {
        case 'user':
          for (const user of ['alice', 'bob', 'teach2']) assertReached(id, await send(user), user);
          break;
        case 'operator':
          for (const user of ['alice', 'bob', 'teach1', 'teach2'])
            assertProblem(await send(user), 403, 'forbidden', user);
          assertReached(id, await send('carol'), 'carol (operator)');
          break;
        case 'owner-object': {
          const keys = Object.keys(params);
          assert.equal(keys.length, 1, `${id}: one path parameter names the object`);
          // Others first, so the owner's own call (a delete, say) comes last.
          for (const user of ['bob', 'teach2', 'carol'])
            await hidden(user, keys[0], `${user} on alice's object`);
          const res = await send('alice');
          assertReached(id, res, 'alice (owner)');
          assert.ok(res.statusCode < 400, `alice on her own object: ${show(res)}`);
          break;
        }
        case 'instructor':
          for (const user of ['alice', 'bob', 'teach2', 'carol'])
            await hidden(user, 'course', `${user} on cs101's instructor side`);
          {
            const res = await send('teach1');
            assertReached(id, res, 'teach1 (instructor)');
            assert.notEqual(text(res, COURSE), last, 'teach1 is answered as a stranger');
          }
          break;
        case 'student': {
          // Released, unless it still is (the instructor operations may have taken it back).
          const list = await call('alice', 'GET', '/api/v1/grader/my/assignments');
          if (!list.body.includes('"ps1"')) {
            const release = await call('teach1', 'POST', `${COURSE_URL}/assignments/ps1/release`);
            assert.equal(release.statusCode, 200, show(release));
          }
          for (const user of ['bob', 'teach2', 'carol'])
            await hidden(user, 'course', `${user} on cs101's student side`);
          const res = await send('alice');
          assertReached(id, res, 'alice (student)');
          assert.notEqual(text(res, COURSE), last, 'alice (student) is answered as a stranger');
          break;
        }
      }
    });
  }
});
