/**
 * Per-user namespaces against a real control plane (test/helpers/cluster.ts) and a real JupyterHub.
 * The companion runs with the Helm chart's own ServiceAccount and RBAC (helpers/chart-rbac.ts), so
 * every test here also shows that the chart grants what tenancy needs. The one exception is the
 * pod that tests the GPU quota: the chart lets the companion create no pods, so that test's
 * companion uses the admin kubeconfig (quota admission answers the same whoever creates the pod).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  AuthorizationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1Pod
} from '@kubernetes/client-node';
import type { Me, Problem, UserNamespace } from '@hotstepper/schema';
import type { LightMyRequestResponse } from 'fastify';
import { features } from '../src/app.js';
import { ConfigError, loadConfig, validateConfig } from '../src/platform/config.js';
import type { IFeature } from '../src/platform/feature.js';
import { currentUser } from '../src/platform/identity.js';
import { parseQuotaMessage } from '../src/platform/kubernetes/errors.js';
import { namespaceName, USER_ANNOTATION } from '../src/platform/kubernetes/namespaces.js';
import { build, scratchDir, testConfig, type Overrides } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { startAll } from './helpers/start-all.js';
import { freePort } from './helpers/ports.js';

let cluster: ITestCluster;
let hub: IHub;
let chart: IChartIdentity;
const tokens: Record<string, string> = {};

before(async () => {
  [cluster, hub] = await startAll(startCluster(), startHub());
  const [identity] = await Promise.all([
    installChartRbac(cluster),
    ...['alice', 'bob', 'carol', 'admin'].map(async user => {
      tokens[user] = (await hub.createToken(user)).token;
    })
  ]);
  chart = identity as IChartIdentity;
});
after(async () => {
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

/** Drop the client-node model classes, for deepEqual against plain objects. */
const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
const as = (user: string) => ({ authorization: `token ${tokens[user]}` });
const core = () => cluster.kc.makeApiClient(CoreV1Api);

/** The companion, as the chart's ServiceAccount unless the test says otherwise. */
function companion(t: TestContext, overrides: Overrides = {}, extra = features) {
  return build(
    t,
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: chart.kubeconfig },
      ...overrides
    }),
    { features: extra }
  );
}

function assertProblem(res: LightMyRequestResponse, status: number, code: string): Problem {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as Problem;
  assert.equal(body.code, code);
  return body;
}

/** A route only these tests add: it creates a pod through the tenancy layer, as Jobs will. */
const testPods: IFeature = {
  name: 'test-pods',
  routes: async a => {
    a.post('/api/v1/test/pods', async (request, reply) => {
      const tenant = await a.tenancy.tenant(currentUser(request).name);
      reply.code(201);
      return tenant.create(request.body as V1Pod);
    });
  }
};

