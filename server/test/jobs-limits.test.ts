/**
 * Per-user caps of the jobs feature (issue 21, item 9), local executor against a real JupyterHub:
 * active jobs per user at submit, a job's log size (the job goes on), live log streams per user.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Job } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import type { IJobExecutor, ILogEvent } from '../src/features/jobs/executors/types.js';
import { createJobsService } from '../src/features/jobs/service.js';
import type { IConfig } from '../src/platform/config.js';
import { testHomes } from './helpers/unix-accounts.js';

let hub: IHub;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => hub?.stop());

const as = (user: string) => ({ authorization: `token ${tokens[user]}` });

function limitsConfig(caps: Partial<IConfig['jobs']['caps']>, dir = scratchDir()): IConfig {
  for (const user of ['alice', 'bob']) mkdirSync(join(dir, 'home', user), { recursive: true });
  const base = testConfig().jobs;
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    database: { path: join(dir, 'hotstepper.sqlite') },
    jobs: {
      ...base,
      caps: { ...base.caps, ...caps },
      local: { ...base.local, homeRoot: testHomes(['alice', 'bob']), logDir: join(dir, 'logs') }
    }
  });
}

async function submit(app: FastifyInstance, user: string, command: string[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: as(user),
    payload: { command }
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

async function waitFor(app: FastifyInstance, id: string, done: (job: Job) => boolean, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const res = await app.inject({ url: `/api/v1/jobs/${id}`, headers: as('alice') });
    const job = res.json() as Job;
    if (done(job)) return job;
    if (Date.now() > until) throw new Error(`job ${id} stuck: ${res.body}`);
    await new Promise(r => setTimeout(r, 100));
  }
}
const ended = (job: Job) => ['succeeded', 'failed', 'cancelled'].includes(job.state);

/** A live request to the listening app; resolves with the response once its head arrives. */
function open(base: string, path: string, user: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: as(user) }, resolve);
    req.on('error', reject);
    req.end();
  });
}
const bodyOf = (res: IncomingMessage) =>
  new Promise<string>(resolve => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
  });

