/**
 * Autograde units as pods on the local platform's real node (dev/node: containerd and a kubelet):
 * the course image (dev/node/images.sh course) runs driver.py's unit mode with real nbgrader,
 * under the configuration dev/grader/pods.sh prints, against the namespace and the hostPath claim
 * it makes. The companion runs as root (as on the local platform) and as the chart's
 * ServiceAccount; the unit runs as jovyan, in what the companion handed it of the course.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BatchV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import type { GraderQueue, GraderSubmissionList, GraderValidation } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { loadConfig } from '../src/platform/config.js';
import { answer, graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';

const run = promisify(execFile);
const PODS = fileURLToPath(new URL('../../dev/grader/pods.sh', import.meta.url));
const COURSE = 'cs101';
const C = `/api/v1/grader/courses/${COURSE}`;
const ANSWERS = { s1: 'correct', s2: 'partial' } as const;
let cluster: ITestCluster;
let hub: IHub;
let chart: IChartIdentity;
let dir: string;
let app: FastifyInstance;
/** The environment pods.sh printed. */
let env: Record<string, string>;
const tokens: Record<string, string> = {};
/** Unit pods as a watch saw them last, by name. */
const pods = new Map<string, V1Pod>();
let stopWatch = () => {};

const call = async (method: string, url: string, body?: unknown, user = 'teach1') => {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.body ? res.json() : undefined;
};

