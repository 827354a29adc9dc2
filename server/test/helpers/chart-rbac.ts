/**
 * The companion's identity in a test cluster exactly as the Helm chart makes it with its default
 * values: the chart's ServiceAccount, ClusterRoles, bindings and admission policy (on by default;
 * installing fails if the defaults lose it), rendered by the real helm
 * (dev/k8s/build.sh) and created with the admin credentials; then a kubeconfig holding a token of
 * that ServiceAccount, so the companion has the chart's rights and nothing more.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { scratchDir } from './build.js';
import type { ITestCluster } from './cluster.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface IChartIdentity {
  /** A kubeconfig for the chart's ServiceAccount. */
  kubeconfig: string;
  /** system:serviceaccount:<namespace>:<name> */
  username: string;
  /** The user ClusterRole the chart creates, which the companion binds in each namespace. */
  userClusterRole: string;
}

/** Install the chart's RBAC as release `hotstepper` in namespace `hub`. */
export async function installChartRbac(cluster: ITestCluster): Promise<IChartIdentity> {
  const { stdout: bin } = await run('bash', [join(ROOT, 'dev/k8s/build.sh')], {
    maxBuffer: 16 << 20
  });
  const helm = join(bin.trim().split('\n').pop() as string, 'helm');
  const { stdout: manifest } = await run(helm, [
    'template',
    'hotstepper',
    join(ROOT, 'deploy/chart/hotstepper'),
    '-n',
    'hub',
    // the chart's defaults: the admission policy is on unless an operator turns it off
    '--show-only',
    'templates/serviceaccount.yaml',
    '--show-only',
    'templates/rbac.yaml',
    '--show-only',
    'templates/admissionpolicy.yaml'
  ]);
  const objects = parseAllDocuments(manifest)
    .map(d => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null);

  const core = cluster.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'hub' } } });
  const api = KubernetesObjectApi.makeApiClient(cluster.kc);
  for (const object of objects) await api.create(object);

  const { status } = await core.createNamespacedServiceAccountToken({
    name: 'hotstepper',
    namespace: 'hub',
    body: { spec: { audiences: [], expirationSeconds: 3600 } }
  });
  const current = cluster.kc.getCurrentCluster();
  const kubeconfig = join(scratchDir(), 'companion.kubeconfig');
  writeFileSync(
    kubeconfig,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: { server: current?.server, 'certificate-authority-data': current?.caData }
        }
      ],
      users: [{ name: 'hotstepper', user: { token: status?.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'hotstepper' } }],
      'current-context': 'test'
    })
  );
  return {
    kubeconfig,
    username: 'system:serviceaccount:hub:hotstepper',
    userClusterRole: 'hotstepper-user'
  };
}
