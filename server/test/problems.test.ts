/**
 * Errors fastify raises itself (not found, a method the path does not take, a too-long path
 * parameter, a malformed escape, malformed JSON, a body over the limit, a request Node cannot
 * parse) leave as application/problem+json with a stable code, like every error the companion
 * raises. Real JupyterHub for identity; requests over a raw socket where app.inject would
 * normalise the target.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { operations } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { graderPython } from './fixtures/grader/course.js';
import { MAX_PARAM_LENGTH } from '../src/platform/problem.js';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { rawRequest, type IRawResponse } from './helpers/raw-http.js';

const DOCS = '/api/docs';
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'];

let hub: IHub;
let token: string;

before(async () => {
  hub = await startHub();
  token = (await hub.createToken('alice')).token;
});
after(async () => {
  await hub?.stop();
});

async function listening(t: TestContext): Promise<{ app: FastifyInstance; port: number }> {
  // The grader registers its course routes only when it has a course environment.
  const dir = scratchDir();
  const app = await build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange')
      }
    })
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as { port: number }).port };
}

function assertProblem(what: string, res: IRawResponse, status: number, code: string) {
  const where = `${what}: HTTP ${res.status} ${res.headers['content-type']} ${res.body.slice(0, 300)}`;
  assert.equal(res.status, status, where);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, where);
  const body = JSON.parse(res.body) as { status: number; code: string; detail: string };
  assert.equal(body.status, status, where);
  assert.equal(body.code, code, where);
  assert.ok(body.detail.length > 20, where);
  return body;
}

/** An /api path with a parameter, filled with `value`. */
function withParameter(value: string) {
  const op = Object.values(operations).find(
    o => o.method === 'GET' && /^\/api\/v1\/[a-z]+\/\{[a-zA-Z]+\}$/.test(o.path)
  );
  assert.ok(op, 'the contract has a GET /api/v1/<thing>/{id}');
  return op.path.replace(/\{[^}]+\}/, value);
}

