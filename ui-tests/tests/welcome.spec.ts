/**
 * Welcome back in the real platform: a student runs a notebook in a real kernel (one cell fails),
 * closes it, is "away" a week (the journal is backdated in the companion's database), reopens it
 * and sees the overlay with the digest, the summary and links to the cells. And a new notebook,
 * run as Untitled.ipynb and then renamed, keeps its history under the new name.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, putInHome, root, state } from '../platform';
import {
  closeTab,
  logInToLab,
  openFromFileBrowser,
  runCommandFromPalette,
  showHomeFolder
} from './lab';

const NOTEBOOK = {
  cells: [
    { cell_type: 'markdown', id: 'title', metadata: {}, source: ['# Rainfall\n', '## Loading'] },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'load',
      metadata: {},
      outputs: [],
      source: ['rain = [3, 0, 7, 1]']
    },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'total',
      metadata: {},
      outputs: [],
      source: ['total = sum(rain)\n', 'print(total)']
    },
    { cell_type: 'markdown', id: 'stats', metadata: {}, source: ['## Statistics'] },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'ratio',
      metadata: {},
      outputs: [],
      source: ['dry_days = 0\n', 'ratio = total / dry_days']
    },
    {
      cell_type: 'code',
      execution_count: null,
      id: 'plot',
      metadata: {},
      outputs: [],
      source: ['print("never run")']
    }
  ],
  metadata: {
    kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
    language_info: { name: 'python' }
  },
  nbformat: 4,
  nbformat_minor: 5
};

const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });

/**
 * Moves a user's journal of one notebook back by `days` (0: just counts it); what it moved. A
 * notebook the companion has nothing of answers { runs: 0, visits: 0 } (the helper exits 3).
 */
function backdate(days: number, path = 'rain.ipynb', user = 'alice'): string {
  const args = [
    join(root, 'dev', 'welcome', 'backdate.mjs'),
    '--db',
    join(state, 'hotstepper.sqlite'),
    '--user',
    user,
    '--path',
    path,
    '--days',
    String(days)
  ];
  try {
    return execFileSync('node', args).toString();
  } catch (error) {
    if ((error as { status?: number }).status === 3) return JSON.stringify({ runs: 0, visits: 0 });
    throw error;
  }
}

