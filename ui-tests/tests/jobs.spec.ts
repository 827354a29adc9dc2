import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, homeOf, putInHome } from '../platform';
import { closeTab, logInToLab, runCommandFromPalette, showFiles } from './lab';

/** A notebook with a papermill parameters cell that takes `delay` seconds, so Running is seen. */
const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      execution_count: null,
      id: 'params',
      metadata: { tags: ['parameters'] },
      outputs: [],
      source: ['greeting = "hello"\n', 'count = 1\n', 'delay = 0']
    },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'work',
      metadata: {},
      outputs: [],
      source: [
        'import time\n',
        'for i in range(count):\n',
        '    print(f"{greeting} #{i}", flush=True)\n',
        '    time.sleep(delay / count)'
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

const panel = '#hotstepper-jobs';
const currentTabClose = '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon';

const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });

test('run a notebook as a job: form, live log, notification, executed notebook', async ({
  page
}) => {
  const home = homeOf('alice');
  putInHome('alice', 'jobdemo.ipynb', JSON.stringify(NOTEBOOK));
  await logInToLab(page, 'alice');

  // "Run as Job" from the file browser's context menu.
  const item = page.locator('.jp-DirListing-item', { hasText: 'jobdemo.ipynb' });
  await item.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Run as Job' }).click();
  const form = page.locator('.jp-HotstepperJobs-form');
  await expect(form.locator('input[name="path"]')).toHaveValue('jobdemo.ipynb');
  await form
    .locator('textarea[name="parameters"]')
    .fill('{"greeting": "hi from the job", "count": 4, "delay": 6}');
  // The companion checks the proposed job before it is submitted: defaults and headroom.
  // alice's namespace quota, less what her running server requests (0.1 CPU, 256 MiB), in her units.
  const quota = form.locator('.jp-HotstepperJobs-quota');
  await expect(quota.locator('tr[data-resource="requests.cpu"]')).toContainText(
    '0.1 used + 1 of 8 CPU'
  );
  await expect(quota.locator('tr[data-resource="requests.memory"]')).toContainText(
    '0.25 used + 2 of 32 GiB'
  );
  await expect(form.locator('.jp-HotstepperJobs-headroom')).toContainText('Defaults from');
  await expect(form.locator('input[name="cpu"]')).toHaveAttribute('placeholder', '1');
  await shot(page, 'jobs-form.png');

  // A bad value is named next to its field, before submitting.
  await form.locator('input[name="cpu"]').fill('500');
  await expect(form.locator('[data-field="cpu"] .jp-HotstepperJobs-fieldError')).toContainText(
    'at most 16'
  );
  await expect(form.getByRole('button', { name: 'Submit job' })).toBeDisabled();
  await shot(page, 'jobs-form-error.png');
  await form.locator('input[name="cpu"]').fill('');
  // A limit is given in the field's unit (GiB), not the companion's MiB (default limit 65536 MiB).
  await form.locator('input[name="memory"]').fill('100');
  await expect(form.locator('[data-field="memory"] .jp-HotstepperJobs-fieldError')).toHaveText(
    'must be at most 64 GiB'
  );
  await expect(form.getByRole('button', { name: 'Submit job' })).toBeDisabled();
  await form.locator('input[name="memory"]').fill('');

  await expect(form.getByRole('button', { name: 'Submit job' })).toBeEnabled();
  await form.getByRole('button', { name: 'Submit job' }).click();

  const detail = page.locator(`${panel} .jp-HotstepperJobs-detail`);
  await expect(detail).toBeVisible();
  const badge = detail.locator('.jp-HotstepperJobs-title .jp-HotstepperJobs-state');
  await expect(badge).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  // Lines arrive while it runs.
  await expect(detail.locator('.jp-HotstepperJobs-log')).toContainText('hi from the job #0', {
    timeout: 30_000
  });
  await expect(badge).toHaveAttribute('data-state', 'running');
  await shot(page, 'jobs-running.png');

  // The same live log in the main area, in a tab named after the job, while the job runs.
  await detail.getByRole('button', { name: 'Open log' }).click();
  const logTab = page.locator('#jp-main-dock-panel .lm-TabBar-tab', {
    hasText: 'Log: jobdemo.ipynb'
  });
  await expect(logTab).toHaveCount(1);
  const logView = page.locator('#jp-main-dock-panel .jp-HotstepperJobs-logView:visible');
  const logLines = logView.locator('.jp-HotstepperJobs-logView-lines');
  const logCount = logView.locator('.jp-HotstepperJobs-logView-count');
  await expect(logLines).toContainText('hi from the job #0', { timeout: 30_000 });
  // Opening the same job's log again shows the tab it has, not a second one.
  await detail.getByRole('button', { name: 'Open log' }).click();
  await expect(logTab).toHaveCount(1);
  // It keeps streaming, and stays when the job ends, with how it ended.
  await expect(logLines).toContainText('hi from the job #3', { timeout: 60_000 });
  const logStatus = logView.locator('.jp-HotstepperJobs-logView-status');
  await expect(logStatus).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(logStatus).toContainText('The job ended: succeeded');
  await expect(logLines).not.toContainText('▍');
  // papermill's own lines are there, among them its cell markers.
  await expect(logLines).toContainText('Input Notebook:');
  await expect(logLines).toContainText('Executing notebook with kernel: python3');
  await expect(logLines).toContainText(/Executing Cell \d+-+/);
  await expect(logCount).toHaveText(/^showing (\d+) of \1 lines$/);
  await shot(page, 'jobs-log-main.png');
  // "Hide noise": no cell markers or blank lines; what papermill says about the run and the
  // notebook's output stay.
  await logView.getByLabel('Hide noise').check();
  await expect(logLines).not.toContainText('Executing Cell');
  await expect(logLines).not.toContainText('Ending Cell');
  await expect(logLines).toContainText('Executing notebook with kernel: python3');
  await expect(logLines).toContainText('hi from the job #3');
  const total = Number(/of (\d+) lines/.exec((await logCount.textContent()) ?? '')?.[1]);
  const hidden = await logCount.textContent();
  expect(Number(/showing (\d+)/.exec(hidden ?? '')?.[1])).toBeLessThan(total);
  // A filter, ignoring case, on top of it.
  await logView.getByLabel('Filter lines').fill('HI FROM THE JOB');
  await expect(logLines).toHaveText(
    ['#0', '#1', '#2', '#3'].map(n => `hi from the job ${n}`).join('\n')
  );
  await expect(logCount).toHaveText(`showing 4 of ${total} lines`);
  await logView.getByLabel('Filter lines').fill('job #2');
  await expect(logLines).toHaveText('hi from the job #2');
  await expect(logCount).toHaveText(`showing 1 of ${total} lines`);
  await shot(page, 'jobs-log-filtered.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await shot(page, 'jobs-log-filtered-dark.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');
  // Both off: every line again.
  await logView.getByLabel('Filter lines').fill('');
  await logView.getByLabel('Hide noise').uncheck();
  await expect(logLines).toContainText('Executing Cell');
  await expect(logCount).toHaveText(`showing ${total} of ${total} lines`);
  // Closed again, so that Lab does not restore it into the next test.
  await closeTab(page, 'Log: jobdemo.ipynb');

  await expect(badge).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(detail.locator('.jp-HotstepperJobs-log')).toContainText('hi from the job #3');
  await expect(detail).toContainText('CPU-h');

  // The notification, and the executed notebook next to the source.
  await expect(page.locator('.Toastify__toast', { hasText: 'jobdemo.ipynb' })).toContainText(
    'succeeded',
    { timeout: 20_000 }
  );
  const executed = readdirSync(home).find(f => /^jobdemo-\d{8}-\d{6}\.ipynb$/.test(f));
  expect(executed).toBeTruthy();
  await expect(detail.locator('.jp-HotstepperJobs-output')).toHaveText(executed as string);
  // The output's name opens the executed notebook in a Lab tab.
  await detail.locator('.jp-HotstepperJobs-output').getByRole('button').click();
  await expect(
    page.locator('#jp-main-dock-panel .lm-TabBar-tab', { hasText: executed as string })
  ).toBeVisible();
  await expect(page.locator('.jp-NotebookPanel:visible')).toHaveCount(1);
  // Closed again: a restored second notebook would give the next test two notebook toolbars. Lab
  // may count the executed copy as changed (it adds what nbformat 4.5 wants): nothing to keep.
  await page.locator(currentTabClose).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Discard' })
    .click({ timeout: 3_000 })
    .catch(() => undefined);
  await expect(
    page.locator('#jp-main-dock-panel .lm-TabBar-tab', { hasText: executed as string })
  ).toHaveCount(0);
  await showFiles(page);
  await page.locator('.jp-FileBrowser [data-command="filebrowser:refresh"]').first().click();
  await expect(page.locator('.jp-DirListing-item', { hasText: executed as string })).toBeVisible();
  await shot(page, 'jobs-succeeded.png');
});

test('the notebook toolbar runs it as a job; a command job is cancelled', async ({ page }) => {
  await logInToLab(page, 'alice');
  // Lab restores the Jobs panel where the last test left it; the files are one tab away.
  await showFiles(page);
  await page.locator('.jp-DirListing-item', { hasText: 'jobdemo.ipynb' }).first().dblclick();
  // Run as Job is in the command palette, for the notebook in the current tab (the palette only
  // makes an enabled entry the active one, which runCommandFromPalette waits for).
  await runCommandFromPalette(page, 'Run as Job');
  const fromPalette = page.locator('.jp-HotstepperJobs-form input[name="path"]');
  await expect(fromPalette).toHaveValue('jobdemo.ipynb');
  await page.locator(currentTabClose).click();
  await expect(fromPalette).toHaveCount(0);
  // The visible notebook's toolbar: Lab may have restored other notebooks in hidden tabs.
  const button = page.locator(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar [data-jp-item-name="run-as-job"]'
  );
  await button.locator('button, jp-button').first().click();
  await expect(page.locator('.jp-HotstepperJobs-form input[name="path"]')).toHaveValue(
    'jobdemo.ipynb'
  );

  // Open the Jobs panel; a new command job that would run for long.
  await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hotstepper-jobs"]').click();
  const jobs = page.locator(panel);
  await jobs.getByRole('button', { name: 'New job…' }).click();
  const form = page.locator('.jp-HotstepperJobs-form').last();
  await form.getByLabel('Command').check();
  await form.locator('input[name="command"]').fill('sleep 600');
  await form.locator('input[name="name"]').fill('long-sleep');
  await expect(form.getByRole('button', { name: 'Submit job' })).toBeEnabled();
  await form.getByRole('button', { name: 'Submit job' }).click();
  const detail = jobs.locator('.jp-HotstepperJobs-detail');
  const badge = detail.locator('.jp-HotstepperJobs-title .jp-HotstepperJobs-state');
  await expect(badge).toHaveAttribute('data-state', 'running');
  await detail.getByRole('button', { name: 'Cancel' }).click();
  await expect(badge).toHaveAttribute('data-state', 'cancelled');
  await detail.getByRole('button', { name: '‹ All jobs' }).click();
  await expect(jobs.locator('.jp-HotstepperJobs-item').first()).toContainText('long-sleep');
  await shot(page, 'jobs-list.png');
});

test('a command job runs in a container beside my pod, with the quota shown first', async ({
  page
}) => {
  await logInToLab(page, 'bob');
  await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hotstepper-jobs"]').click();
  await page.locator(panel).getByRole('button', { name: 'New job…' }).click();
  const form = page.locator('.jp-HotstepperJobs-form').last();
  await form.getByLabel('Command').check();
  // Unnamed, a command job is named after its script, not the interpreter...
  const name = form.locator('input[name="name"]');
  await form.locator('input[name="command"]').fill('python3 train.py --epochs 3');
  await expect(name).toHaveAttribute('placeholder', 'train.py');
  await form
    .locator('input[name="command"]')
    .fill('python3 -c "import os; print(\'epoch 3 of 3 as uid\', os.getuid())"');
  // ...and after its program when no argument is a file.
  await expect(name).toHaveAttribute('placeholder', 'python3');
  await form.locator('input[name="cpu"]').fill('1');
  // The headroom of bob's namespace quota, before submitting.
  const cpu = form.locator('.jp-HotstepperJobs-quota tr[data-resource="requests.cpu"]');
  await expect(cpu).toContainText('0.1 used + 1 of 8 CPU');
  await expect(form.locator('select[name="gpu"] option', { hasText: 'NVIDIA-A100' })).toHaveCount(
    1
  );
  await shot(page, 'jobs-form-kubernetes.png');
  // More GPUs than the quota holds: refused before submitting.
  await form.locator('select[name="gpu"]').selectOption('model:NVIDIA-A100-SXM4-80GB');
  await form.locator('input[name="gpuCount"]').fill('2');
  await expect(form.locator('tr[data-resource="requests.nvidia.com/gpu"]')).toHaveClass(
    /jp-mod-over/
  );
  await expect(form.getByRole('button', { name: 'Submit job' })).toBeDisabled();
  await expect(form).toContainText('This would exceed your quota.');
  await shot(page, 'jobs-form-over-quota.png');
  await form.locator('select[name="gpu"]').selectOption('');

  await form.getByRole('button', { name: 'Submit job' }).click();
  const detail = page.locator(`${panel} .jp-HotstepperJobs-detail`);
  const badge = detail.locator('.jp-HotstepperJobs-title .jp-HotstepperJobs-state');
  const seen: string[] = [];
  for (let i = 0; i < 600; i++) {
    const state = await badge.getAttribute('data-state').catch(() => null);
    if (state && seen.at(-1) !== state) seen.push(state);
    if (state === 'succeeded' || state === 'failed') break;
    await page.waitForTimeout(100);
  }
  expect(seen.filter(s => s !== 'pending')).toEqual(['running', 'succeeded']);
  await expect(detail).toContainText('hs-bob/job-');
  await expect(detail.locator('.jp-HotstepperJobs-title')).toContainText('python3');
  // The log is the container's own output: the job ran as bob's server user, not as the companion.
  await expect(detail.locator('.jp-HotstepperJobs-log')).toContainText('epoch 3 of 3 as uid 1000');
  // The stream has ended with the job: no cursor waits for more.
  await expect(detail.locator('.jp-HotstepperJobs-log')).not.toContainText('▍');
  await expect(page.locator('.Toastify__toast', { hasText: 'python' })).toContainText('succeeded', {
    timeout: 20_000
  });
  await shot(page, 'jobs-kubernetes-succeeded.png');
});
