/**
 * The roster sync takes a course's students from the hub group nbgrader-<course> into nbgrader's
 * gradebook. JupyterHub allows names nbgrader cannot use ("+" separates the parts of an exchange
 * submission's folder name, ".." and spaces end up in paths, a line break in nbgrader's logs and
 * CSV exports): such members are skipped, logged at warn and listed for the instructor, and never
 * reach nbgrader, neither through the sync nor as students of their own. Real JupyterHub, real
 * nbgrader in the course environment.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraderRoster, GraderSubmissionList } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { graderPython, hubCall, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

const COURSE = 'cs101';
const C = `/api/v1/grader/courses/${COURSE}`;
/**
 * Names the hub accepts and nbgrader must not get: one that would read as student "s01" of
 * assignment "ps1" in an exchange folder name, a "..", a space, a line break, a leading dot.
 */
const UNUSABLE = ['s01+ps1', 'x..y', 'two words', 'line\nbreak', '.hidden'];

let hub: IHub;
let app: FastifyInstance;
let dir: string;
const lines: string[] = [];
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], ['s01']);
  for (const name of UNUSABLE) {
    // One at a time, so a name the hub itself refuses fails here, naming it.
    await hubCall(hub.apiUrl, hub.serviceToken, 'POST', '/users', { usernames: [name] });
  }
  await hubCall(hub.apiUrl, hub.serviceToken, 'POST', `/groups/nbgrader-${COURSE}/users`, {
    users: UNUSABLE
  });
  for (const user of ['teach1', 's01', ...UNUSABLE]) {
    const res = await fetch(`${hub.apiUrl}/users/${encodeURIComponent(user)}/tokens`, {
      method: 'POST',
      headers: { Authorization: `token ${hub.serviceToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        expires_in: 3600,
        scopes: ['users:activity!user', 'access:services!service=hotstepper']
      })
    });
    assert.equal(res.status, 201, `${JSON.stringify(user)}: ${await res.clone().text()}`);
    tokens[user] = String(((await res.json()) as { token: string }).token);
  }
  dir = mkdtempSync(join(tmpdir(), 'hs-roster-names-'));
  for (const user of ['s01', ...UNUSABLE]) mkdirSync(join(dir, 'home', user), { recursive: true });
  app = await buildApp(
    testConfig({
      log: { level: 'info' },
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}'),
        concurrency: 1,
        unitTimeoutSeconds: 30
      }
    }),
    { features: [grader], logStream: { write: line => void lines.push(line) } }
  );
  await app.ready();
});
after(async () => {
  await app?.close();
  await hub?.stop();
});

const call = (user: string, method: string, url: string, body?: unknown) =>
  app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
const ok = <T>(res: LightMyRequestResponse, what: string): T => {
  assert.equal(res.statusCode, 200, `${what}: ${res.body}`);
  return res.json() as T;
};

describe('roster sync and hub names nbgrader cannot use', { timeout: 300_000 }, () => {
  it('the hub group holds them (the premise)', async () => {
    const res = await fetch(`${hub.apiUrl}/groups/nbgrader-${COURSE}`, {
      headers: { Authorization: `token ${hub.serviceToken}` }
    });
    const members = ((await res.json()) as { users: string[] }).users;
    for (const name of UNUSABLE) assert.ok(members.includes(name), JSON.stringify(members));
  });

  it('skips them in the sync: not in the gradebook, listed as skipped, logged at warn', async () => {
    const ps1 = `${C}/assignments/ps1`;
    ok(await call('teach1', 'PUT', ps1, { duedate: null }), 'put ps1');
    ok(
      await call('teach1', 'PUT', `${ps1}/notebooks/problem1`, { content: notebook('ps1') }),
      'put notebook'
    );
    // The submissions table syncs the roster first.
    const list = ok<GraderSubmissionList>(
      await call('teach1', 'GET', `${ps1}/submissions`),
      'submissions'
    );
    assert.deepEqual(
      list.submissions.map(s => s.student),
      ['s01']
    );

    // The gradebook (nbgrader's student table, as the roster lists it) has s01 alone.
    const roster = ok<GraderRoster>(await call('teach1', 'GET', `${C}/students`), 'roster');
    assert.deepEqual(
      roster.students.map(s => s.id),
      ['s01']
    );
    assert.deepEqual(roster.skipped, [...UNUSABLE].sort());

    const warned = lines
      .map(
        l => JSON.parse(l) as { level: number; msg: string; course?: string; skipped?: string[] }
      )
      .filter(l => l.level === 40 && l.course === COURSE && l.skipped);
    assert.ok(warned.length >= 1, `no warn line about the skipped members:\n${lines.join('')}`);
    assert.deepEqual(warned[0].skipped, [...UNUSABLE].sort());
    assert.match(warned[0].msg, /nbgrader-cs101/);
  });

  it('gives them no student side: nothing listed, fetch refused before nbgrader runs', async () => {
    const ps1 = `${C}/assignments/ps1`;
    ok(await call('teach1', 'POST', `${ps1}/generate`), 'generate');
    ok(await call('teach1', 'POST', `${ps1}/release`), 'release');
    // s01 sees and fetches ps1: the course works.
    const mine = ok<{ assignments: { assignment: string }[] }>(
      await call('s01', 'GET', '/api/v1/grader/my/assignments'),
      's01 list'
    );
    assert.deepEqual(
      mine.assignments.map(a => a.assignment),
      ['ps1']
    );
    ok(
      await call('s01', 'POST', `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/fetch`),
      's01 fetch'
    );
    for (const user of UNUSABLE) {
      const who = JSON.stringify(user);
      const list = ok<{ assignments: unknown[] }>(
        await call(user, 'GET', '/api/v1/grader/my/assignments'),
        `${who} list`
      );
      assert.deepEqual(list.assignments, [], who);
      for (const op of ['fetch', 'submit']) {
        const res = await call(
          user,
          'POST',
          `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/${op}`
        );
        assert.equal(res.statusCode, 404, `${who} ${op}: ${res.body}`);
      }
      assert.deepEqual(readdirSync(join(dir, 'home', user)), [], `${who}'s home was written`);
    }
    // Nothing in the exchange's inbound but what s01 may later submit: no folder names them.
    const inbound = join(dir, 'exchange', COURSE, 'inbound');
    const entries = existsSync(inbound) ? readdirSync(inbound) : [];
    assert.deepEqual(entries, []);
    // The gradebook still has s01 alone.
    const roster = ok<GraderRoster>(await call('teach1', 'GET', `${C}/students`), 'roster');
    assert.deepEqual(
      roster.students.map(s => s.id),
      ['s01']
    );
  });
});
