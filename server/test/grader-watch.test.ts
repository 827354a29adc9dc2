/**
 * Which Kubernetes objects the grader's unit executor takes as a unit's Job. Its watches are of
 * the grader namespace, and it finds a unit's Job by name and labels; the namespace of what a
 * watch delivers is checked too, so a Job of the same name and labels anywhere else (a watch of
 * a wider scope, a proxy in between) never decides a unit's outcome.
 *
 * The executor runs as in production (its informers, its transport) against helpers/kube-stub.ts,
 * which takes the unit's Job and sends the watch events below; the real control plane runs in
 * grader-kubernetes.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { GraderUnitRow } from '../src/features/grader/migrations.js';
import { createKubernetesUnits } from '../src/features/grader/units-kubernetes.js';
import { ATTEMPT_LABEL, UNIT_LABEL, unitJobName } from '../src/features/grader/units-objects.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { startKubeStub, type IKubeStub } from './helpers/kube-stub.js';
import { waitFor } from './helpers/ports.js';

const NS = 'grading';
const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;
const unit: GraderUnitRow = {
  id: 'u-1',
  course: 'cs101',
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
};

/** The unit's Job as a watch delivers it, from `namespace`, ended with `condition`. */
const unitJob = (namespace: string, condition: object) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: unitJobName(unit),
    namespace,
    resourceVersion: '2',
    labels: { [UNIT_LABEL]: unit.id, [ATTEMPT_LABEL]: String(unit.attempts) }
  },
  status: { conditions: [{ status: 'True', ...condition }] }
});

let stub: IKubeStub;

before(async () => {
  stub = await startKubeStub({});
});
after(() => stub.close());

describe('grader unit watches', () => {
  it("decide a unit's outcome only by its Job in the grader namespace", async t => {
    // A unit runs only for a collected submission (its Job mounts it).
    const coursesRoot = scratchDir();
    mkdirSync(join(coursesRoot, unit.course, 'submitted', unit.student, unit.assignment), {
      recursive: true
    });
    const config = testConfig({
      kubernetes: { kubeconfig: stub.kubeconfig },
      grader: {
        coursesRoot,
        executor: 'kubernetes',
        kubernetes: {
          ...testConfig().grader.kubernetes,
          namespace: NS,
          image: 'course:1',
          coursesClaim: 'courses',
          exchangeClaim: 'exchange'
        }
      }
    });
    const units = createKubernetesUnits(config.kubernetes, config.grader, Fastify().log);
    t.after(() => units.close());
    const outcome = units.run(unit, { course: unit.course, assignment: unit.assignment });
    await waitFor('the unit Job to be created', 10, async () =>
      stub.requests.some(r => r.startsWith(`POST ${JOBS}`))
    );
    await waitFor('the unit Jobs watch', 10, async () =>
      stub.requests.some(r => r.startsWith(`GET ${JOBS}?watch=true`))
    );
    // Same name and labels, another namespace, "Complete": not this unit's Job.
    stub.event(JOBS, 'ADDED', unitJob('elsewhere', { type: 'Complete' }));
    const early = await Promise.race([
      outcome,
      new Promise(r => setTimeout(() => r('still waiting'), 500))
    ]);
    assert.equal(early, 'still waiting', JSON.stringify(early));
    // Its own Job ends at the deadline: that is the outcome.
    stub.event(JOBS, 'MODIFIED', unitJob(NS, { type: 'Failed', reason: 'DeadlineExceeded' }));
    const ended = await Promise.race([
      outcome,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no outcome')), 10_000))
    ]);
    assert.deepEqual(
      [(ended as { ok: boolean }).ok, (ended as { code?: string }).code],
      [false, 'time_limit']
    );
  });
});