test('reopening a notebook after a week shows what I did, where I stopped and what failed', async ({
  page
}) => {
  // A real kernel and two platform round trips on a shared 2-core machine.
  test.setTimeout(300_000);
  putInHome('alice', 'rain.ipynb', JSON.stringify(NOTEBOOK));
  await logInToLab(page, 'alice');

  // Run it in a real kernel: Run All stops at the failing cell, so the last cell is never run.
  await openFromFileBrowser(page, 'rain.ipynb');
  const notebook = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
  await expect(notebook.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toBeVisible(
    { timeout: 60_000 }
  );
  await runCommandFromPalette(page, 'Run All Cells');
  await expect(
    notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
  ).toContainText('ZeroDivisionError', { timeout: 60_000 });
  // A notebook seen for the first time shows no overlay.
  await expect(page.locator('.jp-Welcome-overlay')).toHaveCount(0);
  await runCommandFromPalette(page, 'Save Notebook');
  // The journal reaches the companion within a few seconds; then close the notebook.
  await expect(async () => {
    expect(JSON.parse(backdate(0)).runs).toBe(3);
  }).toPass({ timeout: 30_000 });
  // Other specs may leave alice's other notebooks open; only this one is closed.
  await closeTab(page, 'rain.ipynb');
  await page.waitForTimeout(1000);

  // A week away.
  expect(JSON.parse(backdate(7))).toEqual({ runs: 3, visits: 1 });

  await openFromFileBrowser(page, 'rain.ipynb');
  const overlay = page.locator('.jp-Welcome-overlay');
  await expect(overlay).toBeVisible({ timeout: 30_000 });
  await expect(overlay.locator('.jp-Welcome-title')).toHaveText(
    'Welcome back — you last worked here 7 days ago'
  );
  // The digest: the failing cell with its error and last frame, the runs, the outline.
  await expect(overlay.locator('.jp-Welcome-failing')).toContainText(
    'ZeroDivisionError: division by zero'
  );
  await expect(overlay.locator('.jp-Welcome-frame')).toContainText('ratio = total / dry_days');
  await expect(overlay.locator('.jp-Welcome-runs li')).toHaveCount(3);
  await expect(overlay).toContainText('One code cell has never been run');
  await expect(overlay.locator('.jp-Welcome-outline li')).toHaveCount(3);
  // The summary, from the scripted server (and labelled as such).
  await expect(overlay.locator('.jp-Welcome-headline')).toHaveText(
    'Back to rain.ipynb: 3 recent runs, one cell still failing',
    { timeout: 30_000 }
  );
  await expect(overlay.locator('.jp-Welcome-source')).toContainText(
    'scripted test server, not a language model'
  );
  await shot(page, 'welcome-overlay-light.png');

  // A cell link scrolls to the cell and selects it.
  await overlay.locator('.jp-Welcome-failing .jp-Welcome-cell').click();
  await expect(notebook.locator('.jp-Cell.jp-mod-active .jp-InputArea-editor')).toContainText(
    'ratio = total / dry_days'
  );
  await overlay.locator('.jp-Welcome-outline .jp-Welcome-cell', { hasText: 'Statistics' }).click();
  await expect(notebook.locator('.jp-Cell.jp-mod-active')).toContainText('Statistics');

  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await shot(page, 'welcome-overlay-dark.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');

  // "Don't show for this notebook" holds after a reopen; the palette command still shows it.
  await overlay.getByRole('button', { name: "Don't show for this notebook" }).click();
  await expect(overlay).toHaveCount(0);
  await closeTab(page, 'rain.ipynb');
  backdate(7);
  await openFromFileBrowser(page, 'rain.ipynb');
  await expect(notebook.locator('.jp-Cell').first()).toBeVisible();
  await page.waitForTimeout(3000);
  await expect(page.locator('.jp-Welcome-overlay')).toHaveCount(0);
  await runCommandFromPalette(page, 'Summarise this notebook');
  await expect(page.locator('.jp-Welcome-overlay .jp-Welcome-headline')).toContainText(
    'Back to rain.ipynb'
  );
});

test('a prompt-injected summary is shown as text, never run as HTML', async ({ page }) => {
  const injected = {
    ...NOTEBOOK,
    cells: [
      {
        cell_type: 'code',
        // Never run: so its source is in the digest that goes to the LLM.
        execution_count: null,
        id: 'evil',
        metadata: {},
        outputs: [],
        // The scripted server answers this request with HTML and instructions in the summary.
        source: ['print("hi")  # [[scripted:injection]]']
      }
    ]
  };
  putInHome('bob', 'inject.ipynb', JSON.stringify(injected));
  const dialogs: string[] = [];
  page.on('dialog', dialog => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await logInToLab(page, 'bob');
  await openFromFileBrowser(page, 'inject.ipynb');
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').first()).toBeVisible({ timeout: 60_000 });
  // On demand: the palette command shows the overlay even without history.
  await runCommandFromPalette(page, 'Summarise this notebook');
  const overlay = page.locator('.jp-Welcome-overlay');
  await expect(overlay.locator('.jp-Welcome-headline')).toContainText('<img src=x onerror=');
  await expect(overlay).toContainText('<script>fetch("/evil")</script>');
  await expect(overlay.locator('img, script')).toHaveCount(0);
  expect(dialogs).toEqual([]);
  await shot(page, 'welcome-injection.png');
});

test('a new notebook run as Untitled and then renamed keeps its history under the new name', async ({
  page
}) => {
  // A real kernel and several platform round trips on a shared 2-core machine.
  test.setTimeout(300_000);
  // A name of its own each run: the companion's journal outlives a run of the specs.
  const renamed = `rainfall-${Date.now().toString(36)}.ipynb`;
  await logInToLab(page, 'alice');

  // A new notebook from the launcher, in her home folder: Lab names it Untitled.ipynb
  // (Untitled1.ipynb, ... when that is taken).
  await showHomeFolder(page);
  await runCommandFromPalette(page, 'New Launcher');
  await page.locator('.jp-LauncherCard[data-category="Notebook"]:visible').first().click();
  const current = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  const untitledTab = current.filter({ hasText: /^Untitled\d*\.ipynb$/ });
  await expect(untitledTab).toHaveCount(1, { timeout: 60_000 });
  const untitled = (await untitledTab.innerText()).trim();
  const notebook = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
  await expect(notebook.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toBeVisible(
    { timeout: 60_000 }
  );

  // Type and run two cells, as a person does: Shift+Enter runs one and makes the next.
  await notebook.locator('.jp-Cell .jp-InputArea-editor').first().click();
  await page.keyboard.type('rain = [3, 0, 7, 1]');
  await page.keyboard.press('Shift+Enter');
  await notebook.locator('.jp-Cell').nth(1).locator('.jp-InputArea-editor').click();
  await page.keyboard.type('print(sum(rain))');
  await page.keyboard.press('Shift+Enter');
  await expect(notebook.locator('.jp-OutputArea-output').first()).toContainText('11', {
    timeout: 60_000
  });
  // The journal has the runs under the Untitled name.
  let runs = 0;
  await expect(async () => {
    runs = JSON.parse(backdate(0, untitled)).runs;
    expect(runs).toBeGreaterThanOrEqual(2);
  }).toPass({ timeout: 30_000 });

  // File > Rename Notebook…: the history follows the notebook to its new name.
  await page.getByRole('menuitem', { name: 'File' }).click();
  await page.getByRole('menuitem', { name: /Rename Notebook/ }).click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill(renamed);
  await dialog.getByRole('button', { name: 'Rename' }).click();
  await expect(current.filter({ hasText: renamed })).toHaveCount(1, { timeout: 30_000 });
  await expect(async () => {
    expect(JSON.parse(backdate(0, renamed)).runs).toBe(runs);
    expect(JSON.parse(backdate(0, untitled))).toEqual({ runs: 0, visits: 0 });
  }).toPass({ timeout: 30_000 });
  await runCommandFromPalette(page, 'Save Notebook');
  await closeTab(page, renamed);
  await page.waitForTimeout(1000);

  // A week away, then back from the file browser: the overlay knows what was done as Untitled.
  expect(JSON.parse(backdate(7, renamed))).toEqual({ runs, visits: 1 });
  await openFromFileBrowser(page, renamed);
  const overlay = page.locator('.jp-Welcome-overlay');
  await expect(overlay).toBeVisible({ timeout: 30_000 });
  await expect(overlay.locator('.jp-Welcome-title')).toHaveText(
    'Welcome back — you last worked here 7 days ago'
  );
  await expect(overlay.locator('.jp-Welcome-runs li')).toHaveCount(Math.min(runs, 5));
  await expect(overlay.locator('.jp-Welcome-headline')).toContainText(`Back to ${renamed}: `, {
    timeout: 30_000
  });
  await shot(page, 'welcome-renamed-light.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await shot(page, 'welcome-renamed-dark.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');
});
