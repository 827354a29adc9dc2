/**
 * Users' servers as pods: a second local platform, side by side with the one the other specs use, on
 * ports, a state directory, a real node, a bridge and a subnet of its own. alice logs in, the hub spawns her server with KubeSpawner as a pod
 * in her namespace on the real node, JupyterLab opens, and the Hotstepper panel works from inside the
 * pod (the companion reached through the node's bridge).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, root } from '../platform';
import { openStatusPanel, runCommandFromPalette, showFiles, startFromSpawnPage } from './lab';

const state = join(root, '.state', 'ui-tests-pods');
const env = {
  HOTSTEPPER_STATE: state,
  HOTSTEPPER_HUB_PORT: '28000',
  HOTSTEPPER_HUB_API_PORT: '28081',
  HOTSTEPPER_PROXY_API_PORT: '28001',
  HOTSTEPPER_PORT: '29100',
  HOTSTEPPER_K8S_PORT_BASE: '26000',
  HOTSTEPPER_FLARE_PORT: '29180',
  HOTSTEPPER_PROMETHEUS_PORT: '29090',
  HOTSTEPPER_USAGE_EXPORTER_PORT: '29091',
  HOTSTEPPER_LLM_PORT: '29300'
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

/** Logs in through the hub's page; the hub starts the pod (progress page) and opens Lab. */
async function logIn(page: Page, name: string): Promise<void> {
  const users = JSON.parse(readFileSync(join(state, 'users.json'), 'utf8'));
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(users[name].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Without a server the hub shows its spawn page: start with what it offers.
  await page.waitForURL(url => !url.pathname.endsWith('/hub/login'), { timeout: 60_000 });
  if (await page.locator('#spawn_form').isVisible()) await startFromSpawnPage(page);
  await page.waitForURL(`**/user/${name}/lab**`, { timeout: 240_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 120_000 });
}

test("alice's server starts as a pod on the real node and the Hotstepper panel works from it", async ({
  page
}) => {
  await logIn(page, 'alice');

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

/** A notebook with a papermill parameters cell. */
const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      execution_count: null,
      id: 'params',
      metadata: { tags: ['parameters'] },
      outputs: [],
      source: ['greeting = "hello"\n', 'count = 1']
    },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'work',
      metadata: {},
      outputs: [],
      source: [
        'import socket, time\n',
        'for i in range(count):\n',
        '    print(f"{greeting} #{i} on {socket.gethostname()}", flush=True)\n',
        '    time.sleep(2)'
      ]
    }
  ],
  metadata: {
    kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
    language_info: { name: 'python' }
  },
  nbformat: 4,
  nbformat_minor: 5
};

test("a notebook in alice's persistent home runs as a Kubernetes Job beside her server, its log from the container", async ({
  page
}) => {
  await logIn(page, 'alice');
  // Her home is a claim from the real node's provisioner, shared with her jobs.
  const claim = JSON.parse(kubectl('get', 'pvc', '-n', 'hs-alice', 'claim-alice', '-o', 'json'));
  expect(claim.status.phase).toBe('Bound');
  expect(claim.spec.storageClassName).toBe('local-path');
  execFileSync(
    'kubectl',
    [
      '--kubeconfig',
      join(state, 'k8s', 'kubeconfig'),
      'exec',
      '-i',
      '-n',
      'hs-alice',
      'jupyter-alice',
      '--',
      'sh',
      '-c',
      'cat > /home/jovyan/podjob.ipynb'
    ],
    { input: JSON.stringify(NOTEBOOK) }
  );
  await showFiles(page);
  await page.locator('.jp-FileBrowser [data-command="filebrowser:refresh"]').first().click();
  const item = page.locator('.jp-DirListing-item', { hasText: 'podjob.ipynb' });
  await item.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Run as Job' }).click();
  const form = page.locator('.jp-HotstepperJobs-form').last();
  await expect(form.locator('input[name="path"]')).toHaveValue('podjob.ipynb');
  await form
    .locator('textarea[name="parameters"]')
    .fill('{"greeting": "hi from a pod", "count": 3}');
  // Defaults come from her running notebook pod.
  await expect(form.locator('.jp-HotstepperJobs-headroom')).toContainText('jupyter-alice');
  await form.getByRole('button', { name: 'Submit job' }).click();

  const detail = page.locator('#hotstepper-jobs .jp-HotstepperJobs-detail');
  const badge = detail.locator('.jp-HotstepperJobs-title .jp-HotstepperJobs-state');
  await expect(detail.locator('.jp-HotstepperJobs-log')).toContainText('hi from a pod #0 on job-', {
    timeout: 120_000
  });
  await page.screenshot({ path: join(artefacts, 'pods-job-running.png') });
  await expect(badge).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  await expect(detail.locator('.jp-HotstepperJobs-log')).toContainText('hi from a pod #2');
  // The executed notebook lands next to the source in her home, where Lab shows it.
  const output = (await detail.locator('.jp-HotstepperJobs-output').textContent()) ?? '';
  expect(output).toMatch(/^podjob-\d{8}-\d{6}\.ipynb$/);
  await showFiles(page);
  await page.locator('.jp-FileBrowser [data-command="filebrowser:refresh"]').first().click();
  await expect(page.locator('.jp-DirListing-item', { hasText: output })).toBeVisible();
  await page.screenshot({ path: join(artefacts, 'pods-job-succeeded.png') });
  const pods = JSON.parse(
    kubectl('get', 'pods', '-n', 'hs-alice', '-l', 'hotstepper.io/job', '-o', 'json')
  );
  expect(pods.items.map((p: { spec: { nodeName: string } }) => p.spec.nodeName)).toEqual([
    'real-1'
  ]);
});
