/**
 * The local executor runs every job as its owner's Unix account and nothing of the companion is
 * readable from there (issue 22 item 4, issue 21's probe): alice's job is hst-alice, cannot read
 * the companion's database, state, environment or process, nor bob's job log; and the executor
 * refuses to start, or to run a user's job, where that cannot hold.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Job } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import type { IConfig } from '../src/platform/config.js';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { accountsPapermill, testAccount, testHomes } from './helpers/unix-accounts.js';

const PLANTED = 'companion-env-secret-5d1e9a';
let hub: IHub;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'bob']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => hub?.stop());

function config(overrides: Partial<IConfig['jobs']['local']> = {}, dir = scratchDir()): IConfig {
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    database: { path: join(dir, 'hotstepper.sqlite') },
    jobs: {
      executor: 'local',
      local: {
        homeRoot: testHomes(['alice', 'bob']),
        papermill: accountsPapermill(),
        killGraceSeconds: 1,
        ...overrides
      }
    }
  });
}

async function submit(app: FastifyInstance, user: string, command: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: { authorization: `token ${tokens[user]}` },
    payload: { command: [command], shell: true }
  });
  return { status: res.statusCode, body: res.json() as Job & { code?: string; detail?: string } };
}

/** The job's log once it has ended, as plain text. */
async function logOf(app: FastifyInstance, user: string, id: string): Promise<string> {
  const until = Date.now() + 30_000;
  const headers = { authorization: `token ${tokens[user]}` };
  for (;;) {
    const job = (await app.inject({ url: `/api/v1/jobs/${id}`, headers })).json() as Job;
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) break;
    assert.ok(Date.now() < until, `job ${id} did not end: ${JSON.stringify(job)}`);
    await new Promise(r => setTimeout(r, 100));
  }
  const res = await app.inject({ url: `/api/v1/jobs/${id}/logs?follow=false`, headers });
  return res.body
    .split('\n')
    .filter(line => line.startsWith('data: '))
    .map(line => line.slice(6))
    .join('\n');
}

describe('local jobs run as their owner, never as the companion', () => {
  it("alice's job is hst-alice and reads nothing of the companion or of bob", async (t: TestContext) => {
    process.env.HOTSTEPPER_PLANTED = PLANTED;
    t.after(() => delete process.env.HOTSTEPPER_PLANTED);
    const cfg = config();
    const app = await build(t, cfg);
    const state = dirname(cfg.database.path);
    writeFileSync(join(state, 'companion-hub-token'), PLANTED);
    const bobs = await submit(app, 'bob', `echo bob-log-${PLANTED}`);
    assert.equal(bobs.status, 201, JSON.stringify(bobs.body));
    await logOf(app, 'bob', bobs.body.id);
    const bobLog = join(state, 'jobs', bobs.body.id, 'output.log');
    assert.ok(existsSync(bobLog), 'bob’s job log is where the probe looks');

    const probe = [
      'id -u',
      `cat ${cfg.database.path} | head -c 64`,
      `ls ${state}`,
      `cat ${join(state, 'companion-hub-token')}`,
      `cat ${bobLog}`,
      `cat /proc/${process.pid}/environ`,
      'env'
    ]
      .map(c => `${c} 2>&1; echo "[exit $?]"`)
      .join('; ');
    const alices = await submit(app, 'alice', probe);
    assert.equal(alices.status, 201, JSON.stringify(alices.body));
    const log = await logOf(app, 'alice', alices.body.id);
    const lines = log.split('\n');
    assert.equal(lines[0], String(testAccount('alice').uid), log);
    assert.doesNotMatch(log, new RegExp(PLANTED), 'nothing planted reached the job');
    assert.doesNotMatch(log, /SQLite format/, 'the database was not readable');
    assert.equal(log.match(/Permission denied/g)?.length, 5, log);
    assert.match(log, /USER=hst-alice/);
    assert.doesNotMatch(log, /HOTSTEPPER_(?!JOB_ID)/, 'no companion setting in its environment');
  });

  it('refuses a user without an account, and root as an account', async t => {
    for (const [account, reason] of [
      ['hst-nobody-{username}', /no Unix account named hst-nobody-alice/],
      ['root', /root or the companion's own/]
    ] as const) {
      const app = await build(t, config({ account }));
      const res = await submit(app, 'alice', 'id');
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.code, 'no_account');
      assert.match(res.body.detail ?? '', reason);
    }
  });

  it('does not start while the companion’s state is open to other accounts', async () => {
    const dir = scratchDir();
    chmodSync(dir, 0o755);
    await assert.rejects(
      buildApp(config({}, dir)).then(app => app.ready()),
      /jobs.executor is local, but .* is open to other accounts \(mode 755\)/
    );
  });
});
