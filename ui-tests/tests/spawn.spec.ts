/**
 * The spawn page (issue #15, item 2): bob, with no server running, logs in and the hub shows
 * Hotstepper's server options. He finds his own image among My images, tries two presets, finds
 * the catalogue's image by typing part of its name, asks for 0.5 CPU, 1.5 GiB and a MIG slice,
 * keeps his home and starts; Lab opens, and the pod has exactly those requests and limits. The
 * page remembers them for next time, and a link fills the form in; then he starts again with a
 * fresh home. Screenshots in light and dark.
 */
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, env, putInHome, state, testUsers } from '../platform';
import { reportPageErrors, showFiles } from './lab';

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(artefacts, name), fullPage: true });
const hubApi = `http://127.0.0.1:${env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const USER = 'bob';

test.describe.configure({ timeout: 420_000 });

/** Stops the user's server through the hub's API (the platform's dev token), until it is gone. */
async function stopServer(user: string): Promise<void> {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const headers = { Authorization: `token ${dev}` };
  await fetch(`${hubApi}/users/${user}/server`, { method: 'DELETE', headers });
  await expect
    .poll(
      async () => {
        const model = (await (await fetch(`${hubApi}/users/${user}`, { headers })).json()) as {
          servers?: Record<string, unknown>;
          pending?: string | null;
        };
        return !model.servers?.[''] && !model.pending;
      },
      { timeout: 120_000 }
    )
    .toBe(true);
}

/** A Kubernetes quantity as a number (cores, bytes, count). */
function quantity(value: string | number | undefined): number {
  const text = String(value ?? '');
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  if (!m) return NaN;
  const units: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3
  };
  return Number(m[1]) * (units[m[2]] ?? NaN);
}

/**
 * Copies an image within the platform's registry (both references on the same host) as a push
 * would: its blobs mounted from the source repository, then its manifest under the new name.
 */
async function copyImage(from: string, to: string): Promise<void> {
  const parse = (ref: string) => {
    const slash = ref.indexOf('/');
    const colon = ref.lastIndexOf(':');
    return {
      host: ref.slice(0, slash),
      repo: ref.slice(slash + 1, colon),
      tag: ref.slice(colon + 1)
    };
  };
  const a = parse(from);
  const b = parse(to);
  const types =
    'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const got = await fetch(`http://${a.host}/v2/${a.repo}/manifests/${a.tag}`, {
    headers: { accept: types }
  });
  expect(got.status).toBe(200);
  const body = await got.text();
  const manifest = JSON.parse(body) as { config: { digest: string }; layers: { digest: string }[] };
  for (const { digest } of [manifest.config, ...manifest.layers]) {
    const mount = await fetch(
      `http://${b.host}/v2/${b.repo}/blobs/uploads/?mount=${digest}&from=${a.repo}`,
      { method: 'POST' }
    );
    expect(mount.status).toBe(201);
  }
  const put = await fetch(`http://${b.host}/v2/${b.repo}/manifests/${b.tag}`, {
    method: 'PUT',
    headers: { 'content-type': got.headers.get('content-type') ?? types.split(',')[0] },
    body
  });
  expect(put.status).toBe(201);
}

async function podOf(user: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(join(state, 'k8s', 'kubeconfig'));
  return kc
    .makeApiClient(CoreV1Api)
    .readNamespacedPod({ name: `jupyter-${user}`, namespace: `hs-${user}` });
}

