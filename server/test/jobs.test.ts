/**
 * Jobs with the local executor against a real JupyterHub: commands and a notebook really run
 * (papermill from the venv), logs stream as Server-Sent Events, and a companion restart loses
 * nothing. Kubernetes is in jobs-kubernetes.test.ts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Job, JobList, JobPreview, Problem } from '@hotstepper/schema';
import SQLite from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { accountsPapermill, giveTo, testHomes } from './helpers/unix-accounts.js';
import type { IConfig } from '../src/platform/config.js';

let hub: IHub;
const tokens: Record<string, string> = {};
const FIXTURE = new URL('./fixtures/jobs/params.ipynb', import.meta.url);

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => hub?.stop());

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

/** A fresh home root with alice's and bob's homes (owned by their accounts), a database and a log dir. */
function jobsConfig(dir = scratchDir()): IConfig {
  const homeRoot = testHomes(['alice', 'bob']);
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    database: { path: join(dir, 'hotstepper.sqlite') },
    jobs: {
      ...testConfig().jobs,
      local: {
        homeRoot,
        papermill: accountsPapermill(),
        logDir: join(dir, 'logs'),
        killGraceSeconds: 2
      }
    }
  });
}

async function api<T>(
  app: FastifyInstance,
  method: string,
  url: string,
  user = 'alice',
  body?: unknown
) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: as(user),
    payload: body as object
  });
  return {
    status: res.statusCode,
    body: (res.body ? JSON.parse(res.body) : undefined) as T,
    raw: res
  };
}

async function waitFor(app: FastifyInstance, id: string, done: (job: Job) => boolean, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const { body } = await api<Job>(app, 'GET', `/api/v1/jobs/${id}`);
    if (done(body)) return body;
    if (Date.now() > until) throw new Error(`job ${id} stuck: ${JSON.stringify(body)}`);
    await new Promise(r => setTimeout(r, 100));
  }
}
const ended = (job: Job) => ['succeeded', 'failed', 'cancelled'].includes(job.state);

/** The events of a finished SSE body. */
function events(text: string) {
  return text
    .split('\n\n')
    .filter(block => block && !block.startsWith(':'))
    .map(block => {
      const e: { id?: string; event?: string; data: string[] } = { data: [] };
      for (const line of block.split('\n')) {
        const at = line.indexOf(': ');
        const [k, v] = at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 2)];
        if (k === 'data') e.data.push(v);
        else if (k === 'id') e.id = v;
        else if (k === 'event') e.event = v;
      }
      return { id: e.id, event: e.event, data: e.data.join('\n') };
    });
}