describe('namespace names', () => {
  const name = (user: string) => namespaceName('hs-', user);

  it('keep a clean hub name as it is, and hash every other', () => {
    assert.equal(name('alice'), 'hs-alice');
    assert.equal(name('a-b'), 'hs-a-b');
    assert.match(name('Alice'), /^hs-alice--[0-9a-f]{8}$/);
    assert.match(name('a.b'), /^hs-a-b--[0-9a-f]{8}$/);
    assert.match(name('jürgen@uni.example'), /^hs-j-rgen-uni-example--[0-9a-f]{8}$/);
    assert.match(name('日本語'), /^hs---[0-9a-f]{8}$/, 'nothing left: the hash alone');
    assert.match(name('---'), /^hs---[0-9a-f]{8}$/);
  });

  it('are DNS labels of at most 63 characters', () => {
    for (const user of [
      'x'.repeat(60),
      'x'.repeat(61),
      'X'.repeat(300),
      'a-'.repeat(40),
      '🙂'.repeat(9)
    ]) {
      const ns = name(user);
      assert.ok(ns.length <= 63, `${ns} is ${ns.length} long`);
      assert.match(ns, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    assert.equal(name('x'.repeat(60)), `hs-${'x'.repeat(60)}`, 'exactly 63 fits unhashed');
    assert.match(name('x'.repeat(61)), /^hs-x{50}--[0-9a-f]{8}$/);
  });

  it('never give two users the same namespace', () => {
    const users = [
      'alice',
      'Alice',
      'ALICE',
      'alice.',
      'a.b',
      'a-b',
      'a_b',
      'a--b',
      '-a-b',
      'x'.repeat(61),
      'x'.repeat(62),
      `${'x'.repeat(61)}y`,
      '日本',
      '中文',
      '',
      '--',
      // Chosen to look like the hashed name of "Alice": a clean name cannot contain "--".
      name('Alice').slice(3),
      `alice-${name('Alice').slice(-8)}`
    ];
    const seen = new Map<string, string>();
    for (const user of users) {
      const ns = name(user);
      assert.ok(!seen.has(ns), `"${user}" and "${seen.get(ns)}" both get ${ns}`);
      seen.set(ns, user);
    }
  });
});

describe('tenancy configuration', () => {
  it('fails start on an unknown GPU profile or a GPU quota without requests., naming the key', () => {
    const file = join(scratchDir(), 'hotstepper.yaml');
    writeFileSync(
      file,
      [
        'kubernetes:',
        '  tenancy:',
        '    quota:',
        '      requests.nvidia.com/mig-9g.99gb: 1',
        '      nvidia.com/gpu: 2',
        '      pods: 1.5',
        '      requests.memory: lots'
      ].join('\n')
    );
    assert.throws(
      () => loadConfig(['--config', file], {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const lines = err.message.split('\n');
        assert.equal(lines.length, 4, err.message);
        assert.match(
          lines[0],
          /^config error: kubernetes\.tenancy\.quota\["requests\.nvidia\.com\/mig-9g\.99gb"\]: "mig-9g\.99gb" is not a known NVIDIA MIG profile \(known: .*mig-1g\.10gb.*\) \(in .*hotstepper\.yaml\)$/
        );
        assert.match(lines[1], /quota\["nvidia\.com\/gpu"\]: .*write "requests\.nvidia\.com\/gpu"/);
        assert.match(lines[2], /quota\["pods"\]: "1\.5" must be a whole number/);
        assert.match(lines[3], /quota\["requests\.memory"\]: "lots" is not a Kubernetes quantity/);
        return true;
      }
    );
    const ok = validateConfig({
      kubernetes: { tenancy: { quota: { 'requests.nvidia.com/mig-1g.10gb': 2, pods: 10 } } }
    });
    assert.deepEqual(ok.kubernetes.tenancy.quota, {
      'requests.nvidia.com/mig-1g.10gb': '2',
      pods: '10'
    });
  });
});

describe('GET /api/v1/me/namespace', () => {
  it('creates one namespace for ten concurrent first requests', async t => {
    const app = await companion(t);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        app.inject({ url: '/api/v1/me/namespace', headers: as('carol') })
      )
    );
    for (const res of answers) assert.equal(res.statusCode, 200, res.body);
    const names = new Set(answers.map(res => (res.json() as UserNamespace).namespace));
    assert.deepEqual([...names], ['hs-carol']);
    const list = await core().listNamespace({ labelSelector: 'hotstepper.io/user=carol' });
    assert.deepEqual(
      list.items.map(n => n.metadata?.name),
      ['hs-carol']
    );
  });

  it('sets the namespace up with the configured binding, quota and limit range', async t => {
    const tenancy = {
      quota: {
        'requests.cpu': '4',
        'requests.memory': '8Gi',
        'requests.nvidia.com/gpu': '1',
        'requests.nvidia.com/mig-1g.10gb': '2',
        pods: '10',
        'count/jobs.batch': '5'
      },
      limitRange: {
        default: { cpu: '2', memory: '4Gi' },
        defaultRequest: { cpu: '500m', memory: '1Gi' }
      }
    };
    const config = validateConfig({ kubernetes: { tenancy } }).kubernetes;
    const app = await companion(t, { kubernetes: { ...config, kubeconfig: chart.kubeconfig } });
    const res = await app.inject({ url: '/api/v1/me/namespace', headers: as('alice') });
    assert.equal(res.statusCode, 200, res.body);
    const mine = res.json() as UserNamespace;
    assert.equal(mine.namespace, 'hs-alice');
    // Filled in by the quota controller of kube-controller-manager, which the companion waits for.
    assert.deepEqual(mine.quota.hard, tenancy.quota);
    assert.deepEqual(
      mine.quota.used,
      Object.fromEntries(Object.keys(tenancy.quota).map(k => [k, '0']))
    );

    const ns = await core().readNamespace({ name: 'hs-alice' });
    assert.equal(ns.metadata?.labels?.['app.kubernetes.io/managed-by'], 'hotstepper');
    assert.equal(ns.metadata?.labels?.['hotstepper.io/user'], 'alice');
    assert.equal(ns.metadata?.annotations?.[USER_ANNOTATION], 'alice');
    const binding = await cluster.kc
      .makeApiClient(RbacAuthorizationV1Api)
      .readNamespacedRoleBinding({ name: chart.userClusterRole, namespace: 'hs-alice' });
    assert.deepEqual(plain(binding.roleRef), {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'hotstepper-user'
    });
    assert.deepEqual(plain(binding.subjects), [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }
    ]);
    const quota = await core().readNamespacedResourceQuota({
      name: 'hotstepper',
      namespace: 'hs-alice'
    });
    assert.deepEqual(quota.spec?.hard, tenancy.quota);
    assert.ok(
      quota.metadata?.managedFields?.some(
        f => f.manager === 'hotstepper' && f.operation === 'Apply'
      ),
      'server-side applied by the field manager hotstepper'
    );
    const limits = await core().readNamespacedLimitRange({
      name: 'hotstepper',
      namespace: 'hs-alice'
    });
    assert.deepEqual(plain(limits.spec.limits), [
      {
        type: 'Container',
        _default: tenancy.limitRange.default,
        defaultRequest: tenancy.limitRange.defaultRequest
      }
    ]);
    // The user (as Kubernetes knows them by the binding) may list pods there, and only there.
    const canI = async (namespace: string) =>
      (
        await cluster.kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
          body: {
            spec: {
              user: 'alice',
              resourceAttributes: { namespace, verb: 'list', resource: 'pods' }
            }
          }
        })
      ).status?.allowed;
    assert.equal(await canI('hs-alice'), true);
    assert.equal(await canI('hs-carol'), false);
  });

  it('never uses a namespace that is not the caller’s', async t => {
    await core().createNamespace({ body: { metadata: { name: 'hs-admin' } } });
    const app = await companion(t);
    const res = await app.inject({ url: '/api/v1/me/namespace', headers: as('admin') });
    const problem = assertProblem(res, 409, 'namespace_taken');
    assert.match(problem.detail, /"hs-admin" is held by something that is not yours/);
    const ns = await core().readNamespace({ name: 'hs-admin' });
    assert.equal(ns.metadata?.annotations?.[USER_ANNOTATION], undefined, 'left as it was');
  });
});