describe('jobs: per-user caps', { timeout: 120_000 }, () => {
  it('refuses a submit over the active-jobs cap with 429 too_many_jobs; a finished job frees a place', async t => {
    const app = await build(t, limitsConfig({ activeJobsPerUser: 2 }));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await submit(app, 'alice', ['sleep', '30']);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    // Local jobs outlive the companion: they go before it closes.
    try {
      await overTheCap(app, ids);
    } finally {
      for (const id of ids)
        await app.inject({ method: 'DELETE', url: `/api/v1/jobs/${id}`, headers: as('alice') });
    }
  });

  async function overTheCap(app: FastifyInstance, ids: string[]) {
    const over = await submit(app, 'alice', ['true']);
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.match(String(over.headers['content-type']), /^application\/problem\+json/);
    assert.equal(over.body.code, 'too_many_jobs');
    assert.match(over.body.detail, /at most 2 at once\. Wait for one to finish or cancel one/);
    assert.ok(Number(over.headers['retry-after']) > 0);
    // Nothing was made for the refused one; another user is not held to alice's count.
    const list = await app.inject({ url: '/api/v1/jobs', headers: as('alice') });
    assert.equal(list.json().items.length, 2);
    const bob = await submit(app, 'bob', ['true']);
    assert.equal(bob.status, 201, JSON.stringify(bob.body));
    // A rerun counts too.
    const rerun = await app.inject({
      method: 'POST',
      url: `/api/v1/jobs/${ids[0]}/rerun`,
      headers: as('alice')
    });
    assert.equal(rerun.statusCode, 429, rerun.body);
    await app.inject({
      method: 'POST',
      url: `/api/v1/jobs/${ids[0]}/cancel`,
      headers: as('alice')
    });
    await waitFor(app, ids[0], ended);
    const again = await submit(app, 'alice', ['true']);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    ids.push(again.body.id);
  }

  it('keeps every line of a job that prints one at a time, well under the cap', async t => {
    // Each line is its own short read from the pipe: the cap counts bytes, not reads.
    const config = limitsConfig({ logBytesPerJob: 256 * 1024 });
    const app = await build(t, config);
    const created = await submit(app, 'alice', [
      'sh',
      '-c',
      'i=0; while [ $i -lt 40 ]; do echo "slow line $i"; sleep 0.01; i=$((i+1)); done'
    ]);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitFor(app, created.body.id, ended);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    const file = join(config.jobs.local.logDir!, job.id, 'output.log');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 40, `the log kept ${lines.length} of 40 lines`);
    assert.equal(lines.at(-1), 'slow line 39');
  });

  it('cuts a job log at the cap, says so in the log, and lets the job run to its end', async t => {
    const cap = 4096;
    const config = limitsConfig({ logBytesPerJob: cap });
    const app = await build(t, config);
    // ~60 kB of output, then a last word on stderr after the cut and a clean exit.
    const created = await submit(app, 'alice', [
      'sh',
      '-c',
      'i=0; while [ $i -lt 2000 ]; do echo "line $i of the output"; i=$((i+1)); done; echo finished >&2; exit 0'
    ]);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitFor(app, created.body.id, ended);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.equal(job.exitCode, 0);
    const file = join(config.jobs.local.logDir!, job.id, 'output.log');
    const size = statSync(file).size;
    assert.ok(size > cap && size < cap + 512, `the log file has ${size} bytes`);
    const logs = await app.inject({ url: `/api/v1/jobs/${job.id}/logs`, headers: as('alice') });
    assert.equal(logs.statusCode, 200);
    const served = logs.body
      .split('\n')
      .filter(line => line.startsWith('data: '))
      .reduce((n, line) => n + Buffer.byteLength(line) - 6 + 1, 0);
    assert.ok(served > cap && served < cap + 512, `served ${served} bytes of log`);
    assert.match(logs.body, /line 0 of the output/);
    assert.match(
      logs.body,
      /\[hotstepper\] The log was cut here at 4096 bytes \(jobs\.caps\.logBytesPerJob\): the job goes on/
    );
    assert.doesNotMatch(logs.body, /line 1999 of the output|finished/);
    assert.match(logs.body, /event: end\ndata: \{"state":"succeeded","exitCode":0\}/);
  });

  it('holds a user to the cap of open log streams: one more answers 429 too_many_log_streams', async t => {
    const app = await build(t, limitsConfig({ logStreamsPerUser: 2 }));
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const created = await submit(app, 'alice', ['sleep', '30']);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    try {
      await streamsOverTheCap(base, `/api/v1/jobs/${id}/logs`);
    } finally {
      await app.inject({ method: 'DELETE', url: `/api/v1/jobs/${id}`, headers: as('alice') });
    }
  });

  async function streamsOverTheCap(base: string, path: string) {
    const first = await open(base, path, 'alice');
    const second = await open(base, path, 'alice');
    assert.deepEqual([first.statusCode, second.statusCode], [200, 200]);
    const third = await open(base, path, 'alice');
    assert.equal(third.statusCode, 429);
    assert.match(String(third.headers['content-type']), /^application\/problem\+json/);
    assert.ok(Number(third.headers['retry-after']) > 0);
    const problem = JSON.parse(await bodyOf(third)) as { code: string; detail: string };
    assert.equal(problem.code, 'too_many_log_streams');
    assert.match(problem.detail, /Close a log view/);
    // Another user has streams of their own; a 404 is still a 404.
    const bobs = await open(base, path, 'bob');
    assert.equal(bobs.statusCode, 404);
    bobs.resume();
    // Closing one stream frees its place.
    first.destroy();
    const until = Date.now() + 5000;
    let fourth: IncomingMessage;
    for (;;) {
      fourth = await open(base, path, 'alice');
      if (fourth.statusCode === 200 || Date.now() > until) break;
      fourth.resume();
      await new Promise(r => setTimeout(r, 100));
    }
    assert.equal(fourth.statusCode, 200);
    second.destroy();
    fourth.destroy();
  }

  it('serves at most the log cap in one stream whatever the executor gives, then says so and stops reading', async () => {
    const config = testConfig({ jobs: { ...testConfig().jobs } }).jobs;
    config.caps.logBytesPerJob = 2048;
    let stopped = false;
    // An executor (as Kubernetes' pod log would) that has far more than the cap to give.
    const executor = {
      kind: 'kubernetes',
      async logs(_job, options, emit) {
        for (let i = 0; i < 1000 && !options.signal.aborted; i++)
          emit({ event: 'line', id: String(i + 1), data: `${'x'.repeat(90)} ${i}` });
        stopped = options.signal.aborted;
      }
    } as Partial<IJobExecutor> as IJobExecutor;
    const db = { withTables: () => ({}) } as unknown as Parameters<
      typeof createJobsService
    >[0]['db'];
    const service = createJobsService({
      db,
      config,
      executor,
      clusterIndex: null,
      log: {} as never
    });
    const got: ILogEvent[] = [];
    await service.logs(
      { id: 'j1', user: 'alice', spec: {}, runtime: {}, state: 'running', createdAt: '' },
      { follow: true, signal: new AbortController().signal, finished: async () => false },
      e => got.push(e)
    );
    const lines = got.filter(e => e.event === 'line');
    const bytes = lines.reduce((n, e) => n + Buffer.byteLength(e.data) + 1, 0);
    assert.ok(bytes <= 2048 + 1024 && bytes > 2048, `served ${bytes} bytes`);
    assert.equal(got.at(-1)?.event, 'notice');
    assert.match(got.at(-1)!.data, /^The log is cut here: the companion serves at most 2048 bytes/);
    assert.equal(stopped, true, 'the executor was told to stop reading');
  });
});
