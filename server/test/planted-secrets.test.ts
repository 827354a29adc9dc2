/**
 * Planted secrets: the companion's three secrets (its hub service token, its LLM key and Flare's
 * cookie secret) appear in no log line, no HTTP response (body or header), no browser bundle,
 * and no request the LLM endpoint receives, but for the Authorization header that carries the
 * LLM key to that endpoint. Each secret is looked for as it is and in base64 and base64url, at
 * any alignment.
 *
 * The companion runs with every feature and logs at trace into memory, against a real JupyterHub
 * (whose service token is the planted hub token) and dev/llm's scripted endpoint behind a
 * recorder that keeps each request whole (the scripted server's own log shortens the key). Every
 * operation of the contract is called with no token, an unknown token, and as a student, an
 * instructor and an operator; the welcome summary calls the endpoint once as it should and
 * twice failing (a 500, then a stalled body), so the error paths log too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WelcomeSummary } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { startScriptedLlm, type IScriptedLlm } from '../../dev/llm/server.mjs';
import { buildApp } from '../src/app.js';
import { graderPython, makeCourse } from './fixtures/grader/course.js';
import { analysis, markdown } from './fixtures/welcome/notebooks.js';
import { testConfig } from './helpers/build.js';
import { BODIES, operationIds, requestOf, urlOf, type Json } from './helpers/contract-requests.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { accountsPapermill, testHomes } from './helpers/unix-accounts.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COURSE = 'cs101';
/** Path parameters of the grader's course operations: a course with an assignment and notebook. */
const COURSE_PARAMS: Json = {
  course: COURSE,
  assignment: 'ps1',
  notebook: 'problem1',
  student: 's01',
  grade: 'squares',
  unit: '1'
};
/** Who calls every operation: no token, a token the hub does not know, a student, an
 * instructor, an operator (carol is in the hub's hotstepper-admins). */
const CALLERS = [undefined, 'garbage-token', 'alice', 'teach1', 'carol'] as const;

const secrets: Record<string, string> = {
  'LLM key': `sk-planted-${randomBytes(16).toString('hex')}`,
  'Flare cookie secret': `planted-cookie-${randomBytes(24).toString('hex')}`
};

/**
 * How a secret may show: as it is, URL-encoded, and base64/base64url of any text holding it.
 * Inside longer encoded text the secret's characters land at one of three alignments; for each,
 * what stays the same whatever surrounds it is the encoding minus its first and last quartets.
 */
function needles(secret: string): string[] {
  const out = new Set([secret, encodeURIComponent(secret)]);
  for (const pad of [0, 1, 2]) {
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = Buffer.concat([Buffer.alloc(pad, 0x20), Buffer.from(secret)]).toString(encoding);
      out.add(text.slice(pad ? 4 : 0, -4));
    }
  }
  return [...out];
}

/** The names of the secrets `text` holds, in any form. */
function found(text: string): string[] {
  return Object.entries(secrets)
    .filter(([, secret]) => needles(secret).some(n => text.includes(n)))
    .map(([name]) => name);
}

interface IRecorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A recorder in front of the scripted endpoint: keeps every request as it arrived (URL, every
 * header, the body) and forwards it, streaming the answer back (a stalled body stays stalled).
 */
