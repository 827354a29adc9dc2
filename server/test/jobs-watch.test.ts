/**
 * Which Kubernetes objects the jobs executor takes as a job's own. Its watches cover every
 * namespace and find a job's Job and pod by their hotstepper.io/job label, which anyone who can
 * create a Job in their own namespace can also set. Only the objects in the job owner's
 * namespace may speak for the job.
 *
 * The executor runs as in production (its informers, its transport) against helpers/kube-stub.ts,
 * which answers the executor's lists with the objects below and holds its watches open: what is
 * checked is the executor's matching, which needs no scheduler or kubelet (the real control
 * plane runs in jobs-kubernetes.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createKubernetesExecutor } from '../src/features/jobs/executors/kubernetes.js';
import type { IJobRun, IJobUpdate } from '../src/features/jobs/executors/types.js';
import { testConfig } from './helpers/build.js';
import { startKubeStub, type IKubeStub } from './helpers/kube-stub.js';

const JOB_LABEL = 'hotstepper.io/job';
const ID = 'j-alice-1';
const namespaceOf = (user: string) => `hs-${user}`;

/** A Job as the API server returns it; `failed` gives it a Failed condition. */
function job(namespace: string, failed: boolean) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `hotstepper-job-${ID}`,
      namespace,
      resourceVersion: '1',
      labels: { [JOB_LABEL]: ID }
    },
    status: failed
      ? {
          failed: 1,
          conditions: [
            { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'planted' }
          ]
        }
      : { active: 1, startTime: '2026-12-07T01:00:00Z' }
  };
}

function pod(namespace: string, exitCode?: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `hotstepper-job-${ID}-x`,
      namespace,
      resourceVersion: '1',
      labels: { [JOB_LABEL]: ID }
    },
    status:
      exitCode === undefined
        ? {
            phase: 'Running',
            containerStatuses: [{ state: { running: { startedAt: '2026-12-07T01:00:05Z' } } }]
          }
        : {
            phase: 'Failed',
            containerStatuses: [
              { state: { terminated: { exitCode, startedAt: '2026-12-07T01:00:05Z' } } }
            ]
          }
  };
}

// bob labelled a Job and a pod in his own namespace with alice's job id: listed first and last,
// where a match by label alone picks them.
const LISTS: Record<string, object[]> = {
  '/apis/batch/v1/jobs': [job(namespaceOf('bob'), true), job(namespaceOf('alice'), false)],
  '/api/v1/pods': [pod(namespaceOf('alice')), pod(namespaceOf('bob'), 7)]
};

let stub: IKubeStub;

before(async () => {
  stub = await startKubeStub(LISTS);
});
after(() => stub.close());

describe('jobs watches', () => {
  it("take a job's Job and pod only from its owner's namespace, whatever else carries its label", async t => {
    const config = testConfig({ kubernetes: { kubeconfig: stub.kubeconfig } });
    const app = {
      config,
      tenancy: { namespaceOf },
      log: Fastify().log
    } as unknown as FastifyInstance;
    const updates: [string, IJobUpdate][] = [];
    const executor = createKubernetesExecutor(
      app,
      { ...config.jobs, executor: 'kubernetes' },
      {
        update: async (id, patch) => void updates.push([id, patch]),
        owner: async id => (id === ID ? 'alice' : undefined),
        log: app.log
      }
    );
    t.after(() => executor.close());
    const run: IJobRun = {
      id: ID,
      user: 'alice',
      spec: { command: ['sleep', '60'] },
      runtime: { jobName: `hotstepper-job-${ID}` },
      state: 'running',
      createdAt: '2026-12-07T01:00:00Z'
    };
    await Promise.race([
      executor.resume([run]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('resume hung')), 10_000))
    ]);
    // The watch handlers run as the lists arrive: give any late one a moment.
    await new Promise(r => setTimeout(r, 300));
    assert.ok(updates.length > 0, 'the job was reconciled');
    for (const [id, patch] of updates) {
      assert.equal(id, ID);
      // Pending (its Job seen before its pod) or running: never bob's failure.
      assert.ok(['pending', 'running'].includes(patch.state ?? ''), JSON.stringify(patch));
    }
    assert.deepEqual(updates.at(-1)?.[1], {
      state: 'running',
      startedAt: '2026-12-07T01:00:05.000Z',
      // Running clears a "Waiting: …" reason the job may have had while pending.
      message: null
    });
  });
});
