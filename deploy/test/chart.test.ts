/**
 * The Helm chart in deploy/chart/hotstepper, checked with the real helm (built by dev/k8s/build.sh)
 * and installed into a real local control plane (dev/k8s/up.sh: etcd, kube-apiserver with RBAC and
 * PodSecurity admission, controller-manager, scheduler, kwok), started here in a temporary state
 * dir on free ports and stopped in `after`, also when a test fails.
 *
 * Run from the repository root:  node --import tsx --test deploy/test/chart.test.ts
 * Nothing is skipped: without helm, kubectl or a control plane the tests fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema, validateConfig } from '../../server/src/platform/config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'deploy/chart/hotstepper');
const KUBECTL = process.env.KUBECTL || 'kubectl';
const SECRET_VALUES = {
  token: 'test-hub-token-0123456789',
  url: 'postgres://hotstepper:db-password-42@postgres:5432/hotstepper',
  llmKey: 'sk-test-llm-key-987',
  cookieSecret: 'flare-cookie-secret-0123456789abcdef',
  smtpPassword: 'smtp-password-55'
};

interface IRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024
  });
  if (r.error) throw new Error(`${cmd} could not be started: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr } as IRun;
}

function ok(r: IRun, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

// ---- helm ---------------------------------------------------------------------------------------

/** helm from dev/k8s/build.sh's bin dir (built into the cache when missing; instant when cached). */
function findHelm(): string {
  const r = run('bash', [join(ROOT, 'dev/k8s/build.sh')]);
  const bin = r.stdout.trim().split('\n').pop() ?? '';
  assert.equal(
    r.status,
    0,
    `dev/k8s/build.sh failed, so there is no helm:\n${r.stderr.slice(-3000)}`
  );
  const helm = join(bin, 'helm');
  assert.ok(existsSync(helm), `dev/k8s/build.sh printed ${bin}, which has no helm`);
  return helm;
}

/** helm, found once; when it cannot be had, every test that needs it fails with the reason. */
let helmFound: { bin?: string; error?: unknown } | undefined;
function helmBin(): string {
  if (!helmFound) {
    try {
      const bin = findHelm();
      const v = ok(run(bin, ['version', '--short']), 'helm version');
      assert.match(v, /^v3\./, `helm 3 expected, got ${v}`);
      helmFound = { bin };
    } catch (error) {
      helmFound = { error };
    }
  }
  if (helmFound.error) throw helmFound.error;
  return helmFound.bin!;
}
const helm = (...args: string[]) => run(helmBin(), args);

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are free-form
type Any = any;

function render(release: string, namespace: string, ...valueArgs: string[]): K8sObject[] {
  const out = ok(helm('template', release, CHART, '-n', namespace, ...valueArgs), 'helm template');
  return parseAllDocuments(out)
    .map(d => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function find(objects: K8sObject[], kind: string, name?: string): Any {
  const o = objects.find(x => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `no ${kind}${name ? ` ${name}` : ''} in ${objects.map(x => x.kind).join(', ')}`);
  return o;
}

const kinds = (objects: K8sObject[]) => objects.map(o => o.kind).sort();

interface IRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** Does one of these rules allow verb on group/resource (optionally for one resource name)? */
function allows(rules: IRule[], group: string, resource: string, verb: string, name?: string) {
  return rules.some(
    r =>
      (r.apiGroups ?? []).includes(group) &&
      (r.resources ?? []).includes(resource) &&
      r.verbs.includes(verb) &&
      (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name)))
  );
}

