/**
 * Which Kubernetes objects the jobs executor takes as a job's own. Its watches cover every
 * namespace and find a job's Job and pod by their hotstepper.io/job label, which anyone who can
 * create a Job in their own namespace can also set. Only the objects in the job owner's
 * namespace may speak for the job.
 *
 * The executor runs as in production (its informers, its transport) against a small API server
 * in this file that answers the executor's lists with the objects below and holds its watches
 * open: what is checked is the executor's matching, which needs no scheduler or kubelet (the
 * real control plane runs in jobs-kubernetes.test.ts).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createKubernetesExecutor } from '../src/features/jobs/executors/kubernetes.js';
import type { IJobRun, IJobUpdate } from '../src/features/jobs/executors/types.js';
import { scratchDir, testConfig } from './helpers/build.js';

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

function matches(labels: Record<string, string>, selector: string | null): boolean {
  return (selector ?? '')
    .split(',')
    .filter(Boolean)
    .every(term => {
      const [key, value] = term.split('=');
      return value === undefined ? key in labels : labels[key] === value;
    });
}

let api: Server;
let kubeconfig: string;

before(async () => {
  api = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('watch')) {
      // Held open: no changes after the list.
      res.writeHead(200);
      res.flushHeaders();
      return;
    }
    const items = (LISTS[url.pathname] ?? []).filter(o =>
      matches(
        (o as { metadata: { labels: Record<string, string> } }).metadata.labels,
        url.searchParams.get('labelSelector')
      )
    );
    res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items }));
  });
  await new Promise<void>(resolve => api.listen(0, '127.0.0.1', resolve));
  const { port } = api.address() as { port: number };
  kubeconfig = join(scratchDir(), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: the client takes it only with TLS checks declared off.
      clusters: [
        {
          name: 'stub',
          cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true }
        }
      ],
      users: [{ name: 'companion', user: {} }],
      contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'companion' } }],
      'current-context': 'stub'
    })
  );
});

after(() => {
  api.closeAllConnections();
  api.close();
});

describe('jobs watches', () => {
  it("take a job's Job and pod only from its owner's namespace, whatever else carries its label", async t => {
    const config = testConfig({ kubernetes: { kubeconfig } });
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
      startedAt: '2026-12-07T01:00:05.000Z'
    });
  });
});
