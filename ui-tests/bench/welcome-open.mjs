// Welcome back in the browser: time from opening a notebook (double-click in the file browser) to
// the digest on screen and to the summary on screen, against the time to the notebook's own first
// cell on screen (the baseline), in the same run. The journal is written through the companion's
// API and backdated a week before each open. Expects the platform started by dev/bench.sh.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../chromium.ts';
import { putInHome } from '../platform.ts';

const root = new URL('../..', import.meta.url).pathname;
const state = process.env.HOTSTEPPER_STATE;
const hub = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_PORT}`;
const companion = `http://127.0.0.1:${process.env.HOTSTEPPER_PORT}`;
const runs = Number(process.env.BENCH_RUNS ?? 5);
const CELLS = Number(process.env.BENCH_CELLS ?? 300);
const USER = 'alice';
const PATH = 'welcome-bench.ipynb';

async function userToken(name) {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hub}/hub/api/users/${name}/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: 'welcome bench', expires_in: 900 })
  });
  if (!res.ok) throw new Error(`could not mint a token for ${name}: ${res.status}`);
  return (await res.json()).token;
}

const cells = Array.from({ length: CELLS }, (_, i) =>
  i % 10 === 0
    ? { cell_type: 'markdown', id: `m${i}`, metadata: {}, source: `## Part ${i / 10}` }
    : {
        cell_type: 'code',
        id: `c${i}`,
        metadata: {},
        execution_count: i,
        outputs: [],
        source: `x_${i} = ${i} * 2\nprint(x_${i})`
      }
);
// In alice's home: her pod's claim, as its user (jovyan) would have saved it.
putInHome(
  USER,
  PATH,
  JSON.stringify({
    cells,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 5
  })
);
const token = await userToken(USER);
const events = cells
  .filter(c => c.cell_type === 'code')
  .slice(-100)
  .map((c, i) => ({
    path: PATH,
    cellId: c.id,
    startedAt: new Date(Date.now() - (100 - i) * 60_000).toISOString(),
    durationMs: 30,
    status: 'ok'
  }));
const posted = await fetch(`${companion}/api/v1/welcome/journal`, {
  method: 'POST',
  headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ events })
});
if (!posted.ok) throw new Error(`journal: ${posted.status} ${await posted.text()}`);

const backdate = () =>
  execFileSync('node', [
    join(root, 'dev/welcome/backdate.mjs'),
    '--db',
    join(state, 'hotstepper.sqlite'),
    '--user',
    USER,
    '--path',
    PATH,
    '--days',
    '7'
  ]);

const browser = await chromium.launch(chromiumLaunchOptions);
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const users = JSON.parse(readFileSync(join(state, 'users.json'), 'utf8'));
await page.goto(`${hub}/hub/login`);
await page.getByLabel('Username').fill(USER);
await page.getByLabel('Password').fill(users[USER].password);
await page.getByRole('button', { name: 'Sign in' }).click();
// The spawn page where the server is not running yet (its first start pulls the image: 180 s).
const form = page.locator('#spawn_form');
await Promise.race([
  form.waitFor({ timeout: 180_000 }),
  page.waitForURL(`**/user/${USER}/lab**`, { timeout: 180_000 })
]);
if (await form.isVisible()) {
  const start = form.getByRole('button', { name: 'Start' });
  for (let i = 0; i < 300 && !(await start.isEnabled()); i++) await page.waitForTimeout(100);
  await start.click();
}
await page.waitForURL(`**/user/${USER}/lab**`, { timeout: 180_000 });
// A clean workspace: no notebook restored from an earlier run.
await page.goto(`${hub}/user/${USER}/lab?reset`);
await page.locator('#jupyterlab-splash').waitFor({ state: 'detached', timeout: 90_000 });

const times = { notebook: [], digest: [], summary: [] };
for (let i = 0; i <= runs; i++) {
  backdate();
  const item = page.locator('.jp-DirListing-item', { hasText: PATH });
  await item.waitFor();
  const t0 = performance.now();
  await item.dblclick();
  const panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
  await panel.locator('.jp-Cell').first().waitFor({ timeout: 60_000 });
  const t1 = performance.now();
  await panel.locator('.jp-Welcome-digest').waitFor({ timeout: 60_000 });
  const t2 = performance.now();
  await panel
    .locator('.jp-Welcome-headline, .jp-Welcome-note')
    .first()
    .waitFor({ timeout: 60_000 });
  const t3 = performance.now();
  // The first open warms Lab's caches and the kernel spec: not counted.
  if (i > 0) {
    times.notebook.push(t1 - t0);
    times.digest.push(t2 - t0);
    times.summary.push(t3 - t0);
  }
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon')
    .click();
  // Lab may ask about unsaved changes (opening can touch the metadata): nothing of ours to keep.
  const discard = page.locator('.jp-Dialog').getByRole('button', { name: /Discard|Don.t save/ });
  if (
    await discard.waitFor({ timeout: 1500 }).then(
      () => true,
      () => false
    )
  )
    await discard.click();
  await page.locator('.jp-NotebookPanel').waitFor({ state: 'detached', timeout: 30_000 });
  await page.waitForTimeout(500);
}
await browser.close();

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nb = median(times.notebook);
console.log(
  `\nwelcome overlay, ${CELLS}-cell notebook, opened after a week (median of ${runs}, ms from double-click)`
);
console.table([
  { what: 'notebook first cell on screen (baseline)', median: Math.round(nb) },
  { what: 'welcome digest on screen', median: Math.round(median(times.digest)) },
  { what: 'welcome summary on screen (scripted LLM)', median: Math.round(median(times.summary)) }
]);
console.log(
  `ratio digest vs notebook: ${(median(times.digest) / nb).toFixed(2)}x, summary vs notebook: ${(median(times.summary) / nb).toFixed(2)}x`
);