/** The assertions every rendering's RBAC must pass. */
function checkRbac(objects: K8sObject[], fullname: string) {
  const roles = objects.filter(o => o.kind === 'ClusterRole' || o.kind === 'Role') as Any[];
  assert.ok(roles.length >= 3, 'ClusterRoles and the leader-election Role are rendered');
  for (const role of roles) {
    for (const rule of role.rules as IRule[]) {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
        for (const v of (rule as Any)[field] ?? []) {
          assert.ok(
            !String(v).includes('*'),
            `${role.kind} ${role.metadata.name}: "*" in ${field}`
          );
        }
      }
      assert.ok(
        !rule.verbs.some(v => ['escalate', 'impersonate'].includes(v)),
        `${role.metadata.name}: no escalate or impersonate`
      );
      assert.equal(rule.nonResourceURLs, undefined, 'no nonResourceURLs');
    }
  }
  for (const binding of objects.filter(o =>
    ['ClusterRoleBinding', 'RoleBinding'].includes(o.kind)
  ) as Any[]) {
    assert.notEqual(binding.roleRef.name, 'cluster-admin');
    assert.notEqual(binding.roleRef.name, 'admin');
    assert.notEqual(binding.roleRef.name, 'edit');
  }

  const companion = find(objects, 'ClusterRole', fullname).rules as IRule[];
  // No ClusterRole may read a Secret: get, list and watch read it, and so do patch, update and
  // delete (they answer with the object). The companion only creates its jobs' Secrets.
  for (const role of objects.filter(o => o.kind === 'ClusterRole') as Any[]) {
    for (const verb of ['get', 'list', 'watch', 'patch', 'update', 'delete', 'deletecollection']) {
      assert.ok(
        !allows(role.rules, '', 'secrets', verb),
        `ClusterRole ${role.metadata.name} grants ${verb} on secrets`
      );
    }
  }
  // Exactly the verbs the server uses, resource by resource (server/src: informers list and watch,
  // tenant.create POSTs, tenant.delete DELETEs, tenancy applies server-side = patch).
  const rights = new Map<string, Set<string>>();
  for (const rule of companion) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const key = `${group}/${resource}${rule.resourceNames ? `[${rule.resourceNames}]` : ''}`;
        rights.set(key, new Set([...(rights.get(key) ?? []), ...rule.verbs]));
      }
    }
  }
  assert.deepEqual(
    Object.fromEntries([...rights].map(([k, v]) => [k, [...v].sort()]).sort()),
    {
      '/configmaps': ['create', 'delete', 'get'],
      '/limitranges': ['create', 'patch'],
      '/namespaces': ['create', 'get', 'list', 'watch'],
      '/nodes': ['get', 'list', 'watch'],
      '/pods': ['get', 'list', 'watch'],
      '/pods/log': ['get'],
      '/resourcequotas': ['create', 'get', 'patch'],
      '/secrets': ['create'],
      '/services': ['create', 'delete'],
      'batch/jobs': ['create', 'delete', 'get', 'list', 'watch'],
      'networking.k8s.io/ingresses': ['create', 'delete'],
      [`rbac.authorization.k8s.io/clusterroles[${fullname}-user]`]: ['bind'],
      'rbac.authorization.k8s.io/rolebindings': ['create', 'patch'],
      // only with spawn.volumes that have a source (shared-claims.ts applies them server-side)
      ...(rights.has('/persistentvolumes')
        ? {
            '/persistentvolumeclaims': ['create', 'get', 'patch'],
            '/persistentvolumes': ['create', 'patch']
          }
        : {})
    },
    "the companion's ClusterRole"
  );
  // bind: only the user ClusterRole, by name
  const bindRules = companion.filter(r => r.verbs.includes('bind'));
  assert.deepEqual(
    bindRules.map(r => [r.resources, r.resourceNames]),
    [[['clusterroles'], [`${fullname}-user`]]]
  );

  const user = find(objects, 'ClusterRole', `${fullname}-user`).rules as IRule[];
  assert.ok(allows(user, '', 'pods', 'list') && allows(user, 'batch', 'jobs', 'watch'));
  assert.ok(allows(user, '', 'pods/log', 'get'));
  assert.ok(!user.some(r => r.resources?.includes('secrets')), 'users get no secrets');

  const leader = find(objects, 'Role', `${fullname}-leader-election`);
  for (const rule of leader.rules as IRule[]) {
    assert.deepEqual(rule.apiGroups, ['coordination.k8s.io']);
    assert.deepEqual(rule.resources, ['leases']);
    if (rule.verbs.includes('create')) assert.deepEqual(rule.verbs, ['create']);
    else assert.ok(rule.resourceNames?.length, 'get/update are limited by resourceNames');
  }
  assert.ok(
    allows(leader.rules, 'coordination.k8s.io', 'leases', 'get', `${fullname}-usage-meter`)
  );
  assert.ok(
    allows(leader.rules, 'coordination.k8s.io', 'leases', 'update', `${fullname}-idle-guard`)
  );
  assert.ok(!allows(leader.rules, 'coordination.k8s.io', 'leases', 'get', 'someone-else'));
  assert.ok(
    !allows(leader.rules, 'coordination.k8s.io', 'leases', 'delete', `${fullname}-idle-guard`)
  );
}

/**
 * The hub roles the chart names (templates/_helpers.tpl, hotstepper.hubRoles, which NOTES.txt
 * prints): rendered by helm from a copy of the chart with one template more that shows them.
 */
