/**
 * The grader's student side with grader.homes (issue 21, item 3), with real nbgrader and a real
 * JupyterHub: what a student plants in their home (symbolic links to the instructor's source
 * notebooks, the gradebook or any file the companion can read, a hard link, a linked cache) is
 * never followed, copied or read. The answer is 409 unsafe_path naming the path in the home,
 * never a file's content or a server path.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

const COURSE = 'cs105';
const STUDENTS = ['s01', 's02', 's03', 's04', 's05'];
const SECRET = 'TOP-SECRET-8c41f0 the companion must never copy or echo this';
let hub: IHub;
let app: FastifyInstance;
let dir: string;
const tokens: Record<string, string> = {};
const home = (user: string) => join(dir, 'home', user);
const source = () => join(dir, 'courses', COURSE, 'source', 'ps1', 'problem1.ipynb');
const inbound = () => join(dir, 'exchange', COURSE, 'inbound');

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach5'], STUDENTS);
  for (const u of ['teach5', ...STUDENTS]) tokens[u] = (await hub.createToken(u)).token;
  dir = mkdtempSync(join(tmpdir(), 'hs-grader-homes-'));
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}')
      }
    }),
    { features: [grader] }
  );
  await app.ready();
  // The instructor's notebook (with its solution), generated and released.
  const C = `/api/v1/grader/courses/${COURSE}`;
  for (const [method, url, body] of [
    ['PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' }],
    ['PUT', `${C}/assignments/ps1/notebooks/problem1`, { content: notebook('ps1') }],
    ['POST', `${C}/assignments/ps1/generate`, undefined],
    ['POST', `${C}/assignments/ps1/release`, undefined]
  ] as const) {
    const res = await call('teach5', method, url, body);
    assert.equal(res.statusCode, 200, res.body);
  }
});
after(async () => {
  await app?.close();
  await hub?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function call(user: string, method: string, url: string, body?: unknown) {
  return app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
}
const my = (op: string) => `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/${op}`;

/** 409 unsafe_path naming `path` in the home, with no file content and no server path. */
function unsafe(res: LightMyRequestResponse, path: string) {
  assert.equal(res.statusCode, 409, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json() as { code: string; detail: string };
  assert.equal(problem.code, 'unsafe_path', res.body);
  assert.ok(problem.detail.startsWith(`~/${path} `), problem.detail);
  assert.ok(!res.body.includes(dir), `a server path in ${res.body}`);
  assert.ok(!res.body.includes('TOP-SECRET'), `file content in ${res.body}`);
  assert.ok(!res.body.includes('### BEGIN SOLUTION'), `the source notebook in ${res.body}`);
}

const submissions = (student: string) =>
  existsSync(inbound()) ? readdirSync(inbound()).filter(n => n.startsWith(`${student}+`)) : [];

async function fetched(student: string) {
  const res = await call(student, 'POST', my('fetch'));
  assert.equal(res.statusCode, 200, res.body);
  return join(home(student), COURSE, 'ps1');
}

describe('grader: what a student plants in their home', { timeout: 240_000 }, () => {
  it('submits the fetched notebook of a student who planted nothing (the control)', async () => {
    const folder = await fetched('s01');
    // What Lab and the desktop leave beside the work: checkpoints, .DS_Store, a lock file.
    mkdirSync(join(folder, '.ipynb_checkpoints'));
    writeFileSync(join(folder, '.ipynb_checkpoints', 'problem1-checkpoint.ipynb'), notebook('ps1'));
    writeFileSync(join(folder, '.DS_Store'), 'x');
    writeFileSync(join(folder, '.~lock.notes.txt#'), 'x');
    const res = await call('s01', 'POST', my('submit'));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(submissions('s01').length, 1);
    assert.ok(!res.body.includes(dir), `a server path in ${res.body}`);
    // None of it is submitted, and nbgrader names no EXTRA file.
    const sent = readdirSync(join(inbound(), submissions('s01')[0])).sort();
    assert.deepEqual(sent, ['problem1.ipynb', 'submission_secret.txt', 'timestamp.txt']);
    const result = res.json() as { log: string; message: string };
    assert.ok(!/extra/i.test(result.log), result.log);
    assert.equal(result.message, 'Submitted ps1.');
    // The student's folder keeps them.
    assert.ok(existsSync(join(folder, '.ipynb_checkpoints', 'problem1-checkpoint.ipynb')));
  });

  it("refuses to submit a notebook linked to the instructor's source: nothing reaches the exchange", async () => {
    const folder = await fetched('s02');
    rmSync(join(folder, 'problem1.ipynb'));
    symlinkSync(source(), join(folder, 'problem1.ipynb'));
    unsafe(await call('s02', 'POST', my('submit')), `${COURSE}/ps1/problem1.ipynb`);
    assert.deepEqual(submissions('s02'), []);
  });

  it('refuses to submit a link to a file outside, or a hard link, and never echoes its content', async () => {
    const folder = await fetched('s03');
    // As the notebook itself: before, the "not a notebook" answer quoted the file.
    rmSync(join(folder, 'problem1.ipynb'));
    symlinkSync(join(dir, 'secret.txt'), join(folder, 'problem1.ipynb'));
    unsafe(await call('s03', 'POST', my('submit')), `${COURSE}/ps1/problem1.ipynb`);
    // As an extra file beside a good notebook, and as a hard link.
    rmSync(join(folder, 'problem1.ipynb'));
    writeFileSync(join(folder, 'problem1.ipynb'), notebook('ps1'));
    symlinkSync(join(dir, 'secret.txt'), join(folder, 'notes.txt'));
    unsafe(await call('s03', 'POST', my('submit')), `${COURSE}/ps1/notes.txt`);
    rmSync(join(folder, 'notes.txt'));
    linkSync(join(dir, 'secret.txt'), join(folder, 'notes.txt'));
    unsafe(await call('s03', 'POST', my('submit')), `${COURSE}/ps1/notes.txt`);
    assert.deepEqual(submissions('s03'), []);
  });

  it('refuses to fetch through a linked course folder: nothing is written where it points', async () => {
    const outside = join(dir, 'outside-s04');
    mkdirSync(outside);
    mkdirSync(home('s04'), { recursive: true });
    symlinkSync(outside, join(home('s04'), COURSE));
    unsafe(await call('s04', 'POST', my('fetch')), COURSE);
    assert.deepEqual(readdirSync(outside), []);
    // Linked to the course's own source folder: the instructor's notebook stays as it was.
    rmSync(join(home('s04'), COURSE));
    const before = readFileSync(source(), 'utf8');
    symlinkSync(join(dir, 'courses', COURSE, 'source'), join(home('s04'), COURSE));
    unsafe(await call('s04', 'POST', my('submit')), COURSE);
    assert.equal(readFileSync(source(), 'utf8'), before);
    const mine = await call('s04', 'GET', '/api/v1/grader/my/assignments');
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().assignments[0].fetched, false);
  });

  it("refuses a linked submission cache: no submission, nothing written to the link's target", async () => {
    await fetched('s05');
    const outside = join(dir, 'outside-cache');
    mkdirSync(outside);
    symlinkSync(outside, join(home('s05'), '.local'));
    unsafe(await call('s05', 'POST', my('submit')), '.local');
    assert.deepEqual(readdirSync(outside), []);
    assert.deepEqual(submissions('s05'), []);
    unsafe(await call('s05', 'POST', my('fetch-feedback')), '.local');
  });

  it('collects no link a student planted in the exchange inbound, nor a submission that is one', async () => {
    // s01's later submission holds a link to the source notebook (nbgrader's copy followed it).
    const planted = join(inbound(), 's01+ps1+2029-01-01 00:00:00.000000 UTC+planted1');
    mkdirSync(planted);
    writeFileSync(join(planted, 'timestamp.txt'), '2029-01-01 00:00:00.000000 UTC');
    symlinkSync(source(), join(planted, 'problem1.ipynb'));
    symlinkSync(join(dir, 'secret.txt'), join(planted, 'notes.txt'));
    // s02's "submission" is a link to the course's source folder.
    symlinkSync(
      join(dir, 'courses', COURSE, 'source', 'ps1'),
      join(inbound(), 's02+ps1+2029-01-01 00:00:00.000000 UTC+planted2')
    );
    const res = await call(
      'teach5',
      'POST',
      `/api/v1/grader/courses/${COURSE}/assignments/ps1/collect`
    );
    assert.equal(res.statusCode, 200, res.body);
    const submitted = (student: string) =>
      join(dir, 'courses', COURSE, 'submitted', student, 'ps1');
    assert.ok(existsSync(submitted('s01')));
    assert.deepEqual(readdirSync(submitted('s01')).sort(), ['timestamp.txt']);
    assert.equal(existsSync(submitted('s02')), false);
    assert.ok(!res.body.includes(dir), `a server path in ${res.body}`);
  });
});
