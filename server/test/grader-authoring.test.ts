/**
 * A teacher authors an assignment from Lab: the source notebooks listed with size and date, one
 * read back to edit and put again, checked before Generate (in sentences), and the student
 * version read to preview. Other teachers and students get 404, as for every course route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraderAssignmentList, GraderNotebook, GraderValidation } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

const COURSE = 'cs201';
let hub: IHub;
let app: FastifyInstance;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], ['s01']);
  await makeCourse(hub.apiUrl, hub.serviceToken, 'other', ['teach2'], []);
  for (const u of ['teach1', 'teach2', 's01']) tokens[u] = (await hub.createToken(u)).token;
  const dir = mkdtempSync(join(tmpdir(), 'hs-grader-authoring-'));
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange')
      }
    }),
    { features: [grader] }
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
const ok = <T>(res: LightMyRequestResponse): T => {
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as T;
};
function problem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code, res.body);
  return res.json() as { detail: string };
}
const A = `/api/v1/grader/courses/${COURSE}/assignments/hw1`;

const sources = (content: string): string[] =>
  (JSON.parse(content).cells as { source: string | string[] }[]).map(c =>
    Array.isArray(c.source) ? c.source.join('') : c.source
  );

/** The fixture notebook with the "explain" cell given the grade id of "squares". */
function duplicated(): string {
  const nb = JSON.parse(notebook('ps1'));
  for (const cell of nb.cells)
    if (cell.metadata.nbgrader?.grade_id === 'explain') cell.metadata.nbgrader.grade_id = 'squares';
  return JSON.stringify(nb);
}

describe('grader authoring', () => {
  it('lists the source notebooks and reads one back as it was put', async () => {
    ok(await call('teach1', 'PUT', A, { duedate: null }));
    const empty = ok<GraderValidation>(await call('teach1', 'POST', `${A}/validate`));
    assert.equal(empty.ready, false);
    assert.match(empty.problems[0].message, /no notebooks in this assignment yet/);

    const content = notebook('ps1');
    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content }));
    const list = ok<GraderAssignmentList>(await call('teach1', 'GET', `${A.split('/hw1')[0]}`));
    const hw1 = list.assignments.find(a => a.name === 'hw1')!;
    assert.deepEqual(hw1.notebooks, ['problem1']);
    assert.equal(hw1.sources[0].name, 'problem1');
    assert.ok(hw1.sources[0].size > 100);
    assert.ok(Date.parse(hw1.sources[0].modified) > Date.now() - 60_000);

    const read = ok<GraderNotebook>(await call('teach1', 'GET', `${A}/notebooks/problem1`));
    assert.equal(read.name, 'problem1');
    // nbformat writes sources as lists of lines: the same text either way.
    assert.deepEqual(sources(read.content), sources(content));
    // Edited in Lab and put again: the next read is the edit.
    const edited = JSON.parse(read.content);
    edited.cells[0].source = 'Edited in Lab.';
    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content: JSON.stringify(edited) }));
    const again = ok<GraderNotebook>(await call('teach1', 'GET', `${A}/notebooks/problem1`));
    assert.equal(sources(again.content)[0], 'Edited in Lab.');
  });

  it('answers 404 for other teachers, students, and notebooks that are not there', async () => {
    for (const user of ['teach2', 's01']) {
      problem(await call(user, 'GET', `${A}/notebooks/problem1`), 404, 'not_found');
      problem(await call(user, 'POST', `${A}/validate`), 404, 'not_found');
      problem(await call(user, 'GET', `${A}/student-version/problem1`), 404, 'not_found');
    }
    const missing = problem(
      await call('teach1', 'GET', `${A}/notebooks/nope`),
      404,
      'notebook_unknown'
    );
    assert.match(missing.detail, /no notebook nope\.ipynb in hw1/);
    problem(await call('teach1', 'GET', `${A}/notebooks/a..b`), 400, 'name_invalid');
    problem(
      await call('teach1', 'GET', `${A.replace('hw1', 'hw9')}/notebooks/x`),
      404,
      'not_found'
    );
  });

  it('says in words what is wrong with a notebook, and when it is ready', async () => {
    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content: duplicated() }));
    const broken = ok<GraderValidation>(await call('teach1', 'POST', `${A}/validate`));
    assert.equal(broken.ready, false);
    assert.match(broken.message, /not ready to generate: 1 problem to fix/);
    assert.deepEqual(broken.problems, [
      {
        notebook: 'problem1',
        cell: 6,
        gradeId: 'squares',
        message: 'Cells 2 and 6 both have the grade id "squares": every marked cell needs its own.'
      }
    ]);
    assert.doesNotMatch(JSON.stringify(broken), /Traceback|\/tmp\//);

    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content: notebook('ps1') }));
    const good = ok<GraderValidation>(await call('teach1', 'POST', `${A}/validate`));
    assert.deepEqual(good.problems, []);
    assert.equal(good.ready, true);
    assert.match(good.message, /^Ready to generate/);
  });

  it('runs the tests with the solutions in place, in a unit, and names the cell that fails', async () => {
    const nb = JSON.parse(notebook('ps1'));
    for (const cell of nb.cells)
      if (cell.metadata.nbgrader?.grade_id === 'test_big')
        cell.source = 'assert squares(10)[-1] == 99';
    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content: JSON.stringify(nb) }));
    const failing = ok<GraderValidation>(await call('teach1', 'POST', `${A}/validate`));
    assert.equal(failing.ready, false);
    assert.match(failing.message, /not ready to generate: 1 problem to fix/);
    assert.deepEqual(
      failing.problems.map(p => [p.notebook, p.cell, p.gradeId]),
      [['problem1', 4, 'test_big']]
    );
    assert.match(
      failing.problems[0].message,
      /^Cell 4 \("test_big"\) does not get its points with the solution in place: AssertionError/
    );
    assert.doesNotMatch(JSON.stringify(failing), /Traceback|\/tmp\/|hs-grader-authoring/);
    ok(await call('teach1', 'PUT', `${A}/notebooks/problem1`, { content: notebook('ps1') }));
  });

  it('previews the student version only once Generate made it', async () => {
    const before = problem(
      await call('teach1', 'GET', `${A}/student-version/problem1`),
      404,
      'not_generated'
    );
    assert.match(before.detail, /Generate hw1 first/);
    ok(await call('teach1', 'POST', `${A}/generate`));
    const preview = ok<GraderNotebook>(
      await call('teach1', 'GET', `${A}/student-version/problem1`)
    );
    const text = sources(preview.content).join('\n');
    assert.match(text, /YOUR CODE HERE/);
    assert.doesNotMatch(text, /BEGIN SOLUTION/);
  });
});
