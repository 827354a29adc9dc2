// Spawn time on the real node: hub login (the Sign in click) to JupyterLab's restored layout (the splash
// gone, as the browser tests wait for it), for a server started by KubeSpawner as a pod from the spawn
// page's Start (warm image: the first spawn pulls it and is not counted) against the same Lab started
// as a local process (the baseline platform's hub gets ./local-spawner.py, which has no spawn page),
// each platform started by this script on ports of its own; p50 of BENCH_RUNS (5). The pod's figure
// is also given from the Start click, without the spawn page a person reads. Then a job's submit to
// its first log line: a Kubernetes Job in a container on the real node against the local executor's
// process (a Unix account of alice's own), on the same two platforms.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../chromium.ts';

const root = new URL('../..', import.meta.url).pathname;
const runs = Number(process.env.BENCH_RUNS ?? 5);

const platform = (name, offset) => ({
  name,
  env: {
    ...process.env,
    HOTSTEPPER_STATE: join(root, '.state', `bench-spawn-${name}`),
    HOTSTEPPER_HUB_PORT: String(31000 + offset),
    HOTSTEPPER_HUB_API_PORT: String(31081 + offset),
    HOTSTEPPER_PROXY_API_PORT: String(31001 + offset),
    HOTSTEPPER_PORT: String(31100 + offset),
    HOTSTEPPER_FLARE_PORT: String(31180 + offset),
    HOTSTEPPER_PROMETHEUS_PORT: String(31090 + offset),
    HOTSTEPPER_USAGE_EXPORTER_PORT: String(31091 + offset),
    HOTSTEPPER_LLM_PORT: String(31300 + offset),
    HOTSTEPPER_K8S_PORT_BASE: String(24000 + offset * 2),
    HOTSTEPPER_LOG_LEVEL: 'warn'
  }
});
const pods = platform('pods', 0);
const local = platform('local', 500);
local.env.HOTSTEPPER_HUB_EXTRA_CONFIG = join(root, 'ui-tests', 'bench', 'local-spawner.py');
// The local executor runs alice's jobs as a Unix account of her own (it refuses otherwise), as the
// server tests do: hst-alice, made once per machine, with the papermill every account can run.
local.env.HOTSTEPPER_JOBS_EXECUTOR = 'local';
local.env.HOTSTEPPER_JOBS_ACCOUNT = 'hst-{username}';
local.env.HOTSTEPPER_JOBS_PAPERMILL = `${execFileSync('bash', [join(root, 'dev', 'accounts', 'env.sh')], { encoding: 'utf8' }).trim()}/bin/papermill`;
try {
  execFileSync('getent', ['passwd', 'hst-alice'], { stdio: 'ignore' });
} catch {
  execFileSync('useradd', [
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    'hst-alice'
  ]);
}

const sh = (p, script, ...args) =>
  execFileSync('bash', [join(root, 'dev', script), ...args], { env: p.env, stdio: 'ignore' });
const hub = p => `http://127.0.0.1:${p.env.HOTSTEPPER_HUB_PORT}`;
const devToken = p => readFileSync(join(p.env.HOTSTEPPER_STATE, 'dev-hub-token'), 'utf8').trim();
const password = p =>
  JSON.parse(readFileSync(join(p.env.HOTSTEPPER_STATE, 'users.json'), 'utf8')).alice.password;

async function hubApi(p, method, path) {
  return fetch(`${hub(p)}/hub/api${path}`, {
    method,
    headers: { authorization: `token ${devToken(p)}` }
  });
}

/** Stops alice's server and waits (at most 120 s) until the hub says it is gone. */
async function stopServer(p) {
  await hubApi(p, 'DELETE', '/users/alice/server');
  for (let i = 0; i < 480; i++) {
    const user = await (await hubApi(p, 'GET', '/users/alice')).json();
    if (!user.servers?.['']) return;
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`${p.name}: alice's server did not stop`);
}

/**
 * One spawn as a person does it: the login form, Sign in, Start on the spawn page where there is one,
 * then Lab until restored. Returns the time from Sign in, and from Start (or Sign in, without a page).
 */
