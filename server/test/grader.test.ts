/**
 * The grader with real nbgrader (PyPI, in the course environment) and a real JupyterHub: a course
 * of twelve students who fetch and submit through nbgrader's exchange (some late, one with an
 * extension, one broken notebook, one infinite loop that hits the unit time limit, one file that
 * is not a notebook), collected, autograded in parallel, graded by hand, fed back and exported.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type {
  GraderGrades,
  GraderMyAssignmentList,
  GraderQueue,
  GraderSubmissionList
} from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { answer, answerPs2, graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

const COURSE = 'cs101';
const STUDENTS = Array.from({ length: 12 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
let hub: IHub;
let app: FastifyInstance;
let dir: string;
const tokens: Record<string, string> = {};
const home = (user: string) => join(dir, 'home', user);

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], STUDENTS);
  await makeCourse(hub.apiUrl, hub.serviceToken, 'other', ['teach2'], ['s01']);
  for (const u of ['teach1', 'teach2', 'alice', ...STUDENTS])
    tokens[u] = (await hub.createToken(u)).token;
  dir = mkdtempSync(join(tmpdir(), 'hs-grader-'));
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}'),
        concurrency: 3,
        // Long enough for a real cell, short enough that the infinite loop meets the unit limit.
        cellTimeoutSeconds: 600,
        unitTimeoutSeconds: 25,
        latePenalty: 'zero'
      }
    }),
    // The grader alone: other features' half-built routes do not stop this file.
    { features: [grader] }
  );
  await app.ready();
});
after(async () => {
  await app?.close();
  await hub?.stop();
});

const call = async (user: string, method: string, url: string, body?: unknown) =>
  app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
const ok = (res: LightMyRequestResponse, status = 200) => {
  assert.equal(res.statusCode, status, res.body);
  return res.json();
};
function problem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.json().code, code, res.body);
  return res.json() as { detail: string; errors?: { path: string }[] };
}
const C = `/api/v1/grader/courses/${COURSE}`;
const my = (a: string, op: string) => `/api/v1/grader/my/courses/${COURSE}/assignments/${a}/${op}`;

/** nbgrader's own submit CLI, as the student in their home: how a non-notebook reaches the exchange. */
function cliSubmit(student: string, assignment: string) {
  execFileSync(
    join(dirname(graderPython()), 'nbgrader'),
    [
      'submit',
      assignment,
      '--course',
      COURSE,
      '--student',
      student,
      `--Exchange.root=${join(dir, 'exchange')}`,
      '--Exchange.path_includes_course=True'
    ],
    {
      cwd: home(student),
      stdio: 'ignore',
      env: { ...process.env, PATH: `${dirname(graderPython())}:${process.env.PATH}` }
    }
  );
}