describe('fastify errors as problems', { timeout: 120_000 }, () => {
  it('answers 404 not_found for a path nothing serves, with or without a token', async t => {
    const { port } = await listening(t);
    for (const auth of [{}, { authorization: `token ${token}` }]) {
      for (const target of ['/nothing', '/api/v1/nothing', '/api/v2/me', '/api']) {
        const res = await rawRequest(port, 'GET', target, { headers: auth });
        assertProblem(`GET ${target}`, res, 404, 'not_found');
      }
    }
  });

  it('answers 405 with Allow for every served path and each method it does not take', async t => {
    const { app, port } = await listening(t);
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const paths = Object.entries(doc.paths).filter(([path]) => !path.startsWith(DOCS));
    // A concrete path may fit several templates (/students/import and /students/{student}).
    const fits = (template: string, concrete: string) =>
      new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(concrete);
    let checked = 0;
    for (const [path] of paths) {
      const concrete = path.replace(/\{([^}]+)\}/g, 'x1');
      const declared = [
        ...new Set(paths.filter(([p]) => fits(p, concrete)).flatMap(([, m]) => Object.keys(m)))
      ].map(m => m.toUpperCase());
      if (declared.includes('GET') && !declared.includes('HEAD')) declared.push('HEAD');
      for (const method of METHODS.filter(m => !declared.includes(m))) {
        const res = await rawRequest(port, method, concrete);
        const problem = assertProblem(`${method} ${concrete}`, res, 405, 'method_not_allowed');
        assert.deepEqual(
          (res.headers.allow ?? '').split(/,\s*/).sort(),
          [...declared].sort(),
          `Allow of ${method} ${concrete}`
        );
        assert.ok(problem.detail.includes(method), problem.detail);
        checked++;
      }
    }
    assert.ok(checked > 150, `${checked} method/path pairs`);
    t.diagnostic(`${checked} undeclared method/path pairs answered 405`);
    // A token changes nothing: the method is still not there.
    const res = await rawRequest(port, 'DELETE', '/api/v1/me', {
      headers: { authorization: `token ${token}` }
    });
    assertProblem('DELETE /api/v1/me with a token', res, 405, 'method_not_allowed');
    // The absolute-form and encoded spellings route the same way.
    const encoded = await rawRequest(port, 'DELETE', `http://127.0.0.1:${port}/%61pi/v1/me`);
    assertProblem('DELETE absolute-form /%61pi/v1/me', encoded, 405, 'method_not_allowed');
  });

  it('answers 405 to QUERY, a method that takes a body, with or without a Content-Type', async t => {
    // fastify refuses a QUERY without a Content-Type before any handler: that refusal must not
    // stand in for the path's answer (found by the schema fuzz run, test/fuzz.test.ts).
    const { port } = await listening(t);
    for (const headers of [{}, { 'content-type': 'application/json' }]) {
      for (const auth of [{}, { authorization: `token ${token}` }]) {
        const res = await rawRequest(port, 'QUERY', '/api/v1/me', {
          headers: { ...headers, ...auth }
        });
        const what = `QUERY /api/v1/me ${JSON.stringify(Object.keys({ ...headers, ...auth }))}`;
        assertProblem(what, res, 405, 'method_not_allowed');
        assert.equal(res.headers.allow, 'GET, HEAD', what);
      }
    }
    const none = await rawRequest(port, 'QUERY', '/api/v1/nothing');
    assertProblem('QUERY /api/v1/nothing', none, 404, 'not_found');
  });

  it('answers 414 uri_too_long for a path parameter over the router limit', async t => {
    const { port } = await listening(t);
    const target = withParameter('x'.repeat(MAX_PARAM_LENGTH + 1));
    const res = await rawRequest(port, 'GET', target, {
      headers: { authorization: `token ${token}` }
    });
    assertProblem(`GET ${target.slice(0, 40)}...`, res, 414, 'uri_too_long');
    // Every name the contract allows reaches the route, however it is percent-encoded: 200
    // characters of a grader name, each a four-byte code point (was 414 above 100 characters).
    const course = encodeURIComponent('😀'.repeat(200));
    const allowed = await rawRequest(port, 'GET', `/api/v1/grader/courses/${course}/students`, {
      headers: { authorization: `token ${token}` }
    });
    assertProblem('GET a 200-character course', allowed, 404, 'not_found');
  });

  it('answers 400 bad_url for a malformed percent-escape in a parameter', async t => {
    const { port } = await listening(t);
    const target = withParameter('%E0%A4%A');
    const res = await rawRequest(port, 'GET', target);
    assertProblem(`GET ${target}`, res, 400, 'bad_url');
  });

  it('answers 431 and 400 problems for requests Node cannot parse', async t => {
    const { port } = await listening(t);
    const long = await rawRequest(port, 'GET', `/api/v1/me?q=${'a'.repeat(20_000)}`);
    assertProblem('a 20 kB request line', long, 431, 'request_header_fields_too_large');
    const broken = await rawRequest(port, 'GET', '/api/v1/me', {
      headers: { 'bad header': 'x' }
    });
    assertProblem('a header name with a space', broken, 400, 'bad_request');
  });

  it('answers 400 malformed_json and 413 body_too_large on an /api route', async t => {
    const { port } = await listening(t);
    const auth = { authorization: `token ${token}`, 'content-type': 'application/json' };
    const bad = await rawRequest(port, 'PUT', '/api/v1/me/preferences', {
      headers: auth,
      body: '{"welcomeBack": tru'
    });
    assertProblem('PUT bad JSON', bad, 400, 'malformed_json');
    const big = await rawRequest(port, 'PUT', '/api/v1/me/preferences', {
      headers: auth,
      body: JSON.stringify({ welcomeBack: true, pad: 'x'.repeat(2 * 1024 * 1024) })
    });
    assertProblem('PUT 2 MiB', big, 413, 'body_too_large');
  });
});