test('bob chooses image, CPU, memory and a MIG slice on the spawn page; his pod has them', async ({
  page
}) => {
  await stopServer(USER);
  reportPageErrors(page, USER);
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(testUsers()[USER].password);
  await page.getByRole('button', { name: 'Sign in' }).click();

  // No server: the hub asks for its options, from the companion (no "unavailable" notice).
  await page.waitForURL(/\/hub\/spawn(\/bob)?\/?(\?.*)?$/, { timeout: 60_000 });
  const form = page.locator('#hotstepper-spawn');
  await expect(form.getByRole('group', { name: 'Server options' })).toBeVisible();
  await expect(form.getByText("Hotstepper's options are unavailable")).toHaveCount(0);
  await expect(form.getByText('your default server')).toBeVisible();
  const start = page.locator('#spawn_form').getByRole('button', { name: 'Start' });

  // bob's own image (as the image builder will push it: the registry, under his namespace) shows
  // as My images once the companion has read the registry again (every 30 s here).
  const notebook = JSON.parse((await page.locator('#hotstepper-spawn-data').textContent()) ?? '{}')
    .options.images[0];
  const own = `${notebook.name.split('/')[0]}/hotstepper/users/hs-${USER}/notebook`;
  await copyImage(`${notebook.name}:${notebook.tags[0].tag}`, `${own}:mine`);
  const mine = form.getByRole('group', { name: 'My images' });
  await expect(async () => {
    await page.reload();
    await expect(mine).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 90_000, intervals: [5000] });
  await expect(mine.getByRole('radio', { name: own, exact: true })).toBeVisible();
  await expect(mine.getByLabel(`Tag of ${own}`)).toHaveValue('mine');
  await shot(page, 'spawn-page-my-images.png');

  // Presets: one click fills the form; another leaves nothing of the first behind.
  const presets = form.getByRole('group', { name: 'Presets' });
  const gpuSlice = presets.getByRole('button', { name: /^GPU slice/ });
  await gpuSlice.click();
  await expect(gpuSlice).toHaveAttribute('aria-pressed', 'true');
  await expect(form.getByLabel('CPU', { exact: true })).toHaveValue('2');
  await expect(form.getByLabel('Memory', { exact: true })).toHaveValue('4');
  await expect(form.getByRole('radio', { name: /MIG slice 1g\.10gb/ })).toBeChecked();
  const light = presets.getByRole('button', { name: /^Light/ });
  await light.click();
  await expect(light).toHaveAttribute('aria-pressed', 'true');
  await expect(gpuSlice).toHaveAttribute('aria-pressed', 'false');
  await expect(form.getByLabel('CPU', { exact: true })).toHaveValue('0.5');
  await expect(form.getByRole('radio', { name: 'No GPU' })).toBeChecked();

  // The catalogue's first image, found by typing part of its name.
  const data = JSON.parse((await page.locator('#hotstepper-spawn-data').textContent()) ?? '{}');
  const image: string = data.options.images[0].name;
  const part = image.split('/').pop()!.slice(0, 4);
  const search = form.getByLabel('Search images');
  await search.fill(part);
  await expect(form.getByText(/\d+ of \d+ images? match/)).toBeVisible();
  const radio = form.getByRole('radio', { name: image, exact: true });
  await expect(radio).toBeVisible();
  await radio.check();
  // Tags newest first; the newest is chosen.
  const tag = form.getByLabel(`Tag of ${image}`);
  await expect(tag).toHaveValue(data.options.images[0].tags[0].tag);

  // CPU and memory, with the unit and limits beside them; a bad step is caught before Start.
  const cpu = form.getByLabel('CPU', { exact: true });
  await cpu.fill('0.7');
  await expect(form.locator('#hs-spawn-cpu-error')).toContainText('steps of');
  await expect(cpu).toHaveAttribute('aria-invalid', 'true');
  await expect(start).toBeDisabled();
  await cpu.fill('0.5');
  await expect(form.locator('#hs-spawn-cpu-error')).toBeHidden();
  await form.getByLabel('Memory', { exact: true }).fill('1.5');
  // His own choices now: no preset is on.
  await expect(light).toHaveAttribute('aria-pressed', 'false');
  await expect(form.getByText('cores', { exact: true })).toBeVisible();
  await expect(form.getByText('GiB', { exact: true })).toBeVisible();

  // A MIG slice, with how many are free now (the local platform's are simulated).
  const slice = form.getByRole('radio', { name: /MIG slice 1g\.10gb/ });
  await slice.check();
  await expect(form.locator('label', { hasText: /MIG slice 1g\.10gb/ })).toBeVisible();
  // ... and what bob's namespace quota leaves of it
  await expect(form.getByText(/^\d+ free now · your quota has \d+ left$/).first()).toBeVisible();
  // "(simulated)" once per line, in the choice's label
  const line = form.locator('.hs-Spawn-choice', { hasText: /MIG slice 1g\.10gb/ }).first();
  await expect(line).toContainText('(simulated)');
  expect((await line.innerText()).match(/simulated/gi)).toHaveLength(1);
  await expect(form.locator('#hs-spawn-cost')).toContainText(
    /Estimated cost: \d+\.\d\d CZK per hour/
  );

  // A fresh home asks for bob's name typed before Start is possible; he keeps his home.
  await form.getByRole('radio', { name: /fresh home/ }).check();
  const confirm = form.getByLabel('Type "bob" to confirm deleting your home');
  await expect(confirm).toBeVisible();
  await expect(start).toBeDisabled();
  await confirm.fill('bo');
  await expect(start).toBeDisabled();
  await form.getByRole('radio', { name: 'Keep my home' }).check();
  await expect(confirm).toBeHidden();
  await expect(start).toBeEnabled();

  // The permalink holds the choices.
  const link = form.getByLabel('Link to these options');
  await expect(link).toHaveValue(/#image=[^&]+&cpu=0\.5&memory=1\.5&gpu=mig%3A1g\.10gb/);
  const permalink = await link.inputValue();

  await shot(page, 'spawn-page-light.png');
  await page.evaluate(() => document.documentElement.setAttribute('data-bs-theme', 'dark'));
  await shot(page, 'spawn-page-dark.png');
  await page.evaluate(() => document.documentElement.setAttribute('data-bs-theme', 'light'));

  // Start, by keyboard as well as by mouse: focus it and press Enter.
  await start.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/user/${USER}/lab**`, { timeout: 240_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 120_000 });

  // What an operator would check: the pod's requests and limits are what bob chose.
  const pod = await podOf(USER);
  const container =
    pod.spec?.containers.find(c => c.name === 'notebook') ?? pod.spec?.containers[0];
  const { requests = {}, limits = {} } = container?.resources ?? {};
  expect(container?.image).toBe(`${image}:${data.options.images[0].tags[0].tag}`);
  // The choices are the limits; the requests stay the operator's guarantees (dev/jupyterhub_config.py:
  // 0.1 CPU, "256M", which KubeSpawner reads as 256 MiB), below them.
  expect(quantity(limits.cpu)).toBeCloseTo(0.5);
  expect(quantity(requests.cpu)).toBeCloseTo(0.1);
  expect(quantity(requests.memory)).toBe(256 * 1024 ** 2);
  expect(quantity(limits.memory)).toBe(1.5 * 1024 ** 3);
  expect(quantity(limits['nvidia.com/mig-1g.10gb'])).toBe(1);

  // Next time, the page offers the same options again.
  await stopServer(USER);
  await page.goto(`/hub/spawn/${USER}`);
  await expect(form.getByText('Your last options for this server')).toBeVisible();
  await expect(form.getByLabel('CPU', { exact: true })).toHaveValue('0.5');
  await expect(form.getByRole('radio', { name: /MIG slice 1g\.10gb/ })).toBeChecked();

  // A link fills the form in (and wins over the last options): here the plain defaults.
  const plain = new URL(permalink);
  plain.hash = plain.hash
    .replace('cpu=0.5', `cpu=${data.options.cpu.default}`)
    .replace('memory=1.5', `memory=${data.options.memory.default}`)
    .replace(/gpu=[^&]*/, 'gpu=none');
  await page.goto(plain.toString());
  await page.reload(); // a fragment alone does not load the page again
  await expect(form.getByText('Filled in from a link.')).toBeVisible();
  await expect(form.getByLabel('CPU', { exact: true })).toHaveValue(
    String(data.options.cpu.default)
  );
  await expect(form.getByRole('radio', { name: 'No GPU' })).toBeChecked();
  await shot(page, 'spawn-page-link.png');

  // bob starts again with the defaults and a fresh home: typing his name confirms deleting it.
  const marker = putInHome(USER, `old-work-${Date.now().toString(36)}.txt`, 'from before\n');
  await form.getByRole('radio', { name: /fresh home/ }).check();
  await expect(start).toBeDisabled();
  await form.getByLabel(`Type "${USER}" to confirm deleting your home`).fill(USER);
  await expect(start).toBeEnabled();
  await start.click();
  await page.waitForURL(`**/user/${USER}/lab**`, { timeout: 240_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 120_000 });
  // The home is a new claim: what was in the old one is gone, on the node and in Lab.
  expect(existsSync(marker)).toBe(false);
  await showFiles(page);
  await expect(page.locator('#filebrowser .jp-DirListing-content')).not.toContainText('old-work-');
  const fresh = await podOf(USER);
  expect(
    fresh.spec?.volumes?.some(v => v.persistentVolumeClaim?.claimName === `claim-${USER}`)
  ).toBe(true);
});