function hubRolesOfChart(...valueArgs: string[]): Record<'service' | 'user' | 'server', string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-chart-roles-'));
  try {
    cpSync(CHART, join(dir, 'hotstepper'), { recursive: true });
    writeFileSync(
      join(dir, 'hotstepper/templates/zz-hub-roles.yaml'),
      'hubRoles: {{ include "hotstepper.hubRoles" . }}\n'
    );
    const out = ok(
      helm(
        'template',
        'hotstepper',
        join(dir, 'hotstepper'),
        '--show-only',
        'templates/zz-hub-roles.yaml',
        ...valueArgs
      ),
      'helm template (hub roles)'
    );
    return (parseYaml(out) as Any).hubRoles;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The scopes of each role in dev/jupyterhub_config.py's c.JupyterHub.load_roles, read by Python. */
function hubRolesOfDevHub(): Record<string, string[]> {
  const script = `
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "c.JupyterHub.load_roles":
        print(json.dumps({r["name"]: r.get("scopes", []) for r in ast.literal_eval(node.value)}))
        break
`;
  const out = ok(
    run('python3', ['-c', script, join(ROOT, 'dev/jupyterhub_config.py')]),
    'read the roles of dev/jupyterhub_config.py'
  );
  assert.ok(out.trim(), 'dev/jupyterhub_config.py sets c.JupyterHub.load_roles');
  return JSON.parse(out) as Record<string, string[]>;
}

/** The companion's own check of the rendered config file (server/src/platform/config.ts). */
function companionConfig(objects: K8sObject[], fullname: string) {
  const cm = find(objects, 'ConfigMap', fullname);
  const text = cm.data['hotstepper.yaml'] as string;
  return { text, config: validateConfig(parseYaml(text)), raw: parseYaml(text) as Any };
}

const FULL_VALUES = `
replicas: 3
jupyterhub:
  apiToken: ${SECRET_VALUES.token}
database:
  url: ${SECRET_VALUES.url}
llm:
  baseUrl: https://llm.example.org/v1
  apiKey: ${SECRET_VALUES.llmKey}
  model: gpt-4o-mini
prometheus:
  url: http://prometheus-server.monitoring:80
flare:
  mode: kubernetes
  cookieSecret: ${SECRET_VALUES.cookieSecret}
mail:
  smtp:
    host: smtp.example.org
    user: hotstepper
    password: ${SECRET_VALUES.smtpPassword}
idle:
  quietHours: { from: '22:00', to: '07:00', timeZone: Europe/Prague }
log:
  level: debug
ingress:
  enabled: true
  className: nginx
  tls: [{hosts: [hotstepper.example.org], secretName: hotstepper-tls}]
networkPolicy:
  enabled: true
admissionPolicy:
  enabled: true
grader:
  kubernetes:
    serviceAccountName: hs-grader-pull
`;

// ---- the local control plane ----------------------------------------------------------------------

async function portFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port base whose six ports (up.sh: BASE+247/257/259/379/380/443) are all free. */
async function freePortBase(): Promise<number> {
  for (let i = 0; i < 40; i++) {
    const base = 27000 + Math.floor(Math.random() * 300) * 100;
    const ports = [247, 257, 259, 379, 380, 443].map(p => base + p);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free port base for the test control plane');
}

// ---- the tests ------------------------------------------------------------------------------------

describe('helm lint', () => {
  it('passes with the default values, also with --strict', () => {
    for (const extra of [[], ['--strict']]) {
      const out = ok(helm('lint', CHART, ...extra), `helm lint ${extra.join(' ')}`);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
    }
  });

  it('passes --strict with several replicas, PostgreSQL, ingress, network and admission policy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-chart-lint-'));
    try {
      writeFileSync(join(dir, 'full.yaml'), FULL_VALUES);
      const out = ok(helm('lint', '--strict', CHART, '-f', join(dir, 'full.yaml')), 'helm lint');
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('helm template', () => {
  const valuesDir = mkdtempSync(join(tmpdir(), 'hs-chart-values-'));
  const fullValues = join(valuesDir, 'full.yaml');
  writeFileSync(fullValues, FULL_VALUES);
  after(() => rmSync(valuesDir, { recursive: true, force: true }));

  it('renders the default values: one SQLite replica, hardened pod, config file, RBAC', () => {
    const objects = render('hotstepper', 'hub');
    assert.deepEqual(kinds(objects), [
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding'
    ]);
    const name = 'hotstepper';
    for (const o of objects) {
      assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'hotstepper');
      assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], 'hotstepper');
      assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
    }

    const deploy = find(objects, 'Deployment', name);
    assert.equal(deploy.spec.replicas, 1, 'no database.url: one replica');
    const pod = deploy.spec.template;
    assert.equal(pod.metadata.labels['hub.jupyter.org/network-access-hub'], 'true');
    assert.match(pod.metadata.annotations['checksum/config'], /^[0-9a-f]{64}$/);
    assert.equal(pod.spec.serviceAccountName, name);
    assert.equal(pod.spec.automountServiceAccountToken, true, 'kubernetes.enabled: in-cluster');
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(pod.spec.securityContext.seccompProfile.type, 'RuntimeDefault');
    const [c] = pod.spec.containers;
    assert.equal(c.image, 'hotstepper/companion:0.1.0', 'tag defaults to appVersion');
    assert.deepEqual(c.args, ['--config', '/etc/hotstepper/hotstepper.yaml']);
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 9100, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.ok(c.resources.requests.cpu && c.resources.limits.memory, 'resources are set');
    assert.equal(c.env, undefined, 'no secrets set: no secret env');
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Any) => [m.name, m.mountPath]));
    assert.deepEqual(mounts, {
      config: '/etc/hotstepper',
      data: '/var/lib/hotstepper',
      tmp: '/tmp'
    });
    const volumes = Object.fromEntries(pod.spec.volumes.map((v: Any) => [v.name, v]));
    assert.equal(volumes.config.configMap.name, name);
    assert.deepEqual(volumes.data.emptyDir, {});

    const svc = find(objects, 'Service', name);
    assert.equal(svc.spec.type, 'ClusterIP');
    assert.deepEqual(svc.spec.ports, [
      { name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP' }
    ]);
    assert.deepEqual(svc.spec.selector, deploy.spec.selector.matchLabels);

    // the companion's own validator accepts the rendered file
    const { config, raw } = companionConfig(objects, name);
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.server.port, 9100);
    assert.equal(config.database.path, '/var/lib/hotstepper/hotstepper.sqlite');
    assert.equal(config.jupyterhub.apiUrl, 'http://hub:8081/hub/api');
    assert.equal(config.kubernetes.enabled, true);
    assert.equal(raw.jupyterhub.apiToken, undefined);
    assert.equal(raw.database.url, undefined);
    assert.equal(raw.llm.apiKey, undefined);
    // Names that depend on the release: the Leases the leader-election Role grants, Flare's Services.
    assert.equal(config.usage.meter.leaseName, `${name}-usage-meter`);
    assert.equal(config.idle.leaseName, `${name}-idle-guard`);
    assert.equal(config.idle.quietHours, undefined, 'no quiet hours unless from and to are set');
    assert.equal(config.jobs.defaults.image, undefined, 'an empty nested value is left out');
    assert.equal(config.jobs.executor, 'kubernetes', 'jobs run as Jobs when Kubernetes is on');

    checkRbac(objects, name);
  });

  it('defaults to least privilege: admission policy and NetworkPolicy on, no Secret read', () => {
    const objects = render('hotstepper', 'hub');
    checkRbac(objects, 'hotstepper');

    // The admission policy, bound, on the companion's own requests only.
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'hotstepper-tenant-namespaces');
    const binding = find(
      objects,
      'ValidatingAdmissionPolicyBinding',
      'hotstepper-tenant-namespaces'
    );
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
    assert.equal(policy.spec.failurePolicy, 'Fail');
    assert.match(
      policy.spec.matchConditions[0].expression,
      /request\.userInfo\.username ==\s+'system:serviceaccount:hub:hotstepper'/
    );
    const matched = (policy.spec.matchConstraints.resourceRules as Any[]).flatMap(r => r.resources);
    for (const r of ['namespaces', 'pods', 'jobs', 'secrets', 'rolebindings', 'ingresses']) {
      assert.ok(matched.includes(r), `the policy covers ${r}`);
    }
    const accounts = policy.spec.variables.find((v: Any) => v.name === 'accounts');
    assert.equal(accounts.expression, '["", "default"]', 'Jobs run as the default ServiceAccount');
    const graderSa = render(
      'hotstepper',
      'hub',
      '--set',
      'grader.kubernetes.serviceAccountName=pull'
    );
    assert.equal(
      find(graderSa, 'ValidatingAdmissionPolicy').spec.variables.find(
        (v: Any) => v.name === 'accounts'
      ).expression,
      '["", "default", "pull"]',
      "the grader's ServiceAccount is admitted"
    );
    const rules = JSON.stringify(policy.spec.validations);
    assert.match(rules, /automountServiceAccountToken == false/);
    assert.match(rules, /roleRef\.name == \\"hotstepper-user\\"/);

    // The NetworkPolicy: the hub and singleuser servers, the ingress controller, Prometheus.
    const np = find(objects, 'NetworkPolicy', 'hotstepper');
    assert.deepEqual(np.spec.podSelector.matchLabels, {
      'app.kubernetes.io/name': 'hotstepper',
      'app.kubernetes.io/instance': 'hotstepper'
    });
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    const peers = (np.spec.ingress as Any[]).map(rule => ({
      from: rule.from.map((f: Any) => ({
        pods: f.podSelector.matchLabels,
        namespaces: f.namespaceSelector?.matchLabels
      })),
      ports: rule.ports.map((p: Any) => p.port)
    }));
    assert.deepEqual(peers, [
      {
        from: [
          { pods: { component: 'hub' }, namespaces: undefined },
          { pods: { component: 'singleuser-server' }, namespaces: undefined }
        ],
        ports: ['http']
      },
      {
        from: [
          {
            pods: { 'app.kubernetes.io/name': 'ingress-nginx' },
            namespaces: { 'kubernetes.io/metadata.name': 'ingress-nginx' }
          }
        ],
        ports: ['http']
      },
      {
        from: [
          {
            pods: { 'app.kubernetes.io/name': 'prometheus' },
            namespaces: { 'kubernetes.io/metadata.name': 'monitoring' }
          }
        ],
        ports: ['http']
      }
    ]);
    // Flare mode kubernetes: the ingress controller also reaches the gateway's port.
    const flare = find(
      render('hotstepper', 'hub', '--set', 'flare.mode=kubernetes'),
      'NetworkPolicy'
    );
    assert.deepEqual(flare.spec.ingress[1].ports, [
      { port: 'http', protocol: 'TCP' },
      { port: 'flare', protocol: 'TCP' }
    ]);
  });

  it('still renders with the admission policy and the NetworkPolicy turned off', () => {
    const objects = render(
      'hotstepper',
      'hub',
      '--set',
      'admissionPolicy.enabled=false',
      '--set',
      'networkPolicy.enabled=false'
    );
    for (const kind of [
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'NetworkPolicy'
    ]) {
      assert.ok(!objects.some(o => o.kind === kind), `no ${kind}`);
    }
    checkRbac(objects, 'hotstepper');
    find(objects, 'Deployment', 'hotstepper');
    // A NetworkPolicy without the ingress controller and Prometheus rules: only the hub's pods.
    const np = find(
      render(
        'hotstepper',
        'hub',
        '--set',
        'networkPolicy.ingressController=null',
        '--set',
        'networkPolicy.prometheus.podSelector=null'
      ),
      'NetworkPolicy'
    );
    assert.equal(np.spec.ingress.length, 1);
  });

  it("names the hub scopes in one place, the same as dev/jupyterhub_config.py's roles", () => {
    const fromChart = hubRolesOfChart();
    const fromHub = hubRolesOfDevHub();
    assert.deepEqual(
      Object.fromEntries(Object.entries(fromChart).map(([k, v]) => [k, [...v].sort()])),
      {
        service: [...fromHub['hotstepper-service']].sort(),
        user: [...fromHub.user].sort(),
        server: [...fromHub.server].sort()
      },
      'templates/_helpers.tpl hotstepper.hubRoles against the roles the tests run the hub with'
    );
  });

  it('has a value for every key of the companion config, with the same nesting', () => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Any;
    const example = readFileSync(join(ROOT, 'server/hotstepper.example.yaml'), 'utf8');
    // The local executors' settings are a single-machine hub's: the chart offers no local executor.
    const singleMachine = new Set(['jobs.local', 'grader.local']);
    // Every key at every depth where the schema names its keys (not free-form maps or lists).
    const check = (schema: Any, node: Any, path: string) => {
      for (const [key, sub] of Object.entries<Any>(schema.properties ?? {})) {
        const at = path ? `${path}.${key}` : key;
        if (singleMachine.has(at)) {
          assert.ok(!(node && key in node), `values.yaml offers no ${at}`);
          continue;
        }
        assert.ok(node && typeof node === 'object' && key in node, `values.yaml has ${at}`);
        assert.match(example, new RegExp(`\\b${key}:`), `${key} is in hotstepper.example.yaml`);
        if (sub.properties) check(sub, node[key], at);
      }
    };
    check(configSchema, values, '');
  });

  it('renders replicas 3 with PostgreSQL, the Secret as env, ingress, PDB and network policy', () => {
    const objects = render('hs', 'hub', '-f', fullValues);
    const name = 'hs-hotstepper';
    for (const kind of [
      'Secret',
      'PodDisruptionBudget',
      'Ingress',
      'NetworkPolicy',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding'
    ]) {
      find(objects, kind);
    }
    const deploy = find(objects, 'Deployment', name);
    assert.equal(deploy.spec.replicas, 3);
    const [c] = deploy.spec.template.spec.containers;
    const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e.valueFrom.secretKeyRef]));
    assert.deepEqual(env, {
      JUPYTERHUB_API_TOKEN: { name, key: 'jupyterhub-api-token' },
      DATABASE_URL: { name, key: 'database-url' },
      HOTSTEPPER_LLM_API_KEY: { name, key: 'llm-api-key' },
      HOTSTEPPER_FLARE_COOKIE_SECRET: { name, key: 'flare-cookie-secret' },
      HOTSTEPPER_SMTP_PASSWORD: { name, key: 'smtp-password' }
    });
    const secret = find(objects, 'Secret', name);
    const decoded = Object.fromEntries(
      Object.entries(secret.data as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString()
      ])
    );
    assert.deepEqual(decoded, {
      'jupyterhub-api-token': SECRET_VALUES.token,
      'database-url': SECRET_VALUES.url,
      'llm-api-key': SECRET_VALUES.llmKey,
      'flare-cookie-secret': SECRET_VALUES.cookieSecret,
      'smtp-password': SECRET_VALUES.smtpPassword
    });

    const { text, config } = companionConfig(objects, name);
    for (const s of Object.values(SECRET_VALUES)) {
      assert.ok(!text.includes(s), 'no secret in the ConfigMap');
    }
    for (const o of objects.filter(x => x.kind !== 'Secret')) {
      const all = JSON.stringify(o);
      for (const s of Object.values(SECRET_VALUES)) assert.ok(!all.includes(s), `${o.kind} leaks`);
    }
    assert.equal(config.log.level, 'debug');
    assert.equal(config.llm.baseUrl, 'https://llm.example.org/v1');
    assert.equal(config.prometheus.url, 'http://prometheus-server.monitoring:80');
    assert.equal(config.mail.smtp.host, 'smtp.example.org');
    assert.equal(config.mail.smtp.password, undefined, 'the SMTP password comes from the Secret');
    assert.equal(config.flare.cookieSecret, undefined, 'the cookie secret comes from the Secret');
    assert.deepEqual(config.idle.quietHours, {
      from: '22:00',
      to: '07:00',
      timeZone: 'Europe/Prague'
    });
    // Flare in mode kubernetes: the gateway listener has a container port and a Service.
    const flare = find(objects, 'Service', `${name}-flare`);
    assert.deepEqual(flare.spec.ports, [
      { name: 'flare', port: 9180, targetPort: 'flare', protocol: 'TCP' }
    ]);
    assert.equal(config.flare.kubernetes.gatewayService, `${name}-flare.hub.svc.cluster.local`);
    assert.equal(config.flare.kubernetes.authUrl, `http://${name}.hub.svc:8000/flare/auth`);

    const pdb = find(objects, 'PodDisruptionBudget', name);
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deploy.spec.selector.matchLabels);

    const ing = find(objects, 'Ingress', name);
    assert.equal(ing.spec.ingressClassName, 'nginx');
    assert.deepEqual(ing.spec.rules[0].http.paths[0].backend.service, {
      name,
      port: { name: 'http' }
    });

    const np = find(objects, 'NetworkPolicy', name);
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    assert.equal(np.spec.ingress.length, 3, 'the hub, the ingress controller, Prometheus');
    const from = np.spec.ingress[0].from
      .map((f: Any) => f.podSelector.matchLabels.component)
      .sort();
    assert.deepEqual(from, ['hub', 'singleuser-server']);
    assert.deepEqual(np.spec.ingress[0].ports, [{ port: 'http', protocol: 'TCP' }]);

    checkRbac(objects, name);
  });

  it('rolls the pods when the configuration changes', () => {
    const sum = (...args: string[]) =>
      find(render('hotstepper', 'hub', ...args), 'Deployment').spec.template.metadata.annotations[
        'checksum/config'
      ];
    assert.equal(sum(), sum());
    assert.notEqual(sum(), sum('--set', 'log.level=debug'));
  });

  it("grants a controller's Lease by the name the configuration gives it", () => {
    const objects = render('hotstepper', 'hub', '--set', 'idle.leaseName=guard-of-idle');
    assert.equal(companionConfig(objects, 'hotstepper').config.idle.leaseName, 'guard-of-idle');
    const leader = find(objects, 'Role', 'hotstepper-leader-election');
    assert.ok(allows(leader.rules, 'coordination.k8s.io', 'leases', 'update', 'guard-of-idle'));
    assert.ok(
      allows(leader.rules, 'coordination.k8s.io', 'leases', 'get', 'hotstepper-usage-meter')
    );
    checkRbac(objects, 'hotstepper');
  });

  it('grants PersistentVolumes only when a spawn volume has a source for the companion to bind', () => {
    const rules = (objects: K8sObject[]) => find(objects, 'ClusterRole', 'hotstepper').rules;
    const plain = render('hotstepper', 'hub');
    assert.ok(!allows(rules(plain), '', 'persistentvolumes', 'create'));
    assert.ok(!allows(rules(plain), '', 'persistentvolumeclaims', 'patch'));
    const volume = {
      name: 'shared',
      mountPath: '/home/jovyan/shared',
      claimName: 'shared',
      source: { nfs: { server: 'nfs.example.org', path: '/exports/course' } }
    };
    const shared = render(
      'hotstepper',
      'hub',
      '--set-json',
      `spawn.volumes=[${JSON.stringify(volume)}]`
    );
    for (const verb of ['create', 'patch']) {
      assert.ok(allows(rules(shared), '', 'persistentvolumes', verb), verb);
      assert.ok(allows(rules(shared), '', 'persistentvolumeclaims', verb), verb);
    }
    assert.deepEqual(
      companionConfig(shared, 'hotstepper').config.spawn.volumes[0].source,
      volume.source
    );
    checkRbac(shared, 'hotstepper');
  });

  it('reads the secrets from existingSecret, and then creates no Secret', () => {
    const objects = render('hotstepper', 'hub', '--set', 'existingSecret=mine');
    assert.ok(!objects.some(o => o.kind === 'Secret'));
    const deploy = find(objects, 'Deployment');
    assert.equal(deploy.spec.replicas, 2, 'the existing Secret holds the PostgreSQL URL');
    const env = deploy.spec.template.spec.containers[0].env;
    assert.deepEqual(
      env.map((e: Any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]),
      [
        ['JUPYTERHUB_API_TOKEN', 'mine', 'jupyterhub-api-token'],
        ['DATABASE_URL', 'mine', 'database-url'],
        ['HOTSTEPPER_LLM_API_KEY', 'mine', 'llm-api-key'],
        ['HOTSTEPPER_FLARE_COOKIE_SECRET', 'mine', 'flare-cookie-secret'],
        ['HOTSTEPPER_SMTP_PASSWORD', 'mine', 'smtp-password']
      ]
    );
    assert.deepEqual(
      env.map((e: Any) => e.valueFrom.secretKeyRef.optional ?? false),
      [false, false, true, true, true],
      'only the hub token and the database URL must be in the Secret'
    );
  });

  it('keeps SQLite on a claim with persistence, and refuses local executors and a companion without kubernetes', () => {
    const objects = render('hotstepper', 'hub', '--set', 'persistence.enabled=true');
    const claim = find(objects, 'PersistentVolumeClaim', 'hotstepper');
    assert.equal(claim.spec.resources.requests.storage, '1Gi');
    const deploy = find(objects, 'Deployment');
    assert.equal(deploy.spec.strategy.type, 'Recreate', 'the old pod lets go of the volume first');
    const data = deploy.spec.template.spec.volumes.find((v: Any) => v.name === 'data');
    assert.equal(data.persistentVolumeClaim.claimName, 'hotstepper');
    // Without Kubernetes, jobs would run inside the companion's pod: the chart refuses, and offers no
    // local executor (of jobs or of the grader) at all.
    const refused = helm('template', 'hotstepper', CHART, '--set', 'kubernetes.enabled=false');
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.stderr,
      /jobs\.executor: jobs run as Kubernetes Jobs, which needs kubernetes\.enabled/
    );
    for (const key of ['jobs.executor', 'grader.executor']) {
      const local = helm('template', 'hotstepper', CHART, '--set', `${key}=local`);
      assert.notEqual(local.status, 0, `${key}=local is refused`);
      assert.match(local.stderr, new RegExp(key.replace('.', '/')));
    }
  });

  it('fails with a clear message for several replicas without PostgreSQL', () => {
    const r = helm('template', 'hotstepper', CHART, '--set', 'replicas=2');
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /replicas is 2, but no PostgreSQL database is configured\. Several replicas cannot share one SQLite file: set database\.url/
    );
    const r2 = helm(
      'template',
      'hotstepper',
      CHART,
      '--set',
      'existingSecret=s',
      '--set',
      'llm.apiKey=k'
    );
    assert.notEqual(r2.status, 0);
    assert.match(
      r2.stderr,
      /existingSecret is set \(s\), so jupyterhub\.apiToken, database\.url and llm\.apiKey must stay empty/
    );
  });

  it('rejects unknown or mistyped values (values.schema.json)', () => {
    for (const [set, message] of [
      ['server.bogus=1', /additional properties 'bogus' not allowed/],
      ['bogus=1', /additional properties 'bogus' not allowed/],
      ['log.level=loud', /log\/level/],
      ['database.url=mysql://x', /database\/url/],
      ['jobs.executor=docker', /jobs\/executor/],
      ['usage.rateCard.charge=sometimes', /usage\/rateCard\/charge/],
      ['flare.cookieSecret=short', /flare\/cookieSecret/],
      ['mail.smtp.bogus=1', /additional properties 'bogus' not allowed/]
    ] as const) {
      const r = helm('template', 'hotstepper', CHART, '--set', set);
      assert.notEqual(r.status, 0, `--set ${set} is rejected`);
      assert.match(r.stderr, message);
    }
  });
});