async function recorder(
  target: number
): Promise<{ url: string; seen: IRecorded[]; server: Server }> {
  const seen: IRecorded[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', d => parts.push(d as Buffer));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: body.toString('utf8')
      });
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port: target,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: `127.0.0.1:${target}` }
        },
        answer => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        }
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1`, seen, server };
}

let hub: IHub;
let llm: IScriptedLlm;
let recorded: Awaited<ReturnType<typeof recorder>>;
let app: FastifyInstance;
const lines: string[] = [];
const responses: { what: string; text: string }[] = [];
const tokens: Record<string, string> = {};

before(async () => {
  [hub, llm] = await Promise.all([startHub(), startScriptedLlm()]);
  secrets['hub service token'] = hub.serviceToken;
  recorded = await recorder(llm.port);
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], ['alice', 's01']);
  for (const user of ['alice', 'carol', 'teach1'])
    tokens[user] = (await hub.createToken(user)).token;

  const dir = mkdtempSync(join(tmpdir(), 'hs-planted-'));
  for (const user of ['alice', 'carol', 'teach1', 's01'])
    mkdirSync(join(dir, 'home', user), { recursive: true });
  const defaults = testConfig();
  app = await buildApp(
    testConfig({
      log: { level: 'trace' },
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      llm: {
        baseUrl: recorded.url,
        apiKey: secrets['LLM key'],
        timeoutSeconds: 3,
        maxRetries: 1,
        maxRetryAfterSeconds: 1
      },
      flare: {
        hubUrl: hub.url,
        cookieSecret: secrets['Flare cookie secret'],
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
          homeRoot: testHomes(['alice', 'carol', 'teach1', 's01']),
          papermill: accountsPapermill(),
          logDir: join(dir, 'logs'),
          killGraceSeconds: 1
        }
      }
    }),
    { logStream: { write: line => void lines.push(line) } }
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
});

after(async () => {
  await app?.close();
  await Promise.all([
    hub?.stop(),
    llm?.close(),
    new Promise<void>(resolve => (recorded ? recorded.server.close(() => resolve()) : resolve()))
  ]);
});

/** A request through app.inject, kept (status, every header, body) for the scan. */
async function call(
  user: string | undefined,
  method: string,
  url: string,
  body?: unknown
): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: user ? { authorization: `token ${tokens[user] ?? user}` } : {},
    ...(body === undefined ? {} : { payload: body as object })
  });
  responses.push({
    what: `${user ?? 'no token'}: ${method} ${url} -> ${res.statusCode}`,
    text: `${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`
  });
  return res;
}

/** Where a secret may be baked into what browsers load: the built and the installed labextensions. */
function bundleFiles(): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    if (statSync(path).isDirectory())
      for (const entry of readdirSync(path)) walk(join(path, entry));
    else files.push(path);
  };
  const packages = join(ROOT, 'packages');
  for (const pkg of readdirSync(packages)) {
    const built = join(packages, pkg, 'labextension');
    if (existsSync(built)) walk(built);
  }
  const installed = join(ROOT, 'jupyter', 'hotstepper', 'labextensions');
  if (existsSync(installed)) walk(installed);
  return files;
}

describe('planted secrets', { timeout: 600_000 }, () => {
  it('the secrets are planted where they belong (the premise)', () => {
    assert.equal(Object.keys(secrets).length, 3);
    for (const [name, secret] of Object.entries(secrets))
      assert.ok(secret.length >= 32, `${name} is too short to search for`);
  });

  it('walks every operation as no one, a stranger, a student, an instructor and an operator', async () => {
    // A course with an assignment and notebook, so the grader's calls reach nbgrader.
    const ps1 = `/api/v1/grader/courses/${COURSE}/assignments/ps1`;
    for (const [method, url, body] of [
      ['PUT', ps1, { duedate: null }],
      ['PUT', `${ps1}/notebooks/problem1`, BODIES.GraderNotebookPut],
      ['POST', `${ps1}/generate`, undefined]
    ] as const) {
      const res = await call('teach1', method, url, body);
      assert.equal(res.statusCode, 200, `${method} ${url}: ${res.body.slice(0, 300)}`);
    }
    let statuses = 0;
    for (const id of operationIds()) {
      const r = requestOf(id, id.toLowerCase().includes('grader') ? COURSE_PARAMS : {});
      for (const user of CALLERS) {
        const res = await call(user, r.method, urlOf(r), r.body);
        if (res.statusCode < 500) statuses++;
      }
    }
    // What is served beside the contract: the documents and probes.
    for (const url of [
      '/api/docs/json',
      '/api/docs/yaml',
      '/api/docs',
      '/healthz',
      '/readyz',
      '/metrics'
    ])
      await call(undefined, 'GET', url);
    assert.ok(statuses > operationIds().length * 3, `only ${statuses} answers below 500`);
  });

  it('asks the LLM endpoint once as it should and twice failing', async () => {
    const summary = async (user: string, note: string) => {
      const cells = [...analysis(), markdown('md-note', note)];
      const res = await call(user, 'POST', '/api/v1/welcome/summary', {
        path: `work/${note.replace(/\W/g, '')}.ipynb`,
        cells,
        refresh: true
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as WelcomeSummary;
    };
    assert.equal((await summary('alice', 'A plain run.')).source, 'llm');
    llm.faults.push('server_error', 'server_error');
    assert.equal((await summary('teach1', 'The endpoint fails.')).source, 'none');
    llm.faults.length = 0;
    llm.faults.push('stall', 'stall');
    assert.equal((await summary('carol', 'The endpoint stalls.')).source, 'none');
    llm.faults.length = 0;
    const completions = recorded.seen.filter(r => r.url.endsWith('/chat/completions'));
    assert.ok(completions.length >= 3, `${completions.length} completions reached the endpoint`);
  });

  it('no response carries a secret, in its body or its headers', t => {
    t.diagnostic(`${responses.length} responses`);
    assert.ok(responses.length > 300, `${responses.length} responses`);
    const leaks = responses
      .map(r => ({ what: r.what, secrets: found(r.text) }))
      .filter(r => r.secrets.length);
    assert.deepEqual(leaks, []);
  });

  it('no log line carries a secret', t => {
    // The worst a change could do: log the whole configuration. The redaction must hold for it too.
    app.log.warn({ config: app.config }, 'planted-secrets: the configuration, as a careless line');
    assert.ok(lines.some(l => l.includes('as a careless line')));
    t.diagnostic(`${lines.length} log lines`);
    assert.ok(lines.length > 300, `${lines.length} log lines`);
    // The error paths were logged: the failing LLM calls.
    assert.ok(
      lines.some(l => l.includes('welcome summary failed')),
      'no failed summary in the log'
    );
    const leaks = lines
      .map(l => ({ line: l.slice(0, 400), secrets: found(l) }))
      .filter(l => l.secrets.length);
    assert.deepEqual(leaks, []);
  });

  it('the LLM endpoint gets its key in Authorization, and no secret anywhere else', t => {
    t.diagnostic(`${recorded.seen.length} requests reached the endpoint`);
    assert.ok(recorded.seen.length >= 3, `${recorded.seen.length} requests`);
    for (const r of recorded.seen) {
      const what = `${r.method} ${r.url}`;
      assert.equal(r.headers.authorization, `Bearer ${secrets['LLM key']}`, what);
      const others = Object.entries(r.headers).filter(([name]) => name !== 'authorization');
      assert.deepEqual(found(`${r.url}\n${JSON.stringify(others)}\n${r.body}`), [], what);
    }
  });

  it('no browser bundle carries a secret (and the scan found the bundles)', t => {
    const files = bundleFiles();
    t.diagnostic(`${files.length} bundle files`);
    const remoteEntries = files.filter(f => /remoteEntry\.[0-9a-f]+\.js$/.test(f));
    assert.ok(
      remoteEntries.length >= 7,
      `found ${remoteEntries.length} built labextensions under packages/*/labextension and ` +
        'jupyter/hotstepper/labextensions: build them first (npm run build)'
    );
    const leaks = files.filter(f => found(readFileSync(f, 'latin1')).length);
    assert.deepEqual(leaks, []);
  });
});