async function spawnOnce(browser, p) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${hub(p)}/hub/login`);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(password(p));
  const t0 = Date.now();
  let started = t0;
  await page.getByRole('button', { name: 'Sign in' }).click();
  const form = page.locator('#spawn_form');
  await Promise.race([
    form.waitFor({ timeout: 240_000 }),
    page.waitForURL('**/user/alice/**', { timeout: 240_000 })
  ]);
  if (await form.isVisible()) {
    const start = form.getByRole('button', { name: 'Start' });
    // enabled once the page has the companion's options and its check of the defaults
    for (let i = 0; i < 300 && !(await start.isEnabled()); i++) await page.waitForTimeout(100);
    started = Date.now();
    await start.click();
  }
  await page.waitForURL('**/user/alice/lab**', { timeout: 240_000 });
  // The hub's Lab does not expose the app object: its splash going away is Lab's restored layout.
  await page.locator('.jp-LabShell').waitFor({ timeout: 120_000 });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached', timeout: 120_000 });
  const end = Date.now();
  await context.close();
  await stopServer(p);
  return { fromSignIn: end - t0, fromStart: end - started };
}

/** Submit a command job as alice and time it until its first log line arrives (SSE). */
async function firstLogLine(p) {
  const token = (
    await (
      await fetch(`${hub(p)}/hub/api/users/alice/tokens`, {
        method: 'POST',
        headers: { authorization: `token ${devToken(p)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ note: 'bench', expires_in: 600 })
      })
    ).json()
  ).token;
  const companion = `http://127.0.0.1:${p.env.HOTSTEPPER_PORT}`;
  const auth = { authorization: `token ${token}`, 'content-type': 'application/json' };
  const t0 = Date.now();
  const res = await fetch(`${companion}/api/v1/jobs`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ command: ['echo first line'], shell: true, memoryMiB: 128, cpu: 0.2 })
  });
  const job = await res.json();
  if (res.status !== 201)
    throw new Error(`${p.name}: submit answered ${res.status}: ${job.detail}`);
  const log = await fetch(`${companion}/api/v1/jobs/${job.id}/logs`, { headers: auth });
  const reader = log.body.getReader();
  let text = '';
  const deadline = Date.now() + 120_000;
  while (!/event: line[\s\S]*first line/.test(text)) {
    if (Date.now() > deadline) throw new Error(`${p.name}: no log line within 120 s`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`${p.name}: the log ended without a line: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const ms = Date.now() - t0;
  await reader.cancel();
  return ms;
}

const p50 = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  for (const p of [pods, local]) {
    sh(p, 'stop.sh');
    sh(p, 'start.sh', '--detach');
  }
  const browser = await chromium.launch(chromiumLaunchOptions);
  const times = { pods: [], podsFromStart: [], local: [] };
  // The first spawn on each pulls the image into containerd / warms Python's caches: not counted.
  for (const p of [pods, local]) await spawnOnce(browser, p);
  for (let i = 0; i < runs; i++) {
    const pod = await spawnOnce(browser, pods);
    times.pods.push(pod.fromSignIn);
    times.podsFromStart.push(pod.fromStart);
    times.local.push((await spawnOnce(browser, local)).fromSignIn);
  }
  await browser.close();
  console.log(`\nSpawn: hub Sign in to JupyterLab restored, splash gone (p50 of ${runs}, ms)`);
  const row = (server, xs) => ({ server, p50: p50(xs), runs: xs.join(' ') });
  console.table([
    row('pod on the real node (KubeSpawner), from Sign in', times.pods),
    row("  the same, from the spawn page's Start", times.podsFromStart),
    row('local process (baseline), from Sign in', times.local)
  ]);
  console.log(`ratio pod/local: ${(p50(times.pods) / p50(times.local)).toFixed(2)}x`);
  console.log(
    `ratio pod from Start/local: ${(p50(times.podsFromStart) / p50(times.local)).toFixed(2)}x`
  );

  // Jobs: a Job's container on the real node needs alice's notebook pod for its defaults.
  await hubApi(pods, 'POST', '/users/alice/server');
  for (let i = 0; i < 480; i++) {
    const user = await (await hubApi(pods, 'GET', '/users/alice')).json();
    if (user.servers?.['']?.ready) break;
    await new Promise(r => setTimeout(r, 250));
  }
  const jobs = { pods: [], local: [] };
  for (let i = 0; i < runs; i++) {
    jobs.pods.push(await firstLogLine(pods));
    jobs.local.push(await firstLogLine(local));
  }
  console.log(`\nJob: submit to its first log line (p50 of ${runs}, ms)`);
  console.table([
    { executor: 'Kubernetes Job on the real node', p50: p50(jobs.pods), runs: jobs.pods.join(' ') },
    { executor: 'local process (baseline)', p50: p50(jobs.local), runs: jobs.local.join(' ') }
  ]);
  console.log(`ratio Kubernetes/local: ${(p50(jobs.pods) / p50(jobs.local)).toFixed(2)}x`);
} finally {
  for (const p of [pods, local]) sh(p, 'stop.sh');
}
