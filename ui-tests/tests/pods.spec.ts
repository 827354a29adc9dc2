/**
 * Users' servers as pods: a second local platform, side by side with the one the other specs use, on
 * ports, a state directory, a real node, a bridge and a subnet of its own, with
 * HOTSTEPPER_SPAWNER=kubernetes. alice logs in, the hub spawns her server with KubeSpawner as a pod
 * in her namespace on the real node, JupyterLab opens, and the Hotstepper panel works from inside the
 * pod (the companion reached through the node's bridge).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { artefacts, root } from '../platform';
import { openStatusPanel, runCommandFromPalette } from './lab';

const state = join(root, '.state', 'ui-tests-pods');
const env = {
  HOTSTEPPER_STATE: state,
  HOTSTEPPER_SPAWNER: 'kubernetes',
  HOTSTEPPER_REAL_NODE: 'on',
  HOTSTEPPER_HUB_PORT: '28000',
  HOTSTEPPER_HUB_API_PORT: '28081',
  HOTSTEPPER_PROXY_API_PORT: '28001',
  HOTSTEPPER_PORT: '29100',
  HOTSTEPPER_K8S_PORT_BASE: '26000',
  HOTSTEPPER_FLARE_PORT: '29180',
  HOTSTEPPER_PROMETHEUS_PORT: '29090',
  HOTSTEPPER_USAGE_EXPORTER_PORT: '29091',
  HOTSTEPPER_LLM_PORT: '29300',
  HOTSTEPPER_LOCAL_EXPORTER_PORT: '29092'
};
const platform = { env: { ...process.env, ...env }, stdio: 'inherit' as const };
const kubectl = (...args: string[]) =>
  execFileSync('kubectl', ['--kubeconfig', join(state, 'k8s', 'kubeconfig'), ...args], {
    encoding: 'utf8'
  });

test.use({ baseURL: `http://127.0.0.1:${env.HOTSTEPPER_HUB_PORT}` });
test.describe.configure({ timeout: 420_000 });

test.beforeAll(async () => {
  test.setTimeout(600_000);
  execFileSync('bash', [join(root, 'dev/stop.sh')], { ...platform, stdio: 'ignore' });
  rmSync(state, { recursive: true, force: true });
  execFileSync('bash', [join(root, 'dev/start.sh'), '--detach'], platform);
});
test.afterAll(() => {
  execFileSync('bash', [join(root, 'dev/stop.sh')], platform);
});

test("alice's server starts as a pod on the real node and the Hotstepper panel works from it", async ({
  page
}) => {
  const users = JSON.parse(readFileSync(join(state, 'users.json'), 'utf8'));
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(users.alice.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The hub's progress page while the pod starts, then JupyterLab.
  await page.waitForURL('**/user/alice/lab**', { timeout: 240_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 120_000 });

  // What an operator would check: the pod in alice's namespace, on the real node, not root.
  const pod = JSON.parse(kubectl('get', 'pod', '-n', 'hs-alice', 'jupyter-alice', '-o', 'json'));
  expect(pod.status.phase).toBe('Running');
  expect(pod.spec.nodeName).toBe('real-1');
  expect(pod.spec.containers[0].securityContext.runAsUser).toBe(1000);
  expect(pod.spec.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
  expect(pod.spec.containers[0].resources.limits.memory).toBeTruthy();

  await openStatusPanel(page);
  const status = page.locator('#hotstepper-status');
  await expect(status.locator('.jp-HotstepperStatus-userName')).toHaveText('alice');
  for (const name of ['jupyterhub', 'database', 'kubernetes']) {
    await expect(
      status.locator(`.jp-HotstepperStatus-connection[data-name="${name}"]`)
    ).toHaveAttribute('data-state', 'connected');
  }
  await page.screenshot({ path: join(artefacts, 'pods-status-light.png') });
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await page.screenshot({ path: join(artefacts, 'pods-status-dark.png') });
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');

  // The apiserver reaches the real kubelet: exec (as logs and port-forward) works.
  const hostname = kubectl('exec', '-n', 'hs-alice', 'jupyter-alice', '--', 'hostname').trim();
  expect(hostname).toBe('jupyter-alice');
});