describe('in a real cluster (dev/k8s/up.sh)', () => {
  const state = mkdtempSync(join(tmpdir(), 'hs-chart-k8s-'));
  const work = mkdtempSync(join(tmpdir(), 'hs-chart-work-'));
  let clusterEnv: NodeJS.ProcessEnv = {};
  let kubeEnv: NodeJS.ProcessEnv = {};
  // When the control plane cannot be had, every test below fails with the reason (none is skipped).
  let clusterError: unknown;
  const kubeconfig = (): string => {
    if (clusterError) throw clusterError;
    return kubeEnv.KUBECONFIG!;
  };
  const kubectl = (...args: string[]) => {
    kubeconfig();
    return run(KUBECTL, args, { env: kubeEnv });
  };
  const APPLY_NS = 'hs-apply';
  const HELM_NS = 'hs-helm';
  const SA = `system:serviceaccount:${APPLY_NS}:hs-hotstepper`;
  const canI = (...args: string[]) => {
    const r = kubectl('auth', 'can-i', `--as=${SA}`, ...args);
    return r.stdout.trim().split('\n')[0];
  };

  before(async () => {
    try {
      const base = await freePortBase();
      clusterEnv = { HOTSTEPPER_K8S_STATE: state, HOTSTEPPER_K8S_PORT_BASE: String(base) };
      const up = run('bash', [join(ROOT, 'dev/k8s/up.sh')], { env: clusterEnv });
      assert.equal(up.status, 0, `dev/k8s/up.sh failed:\n${up.stderr.slice(-4000)}`);
      kubeEnv = { KUBECONFIG: up.stdout.trim().split('\n').pop() };
      ok(kubectl('get', '--raw', '/readyz'), 'the API server is ready');
    } catch (error) {
      clusterError = error;
    }
  });

  after(() => {
    // Stops only the processes whose pid files are in this test's own state dir.
    run('bash', [join(ROOT, 'dev/k8s/down.sh'), '--purge'], { env: clusterEnv });
    rmSync(state, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('accepts the rendered chart with server-side apply (restricted pod security)', () => {
    for (const ns of [APPLY_NS, HELM_NS]) {
      ok(kubectl('create', 'namespace', ns), `create namespace ${ns}`);
      ok(
        kubectl('label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted'),
        'label the namespace restricted'
      );
    }
    writeFileSync(join(work, 'full.yaml'), FULL_VALUES);
    const manifest = ok(
      helm('template', 'hs', CHART, '-n', APPLY_NS, '-f', join(work, 'full.yaml')),
      'template'
    );
    const applied = ok(
      run(KUBECTL, ['apply', '--server-side', '--field-manager=hotstepper-test', '-f', '-'], {
        env: kubeEnv,
        input: manifest
      }),
      'kubectl apply --server-side'
    );
    assert.match(applied, /deployment\.apps\/hs-hotstepper serverside-applied/);

    const name = 'hs-hotstepper';
    for (const [kind, ns] of [
      ['deployment', APPLY_NS],
      ['service', APPLY_NS],
      ['serviceaccount', APPLY_NS],
      ['configmap', APPLY_NS],
      ['secret', APPLY_NS],
      ['poddisruptionbudget', APPLY_NS],
      ['ingress', APPLY_NS],
      ['networkpolicy', APPLY_NS],
      ['role', APPLY_NS],
      ['rolebinding', APPLY_NS],
      ['clusterrole', ''],
      ['clusterrolebinding', ''],
      ['validatingadmissionpolicy', ''],
      ['validatingadmissionpolicybinding', '']
    ]) {
      const n =
        kind === 'role' || kind === 'rolebinding'
          ? `${name}-leader-election`
          : kind.startsWith('validatingadmissionpolicy')
            ? `${name}-tenant-namespaces`
            : name;
      const args = ['get', kind, n, '-o', 'json', ...(ns ? ['-n', ns] : [])];
      const obj = JSON.parse(ok(kubectl(...args), `get ${kind} ${n}`));
      assert.equal(obj.metadata.name, n);
    }
    ok(kubectl('get', 'clusterrole', `${name}-user`), 'the user ClusterRole exists');

    // The ReplicaSet's pods pass PodSecurity "restricted" admission (the image is never pulled).
    let pods = 0;
    for (let i = 0; i < 60 && pods < 3; i++) {
      const out = kubectl(
        'get',
        'pods',
        '-n',
        APPLY_NS,
        '-l',
        'app.kubernetes.io/instance=hs',
        '-o',
        'name'
      );
      pods = out.stdout.trim() ? out.stdout.trim().split('\n').length : 0;
      if (pods < 3) spawnSync('sleep', ['0.25']);
    }
    const events = kubectl(
      'get',
      'events',
      '-n',
      APPLY_NS,
      '--field-selector',
      'reason=FailedCreate'
    ).stdout;
    assert.equal(pods, 3, `3 pods admitted under restricted pod security; events:\n${events}`);
  });

  it('installs with helm install', () => {
    const out = ok(
      helm(
        'install',
        'hotstepper',
        CHART,
        '-n',
        HELM_NS,
        '--kubeconfig',
        kubeconfig(),
        '--set',
        `jupyterhub.apiToken=${SECRET_VALUES.token}`
      ),
      'helm install'
    );
    assert.match(out, /STATUS: deployed/);
    assert.match(out, /url: http:\/\/hotstepper\.hs-helm:8000/, 'NOTES name the service URL');
    // NOTES print the hub roles to load, each exactly as dev/jupyterhub_config.py's.
    const hub = hubRolesOfDevHub();
    const notesScopes = (role: string) => {
      const m = new RegExp(
        `\\n {7}${role}:\\n(?: {9}services: .*\\n)? {9}scopes: (\\[.*\\])\\n`
      ).exec(out);
      assert.ok(m, `NOTES name the scopes of the ${role} role:\n${out}`);
      return parseYaml(m[1]) as string[];
    };
    assert.deepEqual(notesScopes('hotstepper-service'), hub['hotstepper-service']);
    assert.deepEqual(notesScopes('user'), hub.user);
    assert.deepEqual(notesScopes('server'), hub.server);
    assert.doesNotMatch(out, /admissionPolicy\.enabled is off/, 'the admission policy is on');
    assert.match(out, /HOTSTEPPER_URL: http:\/\/hotstepper\.hs-helm:8000/);
    assert.ok(!out.includes(SECRET_VALUES.token), 'NOTES do not print the token');
    for (const kind of ['deployment', 'service', 'configmap', 'secret', 'serviceaccount']) {
      ok(kubectl('get', kind, 'hotstepper', '-n', HELM_NS), `${kind} hotstepper`);
    }
    ok(kubectl('get', 'clusterrolebinding', 'hotstepper'), 'clusterrolebinding hotstepper');
    const status = ok(
      helm('status', 'hotstepper', '-n', HELM_NS, '--kubeconfig', kubeconfig()),
      'status'
    );
    assert.match(status, /STATUS: deployed/);
  });

  it("grants the companion's ServiceAccount what its features need, and no more", () => {
    const answers: [string[], string][] = [
      [['create', 'jobs', '-n', 'somens'], 'yes'],
      [['create', 'secrets', '-n', 'somens'], 'yes'],
      [['patch', 'secrets', '-n', 'somens'], 'no'],
      [['update', 'secrets', '-n', 'somens'], 'no'],
      [['delete', 'secrets', '-n', 'somens'], 'no'],
      [['patch', 'configmaps', '-n', 'somens'], 'no'],
      [['patch', 'namespaces'], 'no'],
      [['create', 'roles', '-n', 'somens'], 'no'],
      [['create', 'rolebindings', '-n', 'somens'], 'yes'],
      [['watch', 'pods', '--all-namespaces'], 'yes'],
      [['list', 'nodes'], 'yes'],
      [['create', 'namespaces'], 'yes'],
      [['bind', 'clusterroles/hs-hotstepper-user'], 'yes'],
      [['get', 'leases/hs-hotstepper-usage-meter', '-n', APPLY_NS], 'yes'],
      [['update', 'leases/hs-hotstepper-idle-guard', '-n', APPLY_NS], 'yes'],
      [['get', 'secrets', '--all-namespaces'], 'no'],
      [['list', 'secrets', '--all-namespaces'], 'no'],
      [['get', 'secrets', '-n', 'somens'], 'no'],
      [['watch', 'secrets', '-n', 'somens'], 'no'],
      [['create', 'clusterrolebindings'], 'no'],
      [['create', 'clusterroles'], 'no'],
      [['bind', 'clusterroles/cluster-admin'], 'no'],
      [['escalate', 'clusterroles'], 'no'],
      [['impersonate', 'users'], 'no'],
      [['create', 'pods', '-n', 'somens'], 'no'],
      [['create', 'pods/exec', '-n', 'somens'], 'no'],
      [['delete', 'namespaces'], 'no'],
      [['create', 'serviceaccounts/token', '-n', 'somens'], 'no'],
      [['get', 'leases/someone-else', '-n', APPLY_NS], 'no'],
      [['create', 'leases', '-n', 'kube-system'], 'no']
    ];
    const wrong = answers
      .map(([args, want]) => [args.join(' '), want, canI(...args)])
      .filter(([, want, got]) => want !== got);
    assert.deepEqual(wrong, [], 'kubectl auth can-i: [question, expected, answer]');
  });

  it('the admission policy keeps the writes to namespaces labelled as Hotstepper', () => {
    ok(kubectl('create', 'namespace', 'tenant-a'), 'create tenant-a');
    ok(
      kubectl('label', 'namespace', 'tenant-a', 'app.kubernetes.io/managed-by=hotstepper'),
      'label'
    );
    ok(kubectl('create', 'namespace', 'other'), 'create other');
    const asCompanion = (...args: string[]) => kubectl(`--as=${SA}`, ...args, '--dry-run=server');
    /** A Job as the companion makes them (no ServiceAccount named, no token), changed by `pod`. */
    const job = (ns: string, pod: Record<string, unknown> = {}) => {
      kubeconfig();
      const body = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'j', namespace: ns },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              containers: [{ name: 'main', image: 'example.invalid/x' }],
              ...pod
            }
          }
        }
      };
      return run(KUBECTL, [`--as=${SA}`, 'create', '--dry-run=server', '-f', '-'], {
        env: kubeEnv,
        input: JSON.stringify(body)
      });
    };

    // A new policy takes effect within a second or two of its creation: wait until it denies.
    for (let i = 0; i < 40 && job('other').status === 0; i++) spawnSync('sleep', ['0.25']);
    const allowed = job('tenant-a');
    assert.equal(allowed.status, 0, `a job in a Hotstepper namespace: ${allowed.stderr}`);
    for (const ns of ['other', 'kube-system']) {
      const denied = job(ns);
      assert.notEqual(denied.status, 0, `a job in ${ns} is denied`);
      assert.match(denied.stderr, /Hotstepper may only change jobs in namespaces labelled/);
    }
    const relabel = asCompanion(
      'label',
      'namespace',
      'kube-system',
      'app.kubernetes.io/managed-by=hotstepper'
    );
    assert.notEqual(relabel.status, 0, 'cannot label kube-system into reach');
    assert.match(relabel.stderr, /cannot patch resource "namespaces"/, 'no patch on namespaces');
    const unlabelled = asCompanion('create', 'namespace', 'tenant-x');
    assert.notEqual(unlabelled.status, 0, 'a new namespace must carry the label');

    // What a Job runs as: the default ServiceAccount, without its token.
    for (const [pod, what] of [
      [{ serviceAccountName: 'default' }, 'default, named'],
      [{ serviceAccountName: 'hs-grader-pull' }, "the grader's, configured"]
    ] as const) {
      const r = job('tenant-a', pod);
      assert.equal(r.status, 0, `a Job as ServiceAccount ${what}: ${r.stderr}`);
    }
    for (const [pod, what] of [
      [{ serviceAccountName: 'hs-hotstepper' }, "the companion's own ServiceAccount"],
      [{ serviceAccount: 'builder' }, 'another ServiceAccount (deprecated field)'],
      [{ automountServiceAccountToken: true }, 'the token mounted'],
      [{ automountServiceAccountToken: undefined }, 'the token mounted by default'],
      [
        {
          volumes: [
            {
              name: 't',
              projected: { sources: [{ serviceAccountToken: { path: 'token' } }] }
            }
          ]
        },
        'a projected token volume'
      ]
    ] as const) {
      const r = job('tenant-a', pod);
      assert.notEqual(r.status, 0, `a Job with ${what} is refused`);
      assert.match(
        r.stderr,
        /Hotstepper may only create jobs that run as ServiceAccount default or hs-grader-pull, with automountServiceAccountToken: false/,
        what
      );
    }
    const binding = asCompanion(
      'create',
      'rolebinding',
      'alice',
      '--clusterrole=hs-hotstepper-user',
      '--user=alice',
      '-n',
      'tenant-a'
    );
    assert.equal(binding.status, 0, `binds the user ClusterRole: ${binding.stderr}`);
    const admin = asCompanion(
      'create',
      'rolebinding',
      'alice',
      '--clusterrole=admin',
      '--user=alice',
      '-n',
      'tenant-a'
    );
    assert.notEqual(admin.status, 0, 'cannot bind admin');
    assert.match(admin.stderr, /attempting to grant RBAC permissions not currently held/);
    // Its own ClusterRole it holds, so RBAC would let it bind that: the policy does not.
    const own = asCompanion(
      'create',
      'rolebinding',
      'alice',
      '--clusterrole=hs-hotstepper',
      '--user=alice',
      '-n',
      'tenant-a'
    );
    assert.notEqual(own.status, 0, "cannot bind the companion's own ClusterRole");
    assert.match(own.stderr, /Hotstepper may only bind the ClusterRole hs-hotstepper-user/);
  });
});
