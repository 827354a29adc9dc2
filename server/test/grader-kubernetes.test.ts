/**
 * Autograde units as Kubernetes Jobs (grader.executor kubernetes) against a real control plane
 * (kube-apiserver, controller manager with the real Job controller, scheduler) whose pods kwok
 * plays (dev/jobs/kwok-stages.yaml): a Job's pod runs for the delay in its annotation and then
 * succeeds, or fails when its command is `false`. No container runs, so nbgrader does not grade
 * inside these Jobs: this proves the Job contract and the queue's state machine; grader.test.ts
 * proves the grading with the local executor. The course itself is real: made, released, fetched,
 * submitted and collected with real nbgrader through the companion. The companion runs as the Helm
 * chart's ServiceAccount, under its admission policy, so this also shows the chart allows it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { BatchV1Api, CoreV1Api, Watch, type V1Job } from '@kubernetes/client-node';
import type { GraderQueue, GraderSubmissionList, GraderUnit } from '@hotstepper/schema';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import type { IGraderConfig } from '../src/features/grader/config.js';
import { DRIVER } from '../src/features/grader/driver.js';
import { answer, graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';

const FLEET = fileURLToPath(new URL('../../dev/k8s/fleet.mjs', import.meta.url));
const IMAGE = 'registry.example.org/cs101:2026';
const NS = 'course-cs101';
const COURSE = 'cs101';
const STUDENTS = ['s1', 's2', 's3', 's4'];
const C = `/api/v1/grader/courses/${COURSE}`;
const DELAY = 'pod-complete.stage.kwok.x-k8s.io/delay';
let cluster: ITestCluster;
let hub: IHub;
let chart: IChartIdentity;
let dir: string;
/** The Job the companion made for s3's unit, as sent. */
let s3Job: V1Job | undefined;
const tokens: Record<string, string> = {};

type KubeOverrides = Partial<IGraderConfig['kubernetes']>;

function config(kube: KubeOverrides = {}, more: Partial<IGraderConfig> = {}, database?: string) {
  const base = testConfig();
  return testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    kubernetes: { kubeconfig: chart.kubeconfig },
    ...(database ? { database: { path: database } } : {}),
    grader: {
      python: graderPython(),
      coursesRoot: join(dir, 'courses'),
      exchangeRoot: join(dir, 'exchange'),
      homes: join(dir, 'home', '{user}'),
      concurrency: 2,
      unitTimeoutSeconds: 60,
      unitMemoryMb: 1024,
      executor: 'kubernetes',
      kubernetes: {
        ...base.grader.kubernetes,
        namespace: NS,
        image: IMAGE,
        coursesClaim: 'cs101-course',
        coursesSubPath: 'courses',
        exchangeClaim: 'cs101-course',
        exchangeSubPath: 'exchange',
        podAnnotations: { [DELAY]: '2s' },
        ...kube
      },
      ...more
    }
  });
}

async function companion(t: TestContext | undefined, c: ReturnType<typeof config>) {
  const app = await buildApp(c, { features: [grader] });
  if (t) t.after(() => app.close());
  await app.ready();
  return app;
}

const call = async (app: FastifyInstance, method: string, url: string, body?: unknown) => {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens.teach1}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.body ? res.json() : undefined;
};