describe('through the tenancy layer', () => {
  const configMap = (name: string, namespace?: string): KubernetesObject & { data: object } => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    data: { note: 'mine' }
  });
  const ref = (name: string, namespace?: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name,
    namespace
  });

  it('keeps each user to their own namespace: anything else is 404', async t => {
    const app = await companion(t);
    const alice = await app.tenancy.tenant('alice');
    const bob = await app.tenancy.tenant('bob');
    const made = await alice.create(configMap('notes'));
    assert.equal(made.metadata?.namespace, 'hs-alice');
    assert.equal(made.metadata?.labels?.['hotstepper.io/user'], 'alice');

    const notFound = async (work: () => Promise<unknown>) =>
      assert.rejects(work, (err: { statusCode?: number; code?: string; detail?: string }) => {
        assert.equal(err.statusCode, 404);
        assert.equal(err.code, 'not_found');
        assert.equal(err.detail, 'The configmap "notes" does not exist in your namespace.');
        return true;
      });
    await notFound(() => bob.read(ref('notes', 'hs-alice')));
    await notFound(() => bob.read(ref('notes')));
    await notFound(() => bob.delete(ref('notes', 'hs-alice')));
    await notFound(() => bob.create(configMap('notes', 'hs-alice')));
    const still = await alice.read<KubernetesObject & { data: object }>(ref('notes'));
    assert.deepEqual(still.data, { note: 'mine' });
  });

  it('answers Kubernetes refusals as problems: conflict, validation, our own permissions', async t => {
    const lines: string[] = [];
    const app = await build(
      t,
      testConfig({
        jupyterhub: { apiUrl: hub.apiUrl },
        kubernetes: { kubeconfig: chart.kubeconfig },
        log: { level: 'warn' }
      }),
      {
        features: [...features, testPods],
        logStream: { write: line => void lines.push(line) }
      }
    );
    const bob = await app.tenancy.tenant('bob');
    await bob.create(configMap('twice'));
    await assert.rejects(() => bob.create(configMap('twice')), {
      statusCode: 409,
      code: 'conflict'
    });
    await assert.rejects(
      () => bob.create(configMap('Not_A_Name')),
      (err: { statusCode: number; code: string; errors?: { path: string }[] }) => {
        assert.equal(err.statusCode, 422);
        assert.equal(err.code, 'validation_failed');
        assert.equal(err.errors?.[0]?.path, 'metadata.name');
        return true;
      }
    );
    // The chart lets the companion create no pods: that is our problem, not the user's.
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/pods',
      headers: as('bob'),
      payload: gpuPod('one', 1)
    });
    const problem = assertProblem(res, 502, 'kubernetes_forbidden');
    assert.doesNotMatch(problem.detail, /serviceaccount|forbidden:/);
    assert.match(
      lines.join(''),
      /is forbidden: User \\"system:serviceaccount:hub:hotstepper\\" cannot create resource \\"pods\\"/
    );
  });
});

