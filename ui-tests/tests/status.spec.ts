import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { artefacts, env, root } from '../platform';
import { logInToLab, openStatusPanel, runCommandFromPalette } from './lab';

const panel = '#hotstepper-status';

test('a student sees who they are and what the platform has connected', async ({ page }) => {
  await logInToLab(page, 'alice');
  // A new user finds it in the left sidebar.
  await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hotstepper-status"]').click();
  const status = page.locator(panel);
  await expect(status.locator('.jp-HotstepperStatus-userName')).toHaveText('alice');
  await expect(status).toContainText('students');
  await expect(status).not.toContainText('operator');
  await expect(
    status.locator('.jp-HotstepperStatus-connection[data-name="jupyterhub"]')
  ).toHaveAttribute('data-state', 'connected');
  await expect(
    status.locator('.jp-HotstepperStatus-connection[data-name="database"]')
  ).toHaveAttribute('data-state', 'connected');
  // The local platform runs a real control plane, a real Prometheus and the scripted LLM server.
  for (const name of ['kubernetes', 'prometheus', 'llm']) {
    await expect(
      status.locator(`.jp-HotstepperStatus-connection[data-name="${name}"]`)
    ).toHaveAttribute('data-state', 'connected');
  }
  await page.screenshot({ path: join(artefacts, 'status-panel-light.png') });
});

test('an operator opens the panel from the command palette, in the dark theme', async ({
  page
}) => {
  await logInToLab(page, 'ops');
  await openStatusPanel(page);
  const status = page.locator(panel);
  await expect(status.locator('.jp-HotstepperStatus-userName')).toHaveText('ops');
  await expect(status).toContainText('operator');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  // Lab shows its splash while it swaps the theme's styles.
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await page.screenshot({ path: join(artefacts, 'status-panel-dark.png') });
});

test('preferences are saved for the user and survive a reload', async ({ page }) => {
  await logInToLab(page, 'bob');
  await openStatusPanel(page);
  const welcome = page.locator(panel).getByRole('checkbox', { name: /welcome/i });
  await expect(welcome).toBeChecked();
  await welcome.uncheck();
  await expect(page.locator(`${panel} .jp-HotstepperStatus-save`)).toHaveAttribute(
    'data-state',
    'saved'
  );
  await page.reload();
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });
  await openStatusPanel(page);
  await expect(page.locator(panel).getByRole('checkbox', { name: /welcome/i })).not.toBeChecked();
});

test('when the companion is down the panel says so, and Retry recovers', async ({ page }) => {
  await logInToLab(page, 'alice');
  await openStatusPanel(page);
  const status = page.locator(panel);
  await expect(status.locator('.jp-HotstepperStatus-userName')).toHaveText('alice');

  const shell = { env: { ...process.env, ...env } };
  execFileSync('bash', [join(root, 'dev/start.sh'), '--stop-companion'], shell);
  try {
    await status.getByRole('button', { name: 'Refresh' }).click();
    await expect(status.locator('.jp-HotstepperStatus-error')).toContainText(
      /not reachable|unreachable/i
    );
    await page.screenshot({ path: join(artefacts, 'status-panel-companion-down.png') });
  } finally {
    execFileSync('bash', [join(root, 'dev/start.sh'), '--restart-companion'], shell);
  }
  await status.getByRole('button', { name: 'Retry' }).click();
  await expect(status.locator('.jp-HotstepperStatus-error')).toHaveCount(0);
  await expect(status.locator('.jp-HotstepperStatus-userName')).toHaveText('alice');
});