describe('grader', () => {
  it('lists courses from the hub groups, by role', async () => {
    assert.deepEqual(ok(await call('teach1', 'GET', '/api/v1/grader/courses')).courses, [
      { name: COURSE, role: 'instructor', students: 12, instructors: ['teach1'] }
    ]);
    const s01 = ok(await call('s01', 'GET', '/api/v1/grader/courses')).courses;
    assert.deepEqual(
      s01.map((c: { name: string; role: string }) => `${c.name}:${c.role}`),
      ['cs101:student', 'other:student']
    );
    assert.deepEqual(ok(await call('alice', 'GET', '/api/v1/grader/courses')).courses, []);
  });

  it('keeps students and other instructors out of a course: 404', async () => {
    problem(await call('s01', 'GET', `${C}/assignments`), 404, 'not_found');
    problem(await call('teach2', 'GET', `${C}/assignments`), 404, 'not_found');
    problem(await call('s01', 'PUT', `${C}/assignments/ps1`, { duedate: null }), 404, 'not_found');
    problem(await call('s01', 'GET', `${C}/grades`), 404, 'not_found');
    problem(await call('alice', 'POST', my('ps1', 'fetch')), 404, 'not_found');
  });

  it('refuses bad names, due dates and notebooks, creating nothing', async () => {
    problem(
      await call('teach1', 'PUT', `${C}/assignments/a%2Fb`, { duedate: null }),
      400,
      'name_invalid'
    );
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps+1`, { duedate: null }),
      400,
      'name_invalid'
    );
    problem(
      await call('teach1', 'PUT', `${C}/assignments/a..b`, { duedate: null }),
      400,
      'name_invalid'
    );
    const bad = problem(
      await call('teach1', 'PUT', `${C}/assignments/ps9`, { duedate: 'next friday' }),
      400,
      'duedate_invalid'
    );
    assert.equal(bad.errors?.[0].path, 'body.duedate');
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps9`, { duedate: '2020-01-01T00:00:00Z' }),
      400,
      'duedate_invalid'
    );
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps9`, { duedate: '2030-01-01T00:00:00' }),
      400,
      'duedate_invalid'
    );
    assert.deepEqual(ok(await call('teach1', 'GET', `${C}/assignments`)).assignments, []);
    ok(await call('teach1', 'PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' }));
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps1/notebooks/problem1`, {
        content: '{"cells": "nope"}'
      }),
      400,
      'not_a_notebook'
    );
    const roster = ok(await call('teach1', 'GET', `${C}/students`)).students.length;
    const dup = problem(
      await call('teach1', 'POST', `${C}/students/import`, {
        csv: 'id,first_name\nx1,A\n,B\nx1,C\n'
      }),
      400,
      'roster_invalid'
    );
    assert.match(dup.detail, /line 3 has no id.*line 4 repeats id "x1" of line 2/);
    problem(
      await call('teach1', 'POST', `${C}/students/import`, { csv: 'name\nx1\n' }),
      400,
      'roster_invalid'
    );
    const raw = (payload: string) =>
      app.inject({
        method: 'POST',
        url: `${C}/students/import`,
        headers: { authorization: `token ${tokens.teach1}`, 'content-type': 'application/json' },
        payload
      });
    problem(await raw('{"csv": '), 400, 'malformed_json');
    problem(await raw(''), 400, 'validation_failed');
    assert.equal(
      ok(await call('teach1', 'GET', `${C}/students`)).students.length,
      roster,
      'nothing was added'
    );
    // A step with nothing to work on yet says what to do: no traceback, no server path.
    const early = problem(
      await call('teach1', 'POST', `${C}/assignments/ps1/feedback/generate`),
      422,
      'nbgrader_failed'
    );
    assert.match(early.detail, /autograde the submissions first/);
    assert.doesNotMatch(early.detail, /Traceback|File "|site-packages|\/root\/|\/tmp\//);
  });

  it('runs a course end to end: release, fetch, submit, collect, parallel autograde, grade, feedback, export', async t => {
    // Two assignments, released.
    ok(
      await call('teach1', 'PUT', `${C}/assignments/ps1/notebooks/problem1`, {
        content: notebook('ps1')
      })
    );
    ok(await call('teach1', 'PUT', `${C}/assignments/ps2`, { duedate: '2030-01-01T00:00:00Z' }));
    ok(
      await call('teach1', 'PUT', `${C}/assignments/ps2/notebooks/problem1`, {
        content: notebook('ps2')
      })
    );
    for (const a of ['ps1', 'ps2']) {
      ok(await call('teach1', 'POST', `${C}/assignments/${a}/generate`));
      ok(await call('teach1', 'POST', `${C}/assignments/${a}/release`));
    }
    const mine = ok(
      await call('s01', 'GET', '/api/v1/grader/my/assignments')
    ) as GraderMyAssignmentList;
    assert.deepEqual(
      mine.assignments.map(a => [a.assignment, a.duedate]),
      [
        ['ps1', '2030-01-01T00:00:00Z'],
        ['ps2', '2030-01-01T00:00:00Z']
      ]
    );

    // Every student fetches; their answers go in; the first nine submit on time.
    const kinds: Record<string, 'correct' | 'partial' | 'broken' | 'loop'> = {
      s07: 'partial',
      s08: 'broken',
      s09: 'loop'
    };
    for (const s of STUDENTS) {
      ok(await call(s, 'POST', my('ps1', 'fetch')));
      answer(home(s), COURSE, kinds[s] ?? 'correct');
    }
    for (const s of STUDENTS.slice(0, 9)) ok(await call(s, 'POST', my('ps1', 'submit')));
    // The deadline passes (recorded in the past), s10 has an extension, s10 and s11 submit late.
    await new Promise(r => setTimeout(r, 1100));
    const deadline = new Date(Date.now() - 500).toISOString();
    ok(
      await call('teach1', 'PUT', `${C}/assignments/ps1`, {
        duedate: deadline,
        allowPastDuedate: true
      })
    );
    const ext = ok(
      await call('teach1', 'PUT', `${C}/assignments/ps1/students/s10/extension`, { seconds: 3600 })
    );
    assert.equal(ext.extensionSeconds, 3600);
    ok(await call('s10', 'POST', my('ps1', 'submit')));
    ok(await call('s11', 'POST', my('ps1', 'submit')));
    const s10view = (
      ok(await call('s10', 'GET', '/api/v1/grader/my/assignments')) as GraderMyAssignmentList
    ).assignments[0];
    assert.equal(s10view.extensionSeconds, 3600);
    assert.equal(s10view.late, false);
    // s12's file is not a notebook: the companion refuses it; nbgrader's own CLI lets it through.
    writeFileSync(join(home('s12'), COURSE, 'ps1', 'problem1.ipynb'), 'this is not a notebook');
    problem(await call('s12', 'POST', my('ps1', 'submit')), 400, 'not_a_notebook');
    cliSubmit('s12', 'ps1');
    // ps2: one student.
    ok(await call('s01', 'POST', my('ps2', 'fetch')));
    answerPs2(home('s01'), COURSE);
    ok(await call('s01', 'POST', my('ps2', 'submit')));

    let table = ok(
      await call('teach1', 'GET', `${C}/assignments/ps1/submissions`)
    ) as GraderSubmissionList;
    assert.equal(table.submissions.length, 12);
    for (const r of table.submissions)
      assert.ok(r.fetched && r.submitted && !r.collected, JSON.stringify(r));

    const collected = ok(await call('teach1', 'POST', `${C}/assignments/ps1/collect`));
    // A sentence for people; nbgrader's log (behind Details in the panel) has no server path.
    assert.equal(collected.message, 'Collected 12 submissions of ps1.');
    assert.ok(!collected.log.includes(dir), collected.log);
    assert.equal(
      ok(await call('teach1', 'POST', `${C}/assignments/ps2/collect`)).message,
      'Collected 1 submission of ps2.'
    );
    // Autograde all, in parallel (concurrency 3), and watch the queue run.
    const started = Date.now();
    const queued = ok(
      await call('teach1', 'POST', `${C}/assignments/ps1/autograde`, {}),
      202
    ) as GraderQueue;
    assert.equal(queued.units.length, 12);
    ok(await call('teach1', 'POST', `${C}/assignments/ps2/autograde`, { students: ['s01'] }), 202);
    problem(
      await call('teach1', 'POST', `${C}/assignments/ps2/autograde`, { students: ['s02'] }),
      400,
      'not_collected'
    );
    let peak = 0;
    const drained = async () => {
      const until = Date.now() + 600_000;
      for (;;) {
        assert.ok(Date.now() < until, 'the queue drained within 10 minutes');
        const q = ok(await call('teach1', 'GET', `${C}/queue`)) as GraderQueue;
        peak = Math.max(peak, q.units.filter(u => u.state === 'running').length);
        if (q.units.every(u => u.state === 'done' || u.state === 'failed')) return;
        await new Promise(r => setTimeout(r, 250));
      }
    };
    await drained();
    t.diagnostic(
      `13 units in ${((Date.now() - started) / 1000).toFixed(1)} s, at most ${peak} at once`
    );
    assert.equal(peak, 3, 'three units ran at once');
    const units = (ok(await call('teach1', 'GET', `${C}/queue`)) as GraderQueue).units;
    const state = Object.fromEntries(
      units.filter(u => u.assignment === 'ps1').map(u => [u.student, u])
    );
    assert.equal(state.s09.state, 'failed');
    assert.match(state.s09.error ?? '', /^time_limit/);
    assert.equal(state.s12.state, 'failed');
    for (const s of STUDENTS.filter(s => !['s09', 's12'].includes(s)))
      assert.equal(state[s].state, 'done', `${s}: ${state[s].error}`);
    const log = ok(await call('teach1', 'GET', `${C}/queue/${state.s12.id}/log`));
    assert.ok(log.log.length > 0);
    // The unit's log reads paths relative to the course: no server path reaches the browser.
    assert.ok(!log.log.includes(dir), log.log);
    assert.ok(!log.log.includes(tmpdir()), log.log);
    // A failed unit can be retried: it is queued again (and fails again the same way).
    const again = ok(await call('teach1', 'POST', `${C}/queue/${state.s12.id}/retry`), 202);
    assert.equal(again.state, 'queued');
    await drained();
    problem(await call('s01', 'GET', `${C}/queue`), 404, 'not_found');

    table = ok(
      await call('teach1', 'GET', `${C}/assignments/ps1/submissions`)
    ) as GraderSubmissionList;
    const row = Object.fromEntries(table.submissions.map(r => [r.student, r]));
    assert.equal(row.s01.score, 3);
    assert.equal(row.s01.needsManualGrade, true);
    assert.equal(row.s07.score, 2);
    assert.equal(row.s08.score, 0);
    assert.equal(row.s10.secondsLate, 0, 'the extension covers s10');
    assert.equal(row.s10.extensionSeconds, 3600);
    assert.ok(row.s11.secondsLate > 0, 's11 is late');
    assert.equal(row.s02.secondsLate, 0);

    // Manual grading: s01's written answer gets 2 of 2, with a comment.
    const grades = ok(
      await call('teach1', 'GET', `${C}/assignments/ps1/students/s01/grades`)
    ) as GraderGrades;
    const explain = grades.notebooks[0].cells.find(c => c.cell === 'explain')!;
    assert.equal(explain.needsManualGrade, true);
    assert.match(explain.source, /squares of 1\.\.n/);
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps1/students/s01/grades/${explain.gradeId}`, {
        manualScore: 7
      }),
      400,
      'score_out_of_range'
    );
    problem(
      await call('teach1', 'PUT', `${C}/assignments/ps1/students/s02/grades/${explain.gradeId}`, {
        manualScore: 1
      }),
      404,
      'grade_unknown'
    );
    const set = ok(
      await call('teach1', 'PUT', `${C}/assignments/ps1/students/s01/grades/${explain.gradeId}`, {
        manualScore: 2,
        comment: 'Well put.'
      })
    );
    assert.deepEqual(set, { score: 2, needsManualGrade: false });

    // Feedback: generated, released, fetched by the student, who sees it with the score.
    ok(await call('teach1', 'POST', `${C}/assignments/ps1/feedback/generate`));
    ok(await call('teach1', 'POST', `${C}/assignments/ps1/feedback/release`));
    const fb = ok(await call('s01', 'POST', my('ps1', 'fetch-feedback')));
    // Their own feedback only: one submission, one notebook.
    assert.equal(fb.files.length, 1, JSON.stringify(fb));
    assert.match(fb.files[0], /^cs101\/ps1\/feedback\/.+\/problem1\.html$/);
    const s01view = (
      ok(await call('s01', 'GET', '/api/v1/grader/my/assignments')) as GraderMyAssignmentList
    ).assignments.find(a => a.assignment === 'ps1')!;
    assert.equal(s01view.feedbackReleased, true);
    assert.equal(s01view.score, 5);

    // Export: nbgrader's columns, and exactly the scores we expect.
    const exported = ok(await call('teach1', 'GET', `${C}/grades`));
    assert.deepEqual(exported.columns, [
      'assignment',
      'duedate',
      'timestamp',
      'student_id',
      'last_name',
      'first_name',
      'email',
      'raw_score',
      'late_submission_penalty',
      'score',
      'max_score'
    ]);
    const got: Record<string, string> = {};
    for (const line of exported.csv.trim().split('\n').slice(1)) {
      const f = line.split(',');
      got[`${f[0]}/${f[3]}`] = [f[7], f[8], f[9], f[10]].map(Number).join(' ');
    }
    const expected: Record<string, string> = {};
    for (const s of STUDENTS) {
      expected[`ps1/${s}`] = '3 0 3 5';
      expected[`ps2/${s}`] = '0 0 0 1';
    }
    Object.assign(expected, {
      'ps1/s01': '5 0 5 5',
      'ps1/s07': '2 0 2 5',
      'ps1/s08': '0 0 0 5',
      'ps1/s09': '0 0 0 5',
      'ps1/s11': '3 3 0 5',
      'ps1/s12': '0 0 0 5',
      'ps2/s01': '1 0 1 1'
    });
    assert.deepEqual(got, expected);
  });

  it('exports grades a spreadsheet shows as text, and keeps the exchange root sticky', async () => {
    const O = '/api/v1/grader/courses/other';
    // Names come from the roster, i.e. from whoever wrote the CSV: here, formulas.
    const roster = 'id,first_name,last_name,email\ns01,=1+2,+cmd|calc!A0,@SUM(1;2)\n';
    ok(await call('teach2', 'POST', `${O}/students/import`, { csv: roster }));
    ok(await call('teach2', 'PUT', `${O}/assignments/quiz`, { duedate: null }));
    const exported = ok(await call('teach2', 'GET', `${O}/grades`)) as {
      csv: string;
      columns: string[];
    };
    assert.equal(exported.columns[3], 'student_id');
    const row = exported.csv
      .split(/\r?\n/)
      .map(line => line.split(','))
      .find(f => f[3] === 's01');
    assert.ok(row, exported.csv);
    assert.deepEqual(row.slice(4, 7), ["'+cmd|calc!A0", "'=1+2", "'@SUM(1;2)"]);
    for (const line of exported.csv.split(/\r?\n/))
      for (const cell of line.split(','))
        assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `a formula cell in: ${line}`);
    // Everyone writes into the exchange root; the sticky bit keeps them from removing each other's files.
    assert.equal((statSync(join(dir, 'exchange')).mode & 0o7777).toString(8), '1777');
  });
});
