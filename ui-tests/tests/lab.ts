/** Steps every browser test takes as a person would: log in to the hub, wait for JupyterLab. */
import { expect, type Page } from '@playwright/test';
import { testUsers } from '../platform';

export async function logInToLab(page: Page, name: string): Promise<void> {
  const user = testUsers()[name];
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The hub spawns the server and then redirects into JupyterLab.
  await page.waitForURL(`**/user/${name}/lab**`, { timeout: 60_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });
}

export async function openStatusPanel(page: Page): Promise<void> {
  // Lab restores the sidebar as it was left; clicking an open panel's tab would close it.
  if (!(await page.locator('#hotstepper-status').isVisible())) {
    await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hotstepper-status"]').click();
  }
  await expect(page.locator('#hotstepper-status')).toBeVisible();
}

export async function runCommandFromPalette(page: Page, label: string): Promise<void> {
  const input = page.locator('.lm-CommandPalette-input');
  // Lab ignores shortcuts for a moment after it is restored: press until the palette opens.
  await expect(async () => {
    await page.locator('#jp-main-dock-panel').click({ position: { x: 200, y: 200 } });
    await page.keyboard.press('Control+Shift+C');
    await expect(input).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await input.fill(label);
  await page.locator('.lm-CommandPalette-item', { hasText: label }).first().click();
}