/** Autograde, then wait (at most 5 minutes: a cold kernel on a busy 2-core machine) until done. */
async function autograde(students: string[]) {
  await call('POST', `${C}/assignments/ps1/autograde`, { students });
  const until = Date.now() + 300_000;
  for (;;) {
    const { units } = (await call('GET', `${C}/queue`)) as GraderQueue;
    const mine = units.filter(u => students.includes(u.student));
    if (mine.length && mine.every(u => u.state === 'done' || u.state === 'failed')) return mine;
    assert.ok(Date.now() < until, `units did not end: ${JSON.stringify(mine)}`);
    await new Promise(r => setTimeout(r, 500));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-grader-node-'));
  [cluster, hub] = await startAll(startCluster({ realNode: true }), startHub());
  chart = await installChartRbac(cluster);
  // The namespace, volume and claim as the local platform makes them, with the admin's rights;
  // twice, as every start of the platform runs it: the second changes nothing.
  const makePods = () =>
    run('bash', [PODS, dir, cluster.kubeconfig], { env: cluster.env, maxBuffer: 4 << 20 });
  const { stdout } = await makePods();
  assert.equal((await makePods()).stdout, stdout);
  env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  );
  assert.match(env.HOTSTEPPER_GRADER_IMAGE ?? '', /\/hotstepper\/course:\d{8}-[0-9a-f]{8}$/);
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], Object.keys(ANSWERS));
  for (const u of ['teach1', ...Object.keys(ANSWERS)]) tokens[u] = (await hub.createToken(u)).token;

  // The grader section exactly as that environment gives it; the rest is this test's.
  const fromEnv = loadConfig([], env).grader;
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: chart.kubeconfig },
      grader: {
        ...fromEnv,
        python: graderPython(),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}'),
        unitMemoryMb: 1024,
        kubernetes: { ...fromEnv.kubernetes, cpu: 0.5 }
      }
    }),
    { features: [grader] }
  );
  await app.ready();

  const watch = await new Watch(cluster.kc).watch(
    `/api/v1/namespaces/${env.HOTSTEPPER_GRADER_NAMESPACE}/pods`,
    { labelSelector: 'hotstepper.io/grader-unit' },
    (_type, pod: V1Pod) => pods.set(pod.metadata?.name ?? '', pod),
    () => undefined
  );
  stopWatch = () => watch.abort();

  // Released, fetched, answered, submitted and collected through the companion (as root).
  await call('PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' });
  await call('PUT', `${C}/assignments/ps1/notebooks/problem1`, { content: notebook('ps1') });
  await call('POST', `${C}/assignments/ps1/generate`);
  await call('POST', `${C}/assignments/ps1/release`);
  for (const [student, kind] of Object.entries(ANSWERS)) {
    await call(
      'POST',
      `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/fetch`,
      undefined,
      student
    );
    answer(join(dir, 'home', student), COURSE, kind);
    await call(
      'POST',
      `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/submit`,
      undefined,
      student
    );
  }
  await call('POST', `${C}/assignments/ps1/collect`);
});
after(async () => {
  stopWatch();
  await app?.close();
  await Promise.all([cluster?.stop(), hub?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('autograde units on the real node', () => {
  it('grades each submission in a pod on real-1, as jovyan, with nothing of another course', async t => {
    const courses = env.HOTSTEPPER_GRADER_COURSES;
    assert.equal(courses, join(dir, 'courses'));
    // Another course beside it, whose gradebook no unit of cs101 may reach.
    mkdirSync(join(courses, 'cs202', 'gradebook'), { recursive: true });
    writeFileSync(join(courses, 'cs202', 'gradebook', 'gradebook.db'), 'not for cs101');

    const started = Date.now();
    const units = await autograde(Object.keys(ANSWERS));
    t.diagnostic(`2 units in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const u of units) assert.equal(u.state, 'done', `${u.student}: ${u.error}`);
    const log = await call('GET', `${C}/queue/${units[0].id}/log`);
    // The pod's own log, through the kubelet.
    assert.match(log.log, /\[INFO\] Autograding .*\/autograded\/s\d\/ps1\/problem1\.ipynb/);

    const { submissions } = (await call(
      'GET',
      `${C}/assignments/ps1/submissions`
    )) as GraderSubmissionList;
    const score = Object.fromEntries(submissions.map(r => [r.student, r.score]));
    assert.deepEqual(score, { s1: 3, s2: 2 }, 'the correct answer 3 points, the partial one 2');

    assert.equal(pods.size, 2, 'one pod per unit');
    for (const pod of pods.values()) {
      assert.equal(pod.spec?.nodeName, 'real-1');
      assert.equal(pod.spec?.securityContext?.runAsUser, 1000);
      assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
      assert.equal(pod.spec?.containers[0].image, env.HOTSTEPPER_GRADER_IMAGE);
      const claim = pod.spec?.volumes?.find(v => v.persistentVolumeClaim)?.name;
      for (const m of pod.spec?.containers[0].volumeMounts ?? []) {
        if (m.name !== claim) continue;
        assert.ok(m.subPath?.startsWith(`${COURSE}/`) && !m.subPath.includes('..'), m.subPath);
      }
    }
    // What the units wrote is jovyan's: the processes really ran as 1000, not as root.
    const graded = join(courses, COURSE, 'autograded', 's1', 'ps1', 'problem1.ipynb');
    assert.equal(statSync(graded).uid, 1000);
    assert.equal(statSync(join(courses, COURSE, 'gradebook', 'gradebook.db')).uid, 1000);
    assert.equal(
      readFileSync(join(courses, 'cs202', 'gradebook', 'gradebook.db'), 'utf8'),
      'not for cs101'
    );
  });

  it('the companion (root) and the units (jovyan) keep writing the one gradebook in turn', async () => {
    const gradebook = join(env.HOTSTEPPER_GRADER_COURSES, COURSE, 'gradebook');
    // The companion writes the gradebook as root (a new assignment) ...
    await call('PUT', `${C}/assignments/ps2`, { duedate: '2030-01-01T00:00:00Z' });
    // ... then a unit again, after it (and regrading replaces the earlier autograded files).
    pods.clear();
    const [unit] = await autograde(['s2']);
    assert.equal(unit.state, 'done', unit.error ?? '');
    assert.equal([...pods.values()][0]?.spec?.nodeName, 'real-1');
    const { assignments } = (await call('GET', `${C}/assignments`)) as {
      assignments: { name: string }[];
    };
    assert.deepEqual(assignments.map(a => a.name).sort(), ['ps1', 'ps2']);
    const { submissions } = (await call(
      'GET',
      `${C}/assignments/ps1/submissions`
    )) as GraderSubmissionList;
    assert.equal(submissions.find(r => r.student === 's2')?.score, 2);
    // No journal is left behind by either side.
    for (const suffix of ['-journal', '-wal', '-shm'])
      assert.equal(existsSync(join(gradebook, `gradebook.db${suffix}`)), false, suffix);
  });
  it("Validate runs the teacher's tests in a pod that mounts only the source, read-only, then deletes it", async () => {
    await call('PUT', `${C}/assignments/ps3`, { duedate: null });
    const nb = JSON.parse(notebook('ps1'));
    for (const cell of nb.cells) {
      // a test the solution fails, and one that looks for another course's gradebook
      if (cell.metadata.nbgrader?.grade_id === 'test_big')
        cell.source = 'assert squares(10)[-1] == 99';
      if (cell.metadata.nbgrader?.grade_id === 'test_small')
        cell.source = `import os\nassert not os.path.exists(${JSON.stringify(join(env.HOTSTEPPER_GRADER_COURSES, 'cs202'))}), 'sees cs202'`;
    }
    await call('PUT', `${C}/assignments/ps3/notebooks/problem1`, { content: JSON.stringify(nb) });
    pods.clear();
    const failing = (await call('POST', `${C}/assignments/ps3/validate`)) as GraderValidation;
    assert.equal(failing.ready, false, failing.message);
    assert.deepEqual(
      failing.problems.map(p => [p.notebook, p.cell, p.gradeId]),
      [['problem1', 4, 'test_big']],
      JSON.stringify(failing.problems)
    );
    assert.match(
      failing.problems[0].message,
      /^Cell 4 \("test_big"\) does not get its points with the solution in place: AssertionError/
    );
    // It ran in one pod on the real node, as jovyan, mounting the source folder read-only alone.
    assert.equal(pods.size, 1);
    const pod = [...pods.values()][0];
    assert.equal(pod.spec?.nodeName, 'real-1');
    assert.equal(pod.spec?.securityContext?.runAsUser, 1000);
    const claim = pod.spec?.volumes?.find(v => v.persistentVolumeClaim)?.name;
    const mounts = (pod.spec?.containers[0].volumeMounts ?? []).filter(m => m.name === claim);
    assert.deepEqual(
      mounts.map(m => [m.subPath, m.readOnly]),
      [[`${COURSE}/source/ps3`, true]]
    );
    // ... and its Job is gone once the answer is in.
    const jobs = await cluster.kc.makeApiClient(BatchV1Api).listNamespacedJob({
      namespace: env.HOTSTEPPER_GRADER_NAMESPACE,
      labelSelector: 'hotstepper.io/grader-unit'
    });
    assert.deepEqual(
      jobs.items.map(j => j.metadata?.name).filter(n => n?.startsWith('grader-test-')),
      []
    );

    await call('PUT', `${C}/assignments/ps3/notebooks/problem1`, { content: notebook('ps1') });
    const good = (await call('POST', `${C}/assignments/ps3/validate`)) as GraderValidation;
    assert.deepEqual(good.problems, []);
    assert.equal(good.ready, true);
    assert.match(good.message, /its tests pass with the solutions in place/);
  });
});
