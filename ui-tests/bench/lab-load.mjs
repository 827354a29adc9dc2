// JupyterLab load time (navigation to app.restored) with and without the Hotstepper extensions, measured
// in the same run with fresh browser contexts, alternating the two servers; plus the bundles' sizes.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../chromium.ts';

const root = new URL('../..', import.meta.url).pathname;
const runs = Number(process.env.BENCH_RUNS ?? 7);

function startLab(port, withHotstepper) {
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
  const config = join(dir, 'config');
  mkdirSync(join(config, 'labconfig'), { recursive: true });
  if (!withHotstepper) {
    writeFileSync(
      join(config, 'labconfig', 'page_config.json'),
      JSON.stringify({ disabledExtensions: { '@hotstepper/status': true } })
    );
    writeFileSync(
      join(config, 'jupyter_server_config.json'),
      JSON.stringify({ ServerApp: { jpserver_extensions: { hotstepper: false } } })
    );
  }
  const lab = spawn(
    'jupyter',
    [
      'lab',
      '--no-browser',
      '--allow-root',
      `--port=${port}`,
      '--ServerApp.ip=127.0.0.1',
      '--IdentityProvider.token=bench',
      '--LabApp.expose_app_in_browser=True',
      `--ServerApp.root_dir=${dir}`
    ],
    { env: { ...process.env, JUPYTER_CONFIG_DIR: config }, stdio: 'ignore', detached: true }
  );
  return { lab, url: `http://127.0.0.1:${port}/lab?token=bench` };
}

async function waitUp(url) {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`JupyterLab did not start at ${url}`);
}

async function loadOnce(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  // Lab exposes the app once its plugins are registered, after the page's load event.
  await page.waitForFunction(() => window.jupyterapp !== undefined, null, { timeout: 60_000 });
  const ms = await page.evaluate(async () => {
    await window.jupyterapp.restored;
    return performance.now();
  });
  const loaded = await page.evaluate(() =>
    window.jupyterapp.hasPlugin('@hotstepper/status:plugin')
  );
  await context.close();
  return { ms, loaded };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function bundleSizes() {
  const out = [];
  for (const name of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', name, 'labextension', 'static');
    let files;
    try {
      files = readdirSync(dir).filter(f => f.endsWith('.js'));
    } catch {
      continue;
    }
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    out.push({
      extension: `@hotstepper/${name}`,
      files: files.length,
      kB: +(bytes / 1024).toFixed(1)
    });
  }
  return out;
}

const withHs = startLab(18890, true);
const without = startLab(18891, false);
try {
  await Promise.all([waitUp(withHs.url), waitUp(without.url)]);
  const browser = await chromium.launch(chromiumLaunchOptions);
  const times = { with: [], without: [] };
  await loadOnce(browser, withHs.url); // first loads warm the servers' caches for both
  await loadOnce(browser, without.url);
  for (let i = 0; i < runs; i++) {
    const a = await loadOnce(browser, withHs.url);
    const b = await loadOnce(browser, without.url);
    if (!a.loaded || b.loaded) throw new Error('the with/without set-up did not take effect');
    times.with.push(a.ms);
    times.without.push(b.ms);
  }
  await browser.close();
  const w = median(times.with),
    wo = median(times.without);
  console.log(`\nJupyterLab load to app.restored (median of ${runs}, fresh context each, ms)`);
  console.table([
    { lab: 'with Hotstepper', median: Math.round(w), min: Math.round(Math.min(...times.with)) },
    { lab: 'without', median: Math.round(wo), min: Math.round(Math.min(...times.without)) }
  ]);
  console.log(`ratio with/without: ${(w / wo).toFixed(2)}x`);
  console.log('\nprebuilt extension bundles (JavaScript, production build)');
  console.table(bundleSizes());
} finally {
  for (const s of [withHs, without]) {
    try {
      process.kill(-s.lab.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}
