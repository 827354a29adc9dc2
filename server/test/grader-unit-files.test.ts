/**
 * What of the course directory an autograde unit's Job mounts (units-objects.ts, unitMounts), for
 * any course, and where the gradebook lives so that a unit can write it and nothing beside it
 * (driver.py: <course>/gradebook/gradebook.db, moved there from <course>/gradebook.db). The Job
 * against a real control plane, and nbgrader grading inside exactly those mounts, are in
 * grader-kubernetes.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { DRIVER } from '../src/features/grader/driver.js';
import type { GraderUnitRow } from '../src/features/grader/migrations.js';
import { unitJob } from '../src/features/grader/units-objects.js';
import { graderPython } from './fixtures/grader/course.js';
import { scratchDir, testConfig } from './helpers/build.js';

const unit = (course: string): GraderUnitRow => ({
  id: 'u-1',
  course,
  assignment: 'ps1',
  student: 's01',
  state: 'running',
  attempts: 1,
  queued_at: '2026-12-07T01:00:00Z',
  started_at: '2026-12-07T01:00:01Z',
  finished_at: null,
  seconds: null,
  error: null,
  log: ''
});

function mountsOf(course: string, coursesSubPath: string) {
  const base = testConfig();
  const config = {
    ...base.grader,
    coursesRoot: '/srv/courses',
    exchangeRoot: '/srv/exchange',
    kubernetes: {
      ...base.grader.kubernetes,
      namespace: 'grading',
      image: 'course:1',
      coursesClaim: 'courses',
      coursesSubPath,
      exchangeClaim: 'courses'
    }
  };
  const pod = unitJob(config, unit(course), {}).spec?.template.spec;
  assert.deepEqual(
    pod?.volumes?.map(v => v.persistentVolumeClaim?.claimName ?? 'emptyDir'),
    ['courses', 'emptyDir'],
    'one claim (the exchange is not mounted) and /tmp'
  );
  return (pod?.containers[0].volumeMounts ?? []).map(m => [
    m.mountPath,
    m.subPath ?? '',
    m.readOnly ?? false
  ]);
}

describe("an autograde unit's files", () => {
  it('are its own course only, read-only but for the gradebook and its autograded folder', () => {
    for (const [course, sub, prefix] of [
      ['cs101', '', 'cs101'],
      ['cs202', 'data/courses', 'data/courses/cs202']
    ]) {
      assert.deepEqual(mountsOf(course, sub), [
        [`/srv/courses/${course}/submitted/s01/ps1`, `${prefix}/submitted/s01/ps1`, true],
        [`/srv/courses/${course}/source/ps1`, `${prefix}/source/ps1`, true],
        [`/srv/courses/${course}/gradebook`, `${prefix}/gradebook`, false],
        [`/srv/courses/${course}/autograded/s01/ps1`, `${prefix}/autograded/s01/ps1`, false],
        ['/tmp', '', false]
      ]);
    }
  });

  it('put the gradebook in a folder of its own, moving a course made before', () => {
    const python = graderPython();
    const root = scratchDir();
    const courseDir = join(root, 'courses', 'c1');
    mkdirSync(courseDir, { recursive: true });
    const env = { ...process.env, PATH: `${dirname(python)}:${process.env.PATH}` };
    // A gradebook where the companion kept it before, with an assignment in it.
    execFileSync(
      python,
      [
        '-c',
        'import sys\nfrom nbgrader.api import Gradebook\n' +
          "with Gradebook('sqlite:///' + sys.argv[1], 'c1') as gb:\n" +
          "    gb.update_or_create_assignment('ps9')",
        join(courseDir, 'gradebook.db')
      ],
      { env, stdio: ['ignore', 'ignore', 'ignore'] }
    );
    const drive = (op: string, more: object = {}) =>
      JSON.parse(
        execFileSync(python, [DRIVER], {
          env,
          input: JSON.stringify({
            op,
            courseDir,
            course: 'c1',
            exchange: join(root, 'exchange'),
            ...more
          }),
          stdio: ['pipe', 'pipe', 'ignore']
        }).toString()
      );
    assert.deepEqual(drive('ensure'), { ok: true, value: {} });
    assert.equal(existsSync(join(courseDir, 'gradebook.db')), false, 'moved away');
    assert.ok(existsSync(join(courseDir, 'gradebook', 'gradebook.db')));
    const view = drive('student_view', { student: 's01' });
    assert.deepEqual(
      view.value.map((a: { assignment: string }) => a.assignment),
      ['ps9'],
      'the same gradebook, its assignment kept'
    );
    assert.match(
      readFileSync(join(courseDir, 'nbgrader_config.py'), 'utf8'),
      /c\.CourseDirectory\.db_url = 'sqlite:\/\/\/.*\/c1\/gradebook\/gradebook\.db'/,
      'the CLI in the course directory uses it too'
    );
  });
});