/** The process group of a local job, from the companion's own record of it. */
function pidOf(config: IConfig, id: string): number {
  const db = new SQLite(config.database.path, { readonly: true });
  try {
    const row = db.prepare('select runtime from jobs where id = ?').get(id) as { runtime: string };
    return Number((JSON.parse(row.runtime) as { pid: number }).pid);
  } finally {
    db.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function start(t: TestContext, config = jobsConfig()) {
  return { app: await build(t, config), config };
}

describe('local jobs', () => {
  it('runs a command as argv: shell characters stay plain text', async t => {
    const { app, config } = await start(t);
    const marker = join(config.jobs.local.homeRoot.replace('{username}', 'alice'), 'pwned');
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo', `a; touch ${marker}`, '$(id)', '`id`', '|', '>x'],
      env: { GREETING: 'hi' }
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'running');
    assert.equal(created.body.executor, 'local');
    const job = await waitFor(app, created.body.id, ended);
    assert.equal(job.state, 'succeeded');
    assert.equal(job.exitCode, 0);
    assert.ok((job.durationSeconds ?? -1) >= 0);
    assert.ok(job.usage.cpuHours >= 0);
    assert.equal(job.unseen, true);
    const logs = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.equal(logs.statusCode, 200);
    assert.match(String(logs.headers['content-type']), /text\/event-stream/);
    const lines = events(logs.body)
      .filter(e => e.event === 'line')
      .map(e => e.data);
    assert.deepEqual(lines, [`a; touch ${marker} $(id) \`id\` | >x`]);
    assert.equal(existsSync(marker), false);
    const end = events(logs.body).find(e => e.event === 'end');
    assert.deepEqual(JSON.parse(end?.data ?? '{}'), { state: 'succeeded', exitCode: 0 });
  });

  it('runs a shell line only when the user chose the shell, and reports a failing exit code', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['echo "$GREETING" | tr a-z A-Z; exit 3'],
      shell: true,
      env: { GREETING: 'shout' }
    });
    assert.equal(created.status, 201);
    const job = await waitFor(app, created.body.id, ended);
    assert.equal(job.state, 'failed');
    assert.equal(job.exitCode, 3);
    assert.match(job.message ?? '', /code 3/);
    const logs = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.deepEqual(
      events(logs.body)
        .filter(e => e.event === 'line')
        .map(e => e.data),
      ['SHOUT']
    );
  });

  it('executes a notebook with parameters and writes the executed copy next to it', async t => {
    const { app, config } = await start(t);
    const home = config.jobs.local.homeRoot.replace('{username}', 'alice');
    mkdirSync(join(home, 'work'));
    copyFileSync(FIXTURE, join(home, 'work', 'params.ipynb'));
    giveTo('alice', join(home, 'work'));
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      notebook: { path: 'work/params.ipynb', parameters: { greeting: 'bonjour', count: 3 } }
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.output ?? '', /^work\/params-\d{8}-\d{6}\.ipynb$/);
    const job = await waitFor(app, created.body.id, ended, 90_000);
    const logs = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.equal(job.state, 'succeeded', logs.body);
    const out = JSON.parse(readFileSync(join(home, job.output ?? ''), 'utf8')) as {
      cells: { source: string | string[]; outputs?: { text?: string | string[] }[] }[];
    };
    const text = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join('') : (v ?? ''));
    const injected = out.cells.find(c => text(c.source).includes('bonjour'));
    assert.ok(injected, 'papermill injected the parameters');
    const printed = out.cells
      .flatMap(c => c.outputs ?? [])
      .map(o => text(o.text))
      .join('');
    assert.equal(printed, 'bonjour #0\nbonjour #1\nbonjour #2\n');
    assert.ok(readdirSync(join(home, 'work')).includes('params.ipynb'), 'the source stays');
  });

  it('streams logs live, tails N lines and resumes after Last-Event-ID without loss', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done']
    });
    const live = await app.inject({
      url: `/api/v1/jobs/${created.body.id}/logs`,
      headers: as('alice')
    });
    const all = events(live.body).filter(e => e.event === 'line');
    assert.deepEqual(
      all.map(e => e.data),
      ['line 1', 'line 2', 'line 3', 'line 4', 'line 5']
    );
    assert.equal(events(live.body).at(-1)?.event, 'end');
    const tail = await app.inject({
      url: `/api/v1/jobs/${created.body.id}/logs?tail=2`,
      headers: as('alice')
    });
    assert.deepEqual(
      events(tail.body)
        .filter(e => e.event === 'line')
        .map(e => e.data),
      ['line 4', 'line 5']
    );
    const resumed = await app.inject({
      url: `/api/v1/jobs/${created.body.id}/logs`,
      headers: { ...as('alice'), 'last-event-id': all[1].id as string }
    });
    assert.deepEqual(
      events(resumed.body)
        .filter(e => e.event === 'line')
        .map(e => e.data),
      ['line 3', 'line 4', 'line 5']
    );
  });

  it('a line reaches the log while the job still runs, not when it ends', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sh', '-c', 'echo early line; sleep 4; echo late line']
    });
    let log = '';
    for (let i = 0; i < 30 && !log.includes('early line'); i++) {
      await new Promise(r => setTimeout(r, 100));
      log = (
        await app.inject({
          url: `/api/v1/jobs/${created.body.id}/logs?follow=false`,
          headers: as('alice')
        })
      ).body;
    }
    assert.match(log, /early line/);
    assert.doesNotMatch(log, /late line/);
    const { body } = await api<Job>(app, 'GET', `/api/v1/jobs/${created.body.id}`, 'alice');
    assert.equal(body.state, 'running');
  });

  it('cancels a running job: its whole process group stops', async t => {
    const { app, config } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '60']
    });
    const pid = pidOf(config, created.body.id);
    assert.ok(alive(pid));
    // As Jupyter's ServerConnection sends it: labelled JSON, with no body.
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/jobs/${created.body.id}/cancel`,
      headers: { ...as('alice'), 'content-type': 'application/json' }
    });
    const cancelled = { status: res.statusCode, body: res.json() as Job };
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.equal(cancelled.body.message, 'Cancelled.');
    const listed = await api<JobList>(app, 'GET', '/api/v1/jobs?state=cancelled');
    assert.deepEqual(
      listed.body.items.map(j => j.id),
      [created.body.id]
    );
    assert.equal(alive(pid), false);
  });

  it('stops a job at its time limit', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '60'],
      timeLimitSeconds: 1
    });
    const job = await waitFor(app, created.body.id, ended, 10_000);
    assert.equal(job.state, 'failed');
    assert.match(job.message ?? '', /time limit of 1 s/);
  });

  it('caps memory with prlimit: a job over it fails', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['python3', '-c', 'x = bytearray(512 * 1024 * 1024); print("allocated")'],
      memoryMiB: 128
    });
    const job = await waitFor(app, created.body.id, ended);
    assert.equal(job.state, 'failed');
    const logs = await app.inject({
      url: `/api/v1/jobs/${job.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.match(logs.body, /MemoryError/);
  });

  it('refuses bad input with the field named, and creates nothing', async t => {
    const { app } = await start(t);
    const cases: [body: unknown, status: number, path: string][] = [
      [{ command: ['true'], cpu: -1 }, 400, 'body.cpu'],
      [{ command: ['true'], cpu: 5000 }, 400, 'body.cpu'],
      [{ command: ['true'], cpu: 64 }, 400, 'body.cpu'],
      [{ command: ['true'], memoryMiB: 10 ** 9 }, 400, 'body.memoryMiB'],
      [{ command: ['true'], timeLimitSeconds: -5 }, 400, 'body.timeLimitSeconds'],
      [{ command: ['true'], image: 'evil/miner:latest' }, 400, 'body.image'],
      [{ command: ['true'], gpu: { model: 'NVIDIA-Z9000' } }, 400, 'body.gpu'],
      [{ notebook: { path: '../bob/secret.ipynb' } }, 400, 'body.notebook.path'],
      [{ notebook: { path: '/etc/passwd.ipynb' } }, 400, 'body.notebook.path'],
      [{ notebook: { path: 'missing.ipynb' } }, 400, 'body.notebook.path'],
      [
        { notebook: { path: 'x.ipynb', parameters: { blob: 'x'.repeat(10 * 1024 * 1024) } } },
        413,
        'body.notebook.parameters'
      ],
      [{ command: ['true'], notebook: { path: 'x.ipynb' } }, 400, 'body.command'],
      [{}, 400, 'body.command'],
      [{ command: ['a', 'b'], shell: true }, 400, 'body.command'],
      [{ command: ['true'], env: { 'BAD NAME': 'x' } }, 400, 'body.env'],
      [{ command: ['true'], template: 'nope' }, 400, 'body.template'],
      [{ command: ['true'], sudo: true }, 400, 'body.sudo']
    ];
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: { ...as('alice'), 'content-type': 'application/json' },
      payload: '{"command": ['
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal((malformed.json() as Problem).code, 'malformed_json');
    for (const [body, status, path] of cases) {
      for (const url of ['/api/v1/jobs/preview', '/api/v1/jobs']) {
        const res = await api<Problem>(app, 'POST', url, 'alice', body);
        assert.equal(
          res.status,
          status,
          `${url} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(res.body)}`
        );
        const paths = (res.body.errors ?? []).map(e => e.path);
        assert.ok(
          paths.some(p => p.startsWith(path)),
          `${path} in ${JSON.stringify(res.body).slice(0, 300)}`
        );
        assert.ok(res.body.detail.includes(path), res.body.detail.slice(0, 200));
      }
    }
    const listed = await api<JobList>(app, 'GET', '/api/v1/jobs');
    assert.deepEqual(listed.body.items, []);
  });

  it('previews a job with the defaults filled in, creating nothing', async t => {
    const { app } = await start(t);
    const res = await api<JobPreview>(app, 'POST', '/api/v1/jobs/preview', 'alice', {
      command: ['echo', 'hi']
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.executor, 'local');
    assert.equal(res.body.spec.cpu, 1);
    assert.equal(res.body.spec.memoryMiB, 2048);
    assert.equal(res.body.spec.name, 'echo');
    assert.equal(res.body.fits, true);
    // A command is named after its script, not its interpreter; without one, after its program.
    const named = async (command: string[]) =>
      (await api<JobPreview>(app, 'POST', '/api/v1/jobs/preview', 'alice', { command })).body.spec
        .name;
    assert.equal(await named(['python3', 'src/train.py', '--epochs', '3']), 'train.py');
    assert.equal(await named(['bash', '-x', 'run.sh']), 'run.sh');
    assert.equal(await named(['python3', '-c', 'import os; print(os.getuid())']), 'python3');
    assert.equal(await named(['sleep', '0.5']), 'sleep');
    assert.deepEqual((await api<JobList>(app, 'GET', '/api/v1/jobs')).body.items, []);
  });

  it("gives users the operator's templates without their secret values, and still runs with them", async t => {
    const SECRET = 'operator-secret-6b1f0c9e';
    const base = jobsConfig();
    const { app } = await start(
      t,
      testConfig({
        ...base,
        jobs: {
          ...base.jobs,
          templates: [
            {
              name: 'with-secret',
              title: 'With a secret',
              description: 'prints whether the secret arrived',
              spec: {
                // Checks the secret arrived without writing it into the command.
                command: ['sh', '-c', `test "\${#API_KEY}" = ${SECRET.length}`],
                secretEnv: { API_KEY: SECRET }
              }
            }
          ]
        }
      })
    );
    const options = await api<{ templates: { name: string; spec: object }[] }>(
      app,
      'GET',
      '/api/v1/jobs/options'
    );
    assert.equal(options.status, 200);
    assert.deepEqual(
      options.body.templates.map(tp => tp.name),
      ['with-secret']
    );
    assert.ok(
      !options.raw.body.includes(SECRET),
      `no secret value in the options: ${options.raw.body}`
    );
    // The template still works: the companion resolves it on its side.
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      template: 'with-secret'
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.ok(!created.raw.body.includes(SECRET), 'no secret value in the created job');
    const done = await waitFor(app, created.body.id, ended);
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
  });

  it('keeps every job to its owner: another user gets 404', async t => {
    const { app } = await start(t);
    const created = await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '30']
    });
    const id = created.body.id;
    for (const [method, url] of [
      ['GET', `/api/v1/jobs/${id}`],
      ['GET', `/api/v1/jobs/${id}/logs?follow=false`],
      ['POST', `/api/v1/jobs/${id}/cancel`],
      ['POST', `/api/v1/jobs/${id}/rerun`],
      ['DELETE', `/api/v1/jobs/${id}`]
    ]) {
      const res = await api<Problem>(app, method, url, 'bob');
      assert.equal(res.status, 404, `${method} ${url}`);
      assert.equal(res.body.code, 'not_found');
    }
    assert.deepEqual((await api<JobList>(app, 'GET', '/api/v1/jobs', 'bob')).body.items, []);
    const mine = await api<Job>(app, 'GET', `/api/v1/jobs/${id}`);
    assert.equal(mine.body.state, 'running');
    assert.equal((await api(app, 'DELETE', `/api/v1/jobs/${id}`)).status, 204);
    assert.equal((await api(app, 'GET', `/api/v1/jobs/${id}`)).status, 404);
  });

  it('pages the list with a cursor, filters by state, and clears unseen', async t => {
    const { app } = await start(t);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await api<Job>(app, 'POST', '/api/v1/jobs', 'alice', { command: ['true'] })).body.id
      );
    }
    for (const id of ids) await waitFor(app, id, ended);
    const first = await api<JobList>(app, 'GET', '/api/v1/jobs?limit=2');
    assert.equal(first.body.items.length, 2);
    assert.equal(first.body.unseen, 5);
    const seen: string[] = first.body.items.map(j => j.id);
    let next = first.body.next;
    while (next) {
      const page = await api<JobList>(app, 'GET', `/api/v1/jobs?limit=2&cursor=${next}`);
      seen.push(...page.body.items.map(j => j.id));
      next = page.body.next;
    }
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal(
      (await api<JobList>(app, 'GET', '/api/v1/jobs?state=running')).body.items.length,
      0
    );
    assert.equal((await api<Problem>(app, 'GET', '/api/v1/jobs?cursor=bogus')).status, 400);
    await api(app, 'POST', '/api/v1/jobs/seen', 'alice', { ids: ids.slice(0, 3) });
    const unseen = await api<JobList>(app, 'GET', '/api/v1/jobs?unseen=true');
    assert.deepEqual(
      unseen.body.items.map(j => j.id),
      ids.slice(3).reverse()
    );
    assert.equal(unseen.body.unseen, 2);
    const rerun = await api<Job>(app, 'POST', `/api/v1/jobs/${ids[0]}/rerun`);
    assert.equal(rerun.status, 201);
    assert.notEqual(rerun.body.id, ids[0]);
  });

  it('loses nothing when the companion restarts: reattaches, or reads how it ended', async t => {
    const config = jobsConfig();
    const first = await build(t, config);
    const running = await api<Job>(first, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sh', '-c', 'sleep 1.5; echo finished']
    });
    const quick = await api<Job>(first, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sh', '-c', 'sleep 0.3; exit 4']
    });
    const lost = await api<Job>(first, 'POST', '/api/v1/jobs', 'alice', {
      command: ['sleep', '30']
    });
    await first.close();
    // While the companion is down: one ends by itself, one is killed without a trace.
    await new Promise(r => setTimeout(r, 600));
    process.kill(-pidOf(config, lost.body.id), 'SIGKILL');
    const second = await build(t, config);
    const a = await waitFor(second, running.body.id, ended);
    assert.equal(a.state, 'succeeded');
    const b = await waitFor(second, quick.body.id, ended);
    assert.equal(b.state, 'failed');
    assert.equal(b.exitCode, 4);
    assert.match(b.message ?? '', /while the companion was restarting/);
    const logs = await second.inject({
      url: `/api/v1/jobs/${a.id}/logs?follow=false`,
      headers: as('alice')
    });
    assert.deepEqual(
      events(logs.body)
        .filter(e => e.event === 'line')
        .map(e => e.data),
      ['finished']
    );
    const c = await waitFor(second, lost.body.id, ended);
    assert.equal(c.state, 'failed');
    assert.match(c.message ?? '', /companion restarted/);
  });
});
