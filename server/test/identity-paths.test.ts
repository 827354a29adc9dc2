/**
 * Identity cannot be walked around by spelling a path differently. For every /api operation the
 * app registers (read from its own OpenAPI document, so a new route is covered without a new
 * case) and every spelling of its path a client can put on the wire: a request without a token
 * answers 401 if the router takes it to the route, or a 404 (or 405) problem if the router takes
 * it nowhere (or elsewhere); never 200, never a 5xx. Requests go over a raw socket, byte for byte, as a probe would send them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { operations } from '@hotstepper/schema';
import { everyRouteConfig } from './fixtures/grader/course.js';
import { build } from './helpers/build.js';
import { rawRequest, type IRawResponse } from './helpers/raw-http.js';

const DOCS = '/api/docs';

/** Every letter or digit of every segment as %XX, e.g. /api/v1/me -> /%61%70%69/%76%31/%6D%65. */
const encodeAll = (path: string) =>
  path.replace(/[A-Za-z0-9]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Spellings the router must take to the route itself. */
const ROUTED: Record<string, (path: string, port: number) => string> = {
  'as declared': p => p,
  'first letter encoded (/%61pi)': p => p.replace(/^\/a/, '/%61'),
  'every letter and digit encoded': p => encodeAll(p),
  'every letter and digit encoded, lower-case hex': p => encodeAll(p).toLowerCase(),
  'with a query string': p => `${p}?x=1`,
  'absolute-form target': (p, port) => `http://127.0.0.1:${port}${p}`,
  'absolute-form with another host': p => `http://example.org${p}`,
  'absolute-form and encoded': (p, port) => `http://127.0.0.1:${port}${p.replace(/^\/a/, '/%61')}`
};

/** Spellings the router may or may not take to the route: 401, or a 404 or 405 problem. */
const ELSEWHERE: Record<string, (path: string) => string> = {
  'double slash in front': p => `/${p}`,
  'double slash inside': p => p.replace('/api/', '/api//'),
  'slashes encoded (%2F)': p => `/${p.slice(1).replace(/\//g, '%2F')}`,
  'slashes encoded lower-case (%2f)': p => `/${p.slice(1).replace(/\//g, '%2f')}`,
  'first slash encoded': p => p.replace('/api/', '/api%2F'),
  'trailing slash': p => `${p}/`,
  'dot segment': p => p.replace('/api/', '/api/./'),
  'dot-dot segment': p => p.replace('/api/v1/', '/api/x/../v1/'),
  'upper case': p => p.replace('/api/', '/API/'),
  'semicolon parameter': p => `${p};x=1`,
  'encoded dot segment': p => p.replace('/api/', '/api/%2e/')
};

function assertNoIdentityAnswer(what: string, res: IRawResponse, allowNotFound: boolean) {
  const where = `${what}: HTTP ${res.status} ${res.body.slice(0, 200)}`;
  assert.ok(res.status < 500, `a server error instead of 401 for ${where}`);
  assert.ok(res.status !== 200, `answered without a token for ${where}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, where);
  const body = JSON.parse(res.body) as { status: number; code: string };
  assert.equal(body.status, res.status, where);
  if (res.status === 404 && allowNotFound) {
    assert.equal(body.code, 'not_found', where);
    return;
  }
  // Routed to a parametrised path (/students/import;x=1 is a student) that takes other methods.
  if (res.status === 405 && allowNotFound) {
    assert.equal(body.code, 'method_not_allowed', where);
    return;
  }
  assert.equal(res.status, 401, where);
  assert.equal(body.code, 'token_missing', where);
}

describe('identity on every spelling of every /api path', { timeout: 120_000 }, () => {
  it('answers 401 (or a 404 or 405 problem where nothing routes) without a token, never 200 or 5xx', async t => {
    const app = await build(t, everyRouteConfig());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };

    // What the app actually serves under /api, from its own OpenAPI document.
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const served: { method: string; path: string }[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/') || path.startsWith(DOCS)) continue;
      for (const method of Object.keys(methods)) {
        if (method === 'head') continue;
        served.push({ method: method.toUpperCase(), path });
      }
    }
    // Every /api operation of the contract is among them.
    const declared = Object.values(operations).filter(op => op.path.startsWith('/api/'));
    for (const op of declared) {
      assert.ok(
        served.some(s => s.method === op.method && s.path === op.path),
        `${op.method} ${op.path} is in schema/ but the app serves no route for it`
      );
    }
    assert.ok(served.length >= declared.length && declared.length > 40, `${served.length} routes`);

    let checked = 0;
    const answers = new Map<string, Set<number>>();
    const tally = (name: string, status: number) =>
      answers.set(name, (answers.get(name) ?? new Set()).add(status));
    for (const { method, path } of served) {
      // Values a parameter accepts as far as routing goes; validation runs after identity.
      const concrete = path.replace(/\{([^}]+)\}/g, 'x1');
      for (const [name, spell] of Object.entries(ROUTED)) {
        const target = spell(concrete, port);
        const res = await rawRequest(port, method, target);
        assertNoIdentityAnswer(`${method} ${target} (${name})`, res, false);
        tally(name, res.status);
        checked++;
      }
      for (const [name, spell] of Object.entries(ELSEWHERE)) {
        const target = spell(concrete);
        const res = await rawRequest(port, method, target);
        assertNoIdentityAnswer(`${method} ${target} (${name})`, res, true);
        tally(name, res.status);
        checked++;
      }
    }
    t.diagnostic(`${served.length} /api routes, ${checked} requests without a token`);
    for (const [name, statuses] of answers) t.diagnostic(`${name}: ${[...statuses].join(', ')}`);
  });
});