function gpuPod(name: string, gpus: number): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example/cuda:12',
          resources: { limits: { 'nvidia.com/gpu': String(gpus) } }
        }
      ]
    }
  };
}

describe('the GPU quota', () => {
  it('refuses a pod over it, and the caller gets problem+json with the numbers', async t => {
    const app = await companion(t, { kubernetes: { kubeconfig: cluster.kubeconfig } }, [
      ...features,
      testPods
    ]);
    const post = (pod: V1Pod) =>
      app.inject({ method: 'POST', url: '/api/v1/test/pods', headers: as('bob'), payload: pod });
    // Default quota: requests.nvidia.com/gpu 1.
    const two = assertProblem(await post(gpuPod('two', 2)), 409, 'quota_exceeded');
    assert.match(two.detail, /requests\.nvidia\.com\/gpu: requested 2, used 0, limited 1/);
    assert.deepEqual(two.quota, [
      { resource: 'requests.nvidia.com/gpu', requested: '2', used: '0', limited: '1' }
    ]);
    assert.equal((await post(gpuPod('one', 1))).statusCode, 201);
    const again = assertProblem(await post(gpuPod('another', 1)), 409, 'quota_exceeded');
    assert.deepEqual(again.quota, [
      { resource: 'requests.nvidia.com/gpu', requested: '1', used: '1', limited: '1' }
    ]);
    const mine = (await app.inject({ url: '/api/v1/me/namespace', headers: as('bob') })).json();
    assert.equal((mine as UserNamespace).quota.hard['requests.nvidia.com/gpu'], '1');
  });

  it('reads every resource of a quota message', () => {
    assert.deepEqual(
      parseQuotaMessage(
        'pods "p" is forbidden: exceeded quota: hotstepper, requested: requests.cpu=2,requests.nvidia.com/mig-1g.10gb=3, ' +
          'used: requests.cpu=7,requests.nvidia.com/mig-1g.10gb=0, limited: requests.cpu=8,requests.nvidia.com/mig-1g.10gb=2'
      ),
      [
        { resource: 'requests.cpu', requested: '2', used: '7', limited: '8' },
        { resource: 'requests.nvidia.com/mig-1g.10gb', requested: '3', used: '0', limited: '2' }
      ]
    );
  });
});

describe('without Kubernetes', () => {
  it('reports it down in /api/v1/me and /readyz, stays ready, and answers 503', async t => {
    const file = join(scratchDir(), 'kubeconfig');
    const port = await freePort();
    writeFileSync(
      file,
      readFileSync(chart.kubeconfig, 'utf8').replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        `server: https://127.0.0.1:${port}`
      )
    );
    const app = await companion(t, { kubernetes: { kubeconfig: file } });
    const me = (await app.inject({ url: '/api/v1/me', headers: as('alice') })).json() as Me;
    const kube = me.connections.find(c => c.name === 'kubernetes');
    assert.equal(kube?.state, 'down');
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200, 'the database and JupyterHub decide readiness');
    assert.equal(
      ready.json().checks.find((c: { name: string }) => c.name === 'kubernetes').state,
      'down'
    );
    const problem = assertProblem(
      await app.inject({ url: '/api/v1/me/namespace', headers: as('alice') }),
      503,
      'kubernetes_unreachable'
    );
    assert.match(problem.detail, /ECONNREFUSED/);
    assert.doesNotMatch(problem.detail, new RegExp(String(port)), 'no internal address');
  });

  it('answers 503 kubernetes_not_configured when there is no cluster', async t => {
    const app = await companion(t, { kubernetes: { enabled: false } });
    assertProblem(
      await app.inject({ url: '/api/v1/me/namespace', headers: as('alice') }),
      503,
      'kubernetes_not_configured'
    );
  });
});