const asStudent = async (app: FastifyInstance, student: string, op: string) => {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/${op}`,
    headers: { authorization: `token ${tokens[student]}` }
  });
  assert.equal(res.statusCode, 200, res.body);
};

/** Every state each unit is seen in (polling the API as the panel does), until all have ended. */
async function follow(app: FastifyInstance, ms = 90_000) {
  const seen = new Map<string, string[]>();
  const until = Date.now() + ms;
  for (;;) {
    const { units } = (await call(app, 'GET', `${C}/queue`)) as GraderQueue;
    for (const u of units) {
      const states = seen.get(u.id) ?? [];
      if (states.at(-1) !== u.state) states.push(u.state);
      seen.set(u.id, states);
    }
    if (units.length && units.every(u => u.state === 'done' || u.state === 'failed'))
      return { units, seen };
    if (Date.now() > until) throw new Error(`units stuck: ${JSON.stringify([...seen])}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

/** The unit Jobs as a watch sees them: every one created, and the most that existed at once. */
async function watchJobs() {
  const created: V1Job[] = [];
  const deleted: string[] = [];
  const live = new Set<string>();
  let peak = 0;
  const watch = await new Watch(cluster.kc).watch(
    `/apis/batch/v1/namespaces/${NS}/jobs`,
    { labelSelector: 'hotstepper.io/grader-unit' },
    (type, job: V1Job) => {
      const name = job.metadata?.name ?? '';
      if (type === 'ADDED' && !live.has(name)) {
        created.push(job);
        live.add(name);
        peak = Math.max(peak, live.size);
      }
      if (type === 'DELETED') {
        live.delete(name);
        deleted.push(name);
      }
    },
    () => undefined
  );
  return { created, deleted, peak: () => peak, live, stop: () => watch.abort() };
}

before(async () => {
  [cluster, hub] = await startAll(startCluster(), startHub());
  execFileSync('node', [FLEET], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
  chart = await installChartRbac(cluster);
  // The course namespace, labelled as Hotstepper's (the chart's admission policy requires it),
  // and the claim holding the course directory and the exchange (bound by hand: no provisioner).
  const core = cluster.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({
    body: { metadata: { name: NS, labels: { 'app.kubernetes.io/managed-by': 'hotstepper' } } }
  });
  await core.createPersistentVolume({
    body: {
      metadata: { name: 'cs101-course' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteMany'],
        hostPath: { path: '/tmp/cs101-course' },
        claimRef: { namespace: NS, name: 'cs101-course' }
      }
    }
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace: NS,
    body: {
      metadata: { name: 'cs101-course' },
      spec: {
        accessModes: ['ReadWriteMany'],
        volumeName: 'cs101-course',
        storageClassName: '',
        resources: { requests: { storage: '1Gi' } }
      }
    }
  });
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], STUDENTS);
  for (const u of ['teach1', ...STUDENTS]) tokens[u] = (await hub.createToken(u)).token;
  dir = mkdtempSync(join(tmpdir(), 'hs-grader-k8s-'));

  // A real course through the companion and real nbgrader: released, fetched, submitted, collected.
  const app = await companion(undefined, config());
  try {
    await call(app, 'PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' });
    await call(app, 'PUT', `${C}/assignments/ps1/notebooks/problem1`, {
      content: notebook('ps1')
    });
    await call(app, 'POST', `${C}/assignments/ps1/generate`);
    await call(app, 'POST', `${C}/assignments/ps1/release`);
    for (const s of STUDENTS) {
      await asStudent(app, s, 'fetch');
      answer(join(dir, 'home', s), COURSE, 'correct');
      await asStudent(app, s, 'submit');
    }
    await call(app, 'POST', `${C}/assignments/ps1/collect`);
  } finally {
    await app.close();
  }
});
after(async () => {
  await Promise.all([cluster?.stop(), hub?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const autograde = (app: FastifyInstance, students?: string[]) =>
  call(app, 'POST', `${C}/assignments/ps1/autograde`, students ? { students } : {});

describe('grader units as Kubernetes Jobs', () => {
  it('runs one Job per unit, at most `concurrency` at once: queued -> running -> done', async t => {
    const app = await companion(t, config());
    const jobs = await watchJobs();
    t.after(() => jobs.stop());
    await autograde(app);
    const { units, seen } = await follow(app);
    assert.equal(units.length, 4);
    t.diagnostic(`units took ${units.map(u => u.seconds).join(', ')} s`);
    for (const u of units) {
      assert.equal(u.state, 'done', JSON.stringify(u));
      // The first look may come after a unit was already taken: a suffix of the whole path.
      const path = seen.get(u.id) ?? [];
      assert.deepEqual(path, ['queued', 'running', 'done'].slice(-Math.max(2, path.length)));
      assert.equal(u.attempts, 1);
      assert.ok((u.seconds ?? 0) >= 2, `${u.student} ran ${u.seconds} s (its pod runs 2 s)`);
    }
    assert.ok(
      [...seen.values()].filter(p => p[0] === 'queued').length >= 2,
      'two units waited for a free slot'
    );
    assert.equal(jobs.created.length, 4, 'one Job per unit');
    assert.equal(jobs.peak(), 2, 'two Jobs at once, never more');
    // Each Job goes once its outcome is stored.
    for (let i = 0; i < 50 && jobs.live.size; i++) await new Promise(r => setTimeout(r, 100));
    assert.equal(jobs.live.size, 0, 'no Job is left behind');

    // The Job as sent: course image, the companion's paths, limits, deadline, no credentials.
    const byStudent = new Map(units.map(u => [u.student, u]));
    const job = jobs.created.find(
      j => j.metadata?.labels?.['hotstepper.io/grader-student'] === 's3'
    ) as V1Job;
    const unit = byStudent.get('s3') as GraderUnit;
    s3Job = job;
    assert.equal(job.metadata?.name, `grader-${unit.id}-1`);
    assert.deepEqual(job.metadata?.labels, {
      'hotstepper.io/grader-unit': unit.id,
      'hotstepper.io/grader-attempt': '1',
      'hotstepper.io/grader-course': COURSE,
      'hotstepper.io/grader-assignment': 'ps1',
      'hotstepper.io/grader-student': 's3'
    });
    assert.equal(job.spec?.activeDeadlineSeconds, 60);
    assert.equal(job.spec?.backoffLimit, 0);
    assert.equal(job.spec?.ttlSecondsAfterFinished, 3600);
    const pod = job.spec?.template.spec;
    assert.equal(pod?.automountServiceAccountToken, false);
    assert.equal(pod?.restartPolicy, 'Never');
    assert.deepEqual(JSON.parse(JSON.stringify(pod?.securityContext)), {
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' }
    });
    const container = pod?.containers[0];
    assert.equal(container?.image, IMAGE);
    assert.deepEqual(container?.command, [
      'python3',
      '/usr/local/share/hotstepper/grader/driver.py',
      'unit'
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(container?.securityContext)), {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] }
    });
    assert.deepEqual(container?.resources?.limits, { cpu: '1', memory: '1Gi' });
    assert.deepEqual(container?.resources?.requests, { cpu: '1', memory: '1Gi' });
    assert.deepEqual(
      pod?.volumes?.map(v => [v.name, v.persistentVolumeClaim?.claimName ?? 'emptyDir']),
      [
        ['course', 'cs101-course'],
        ['tmp', 'emptyDir']
      ]
    );
    // What grading needs of its own course, at the companion's paths: the submission and the
    // assignment's source read-only; the gradebook's folder and the autograded folder writable.
    const courseDir = join(dir, 'courses', COURSE);
    assert.deepEqual(
      container?.volumeMounts?.map(m => [m.mountPath, m.subPath ?? '', m.readOnly ?? false]),
      [
        [join(courseDir, 'submitted/s3/ps1'), 'courses/cs101/submitted/s3/ps1', true],
        [join(courseDir, 'source/ps1'), 'courses/cs101/source/ps1', true],
        [join(courseDir, 'gradebook'), 'courses/cs101/gradebook', false],
        [join(courseDir, 'autograded/s3/ps1'), 'courses/cs101/autograded/s3/ps1', false],
        ['/tmp', '', false]
      ]
    );
    const claimMounts = (container?.volumeMounts ?? []).filter(m => m.name === 'course');
    for (const m of claimMounts) {
      // Nothing that reaches another course, the course directory's root or the exchange.
      assert.ok(m.subPath?.startsWith('courses/cs101/') && !m.subPath.includes('..'), m.subPath);
      assert.ok(m.mountPath.startsWith(`${courseDir}/`), m.mountPath);
    }
    assert.equal(
      container?.volumeMounts?.some(m => m.mountPath.startsWith(join(dir, 'exchange'))),
      false,
      'the exchange is not mounted'
    );
    assert.deepEqual(
      claimMounts.filter(m => !m.readOnly).map(m => m.subPath),
      ['courses/cs101/gradebook', 'courses/cs101/autograded/s3/ps1'],
      'writable: exactly what autograde writes'
    );
    assert.deepEqual(
      container?.env?.map(e => e.name),
      ['HOTSTEPPER_GRADER_REQUEST', 'HOME', 'PYTHONUNBUFFERED']
    );
    assert.equal(container?.envFrom, undefined);
    const request = JSON.parse(container?.env?.[0].value ?? '{}');
    assert.deepEqual(request, {
      courseDir: join(dir, 'courses', COURSE),
      course: COURSE,
      exchange: join(dir, 'exchange'),
      cellTimeoutSeconds: 30,
      latePenalty: 'none',
      assignment: 'ps1',
      student: 's3',
      op: 'autograde'
    });
    assert.equal(JSON.stringify(job).includes(hub.serviceToken), false, 'no hub token');
    assert.deepEqual(job.spec?.template.metadata?.annotations, { [DELAY]: '2s' });

    // The unit's log is its pod's, read through the API server (kwok serves dev/jobs/kwok-job.log).
    const log = await call(app, 'GET', `${C}/queue/${unit.id}/log`);
    assert.equal(log.state, 'done');
    assert.match(log.log, /kwok: this pod is simulated by the local platform/);
  });

  it("grades for real when the Job's command runs with the Job's environment (here, not in a pod)", async t => {
    // kwok runs no container, so the Job's own command is run here, as its container would run
    // it: driver.py's unit mode, the request from the Job's env, the answer to a file standing in
    // for /dev/termination-log. Only the paths of python and driver.py differ from the image.
    const container = s3Job?.spec?.template.spec?.containers[0];
    assert.ok(container, 'the first test kept the Job of s3');
    const env = Object.fromEntries((container.env ?? []).map(e => [e.name, e.value ?? '']));
    const scratch = scratchDir();
    const answerFile = join(scratch, 'termination-log');
    const run = spawnSync(graderPython(), [DRIVER, ...(container.command ?? []).slice(2)], {
      env: {
        ...env,
        HOME: scratch,
        PATH: `${dirname(graderPython())}:/usr/bin:/bin`,
        HOTSTEPPER_GRADER_ANSWER: answerFile
      },
      encoding: 'utf8',
      timeout: 120_000
    });
    assert.equal(run.status, 0, run.stderr.slice(-3000));
    assert.deepEqual(JSON.parse(readFileSync(answerFile, 'utf8')), { ok: true });
    assert.match(
      run.stderr,
      /\[INFO\] Autograding .*\/autograded\/s3\/ps1\/problem1\.ipynb/,
      "nbgrader's log goes to the pod's log"
    );
    const app = await companion(t, config());
    const { submissions } = (await call(
      app,
      'GET',
      `${C}/assignments/ps1/submissions`
    )) as GraderSubmissionList;
    const row = submissions.find(r => r.student === 's3');
    assert.equal(row?.autograded, true, JSON.stringify(row));
    assert.ok((row?.score ?? 0) > 0, `s3 scored ${row?.score}`);
    assert.equal(submissions.find(r => r.student === 's4')?.autograded, false, 'only s3 graded');
  });

  it("grades with nothing of the course's files but the Job's mounts, writing only where they allow", async t => {
    // The Job's volumeMounts reproduced in a private mount namespace (root and util-linux's
    // unshare needed): a read-only empty root in place of the courses root and of the exchange,
    // and each mount of the Job bound from the claim (here: `dir`, as coursesSubPath is
    // `courses`), read-only where the Job says so. Then driver.py's unit mode runs the Job's
    // request: nbgrader grades s3 again with no more than it is given, through the
    // autograded folder being a mount point of its own.
    // Set-up needs root already (the real node); a machine without it fails here, never skips.
    assert.ok(
      process.getuid?.() === 0 && spawnSync('unshare', ['--version']).status === 0,
      'needs root and util-linux unshare for a mount namespace'
    );
    const container = s3Job?.spec?.template.spec?.containers[0];
    assert.ok(container, 'the first test kept the Job of s3');
    const env = Object.fromEntries((container.env ?? []).map(e => [e.name, e.value ?? '']));
    const courses = join(dir, 'courses');
    // Another course beside it, which the unit must not see.
    mkdirSync(join(courses, 'cs202', 'gradebook'), { recursive: true });
    writeFileSync(join(courses, 'cs202', 'gradebook', 'gradebook.db'), 'not for cs101');
    const scratch = scratchDir();
    const answerFile = join(scratch, 'termination-log');
    const claim = join(scratch, 'claim');
    const q = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
    const lines = [
      'set -e',
      `mkdir -p ${q(claim)}`,
      `mount --bind ${q(dir)} ${q(claim)}`,
      `mount -t tmpfs none ${q(courses)}`,
      `mount -t tmpfs -o ro none ${q(join(dir, 'exchange'))}`
    ];
    const mounts = (container.volumeMounts ?? []).filter(m => m.name === 'course');
    for (const m of mounts) lines.push(`mkdir -p ${q(m.mountPath)}`);
    lines.push(`mount -o remount,ro ${q(courses)}`);
    for (const m of mounts) {
      lines.push(`mount --bind ${q(join(claim, m.subPath ?? ''))} ${q(m.mountPath)}`);
      if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(m.mountPath)}`);
    }
    lines.push(
      `umount ${q(claim)}`,
      `test ! -e ${q(join(courses, 'cs202'))}`,
      `! touch ${q(join(courses, COURSE, 'source/ps1/planted'))} 2>/dev/null`,
      `! touch ${q(join(courses, COURSE, 'submitted/s3/ps1/planted'))} 2>/dev/null`,
      `! touch ${q(join(courses, COURSE, 'nbgrader_config.py'))} 2>/dev/null`,
      `exec ${q(graderPython())} ${q(DRIVER)} unit`
    );
    const run = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', lines.join('\n')],
      {
        env: {
          ...env,
          HOME: scratch,
          PATH: `${dirname(graderPython())}:/usr/bin:/bin:/usr/sbin:/sbin`,
          HOTSTEPPER_GRADER_ANSWER: answerFile
        },
        encoding: 'utf8',
        timeout: 120_000
      }
    );
    assert.equal(run.status, 0, run.stderr.slice(-3000));
    assert.deepEqual(JSON.parse(readFileSync(answerFile, 'utf8')), { ok: true });
    assert.match(run.stderr, /Removing existing assignment: .*\/autograded\/s3\/ps1/);
    assert.match(run.stderr, /\[INFO\] Autograding .*\/autograded\/s3\/ps1\/problem1\.ipynb/);
    assert.equal(
      readFileSync(join(courses, 'cs202', 'gradebook', 'gradebook.db'), 'utf8'),
      'not for cs101'
    );
    const app = await companion(t, config());
    const { submissions } = (await call(
      app,
      'GET',
      `${C}/assignments/ps1/submissions`
    )) as GraderSubmissionList;
    const row = submissions.find(r => r.student === 's3');
    assert.equal(row?.autograded, true, JSON.stringify(row));
    assert.ok((row?.score ?? 0) > 0, `s3 scored ${row?.score}`);
  });

  it('fails a unit past its time limit by its Job deadline (activeDeadlineSeconds)', async t => {
    // The pod would run a minute; the Job controller stops it at 5 s.
    const app = await companion(
      t,
      config({ podAnnotations: { [DELAY]: '60s' } }, { unitTimeoutSeconds: 5 })
    );
    await autograde(app, ['s1']);
    const { units, seen } = await follow(app);
    const [unit] = units;
    t.diagnostic(`the unit ended after ${unit.seconds} s`);
    assert.deepEqual(seen.get(unit.id)?.slice(-2), ['running', 'failed']);
    assert.match(
      unit.error ?? '',
      /^time_limit: stopped after the unit time limit of 5 s \(its Job's activeDeadlineSeconds\)/
    );
    assert.ok((unit.seconds ?? 0) >= 5 && (unit.seconds ?? 0) < 30, `took ${unit.seconds} s`);
    const log = await call(app, 'GET', `${C}/queue/${unit.id}/log`);
    assert.match(log.log, /\S/, 'the log says what there is (or why there is none)');
  });

  it('fails a unit whose pod fails, with its exit; a retry is a new Job', async t => {
    // `false` as the course python: kwok fails the pod with exit code 1.
    const app = await companion(t, config({ python: 'false' }));
    const jobs = await watchJobs();
    t.after(() => jobs.stop());
    await autograde(app, ['s2']);
    let { units } = await follow(app);
    const [unit] = units;
    assert.equal(unit.state, 'failed');
    assert.match(
      unit.error ?? '',
      /^unit_failed: its pod grader-.*-1-\w+ exited with code 1 \(Error\)/
    );

    await call(app, 'POST', `${C}/queue/${unit.id}/retry`);
    ({ units } = await follow(app));
    assert.equal(units[0].state, 'failed');
    assert.equal(units[0].attempts, 2);
    assert.deepEqual(
      jobs.created.map(j => j.metadata?.name),
      [`grader-${unit.id}-1`, `grader-${unit.id}-2`],
      'the retry ran as a Job of its own'
    );
  });

  it('after a restart, follows the Jobs that still exist and fails the units whose Job is gone', async t => {
    const database = join(scratchDir(), 'restart.sqlite');
    const c = config({ podAnnotations: { [DELAY]: '6s' } }, {}, database);
    const first = await companion(undefined, c);
    const jobs = await watchJobs();
    t.after(() => jobs.stop());
    await autograde(first, ['s3', 's4']);
    for (let i = 0; i < 100 && jobs.live.size < 2; i++) await new Promise(r => setTimeout(r, 50));
    assert.equal(jobs.live.size, 2, 'both units run as Jobs');
    const { units } = (await call(first, 'GET', `${C}/queue`)) as GraderQueue;
    assert.deepEqual(
      units.map(u => u.state),
      ['running', 'running']
    );
    await first.close();
    // While the companion is down, one Job is deleted by someone else.
    const s4 = units.find(u => u.student === 's4') as GraderUnit;
    await cluster.kc.makeApiClient(BatchV1Api).deleteNamespacedJob({
      namespace: NS,
      name: `grader-${s4.id}-1`,
      propagationPolicy: 'Background'
    });

    const second = await companion(t, c);
    const { units: ended } = await follow(second);
    const by = new Map(ended.map(u => [u.student, u]));
    assert.equal(by.get('s3')?.state, 'done', JSON.stringify(by.get('s3')));
    assert.equal(by.get('s3')?.attempts, 1, 'followed again, not run again');
    assert.equal(by.get('s4')?.state, 'failed');
    assert.match(by.get('s4')?.error ?? '', /its Kubernetes Job grader-.*-1 is gone/);
    assert.equal(jobs.created.length, 2, 'no new Job was made');
  });
});
