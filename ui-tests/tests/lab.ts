/** Steps every browser test takes as a person would: log in to the hub, wait for JupyterLab. */
import { expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, state, testUsers } from '../platform';

const hubApi = `http://127.0.0.1:${env.HOTSTEPPER_HUB_API_PORT}/hub/api`;

const watched = new WeakSet<Page>();

/**
 * Every uncaught error in a page, with its stack, in the run's output: one seen once in the Jobs
 * flow ("Cannot read properties of null (reading 'observe')") could not be traced from a message.
 */
export function reportPageErrors(page: Page, who: string): void {
  if (watched.has(page)) return;
  watched.add(page);
  page.on('pageerror', error => {
    console.log(`[pageerror] ${who} at ${page.url()}: ${error.stack ?? error.message}`);
  });
}

/** On the hub's spawn page (Hotstepper's server options): Start with what it offers. */
export async function startFromSpawnPage(page: Page): Promise<void> {
  const start = page.locator('#spawn_form').getByRole('button', { name: 'Start' });
  await expect(start).toBeEnabled({ timeout: 30_000 });
  await start.click();
}

/**
 * Opens the hub's spawn page and starts the server from it; the hub may instead still be stopping
 * it ("Launch Server") or have it running already (straight into Lab).
 */
export async function spawnFromHub(page: Page, name: string): Promise<void> {
  await expect(async () => {
    await page.goto('/hub/spawn');
    const launch = page.getByRole('button', { name: 'Launch Server' });
    if (await launch.isVisible()) await launch.click();
    if (await page.locator('#spawn_form').isVisible()) await startFromSpawnPage(page);
    await page.waitForURL(`**/user/${name}/lab**`, { timeout: 15_000 });
  }).toPass({ timeout: 120_000 });
}

/** Logs in to the hub only (its pages), without starting a server. */
export async function logInToHub(page: Page, name: string): Promise<void> {
  reportPageErrors(page, name);
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(testUsers()[name].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url => !url.pathname.endsWith('/hub/login'), { timeout: 60_000 });
}

/** Stops a user's server: one a spec left running would meet the next spec's idle guard. */
export async function stopServer(user: string): Promise<void> {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const headers = { Authorization: `token ${dev}` };
  await fetch(`${hubApi}/users/${user}/server`, { method: 'DELETE', headers });
  await expect
    .poll(
      async () => {
        const res = await fetch(`${hubApi}/users/${user}`, { headers });
        const model = (await res.json()) as { servers?: Record<string, unknown> };
        return Object.keys(model.servers ?? {}).length;
      },
      { timeout: 120_000, intervals: [1000] }
    )
    .toBe(0);
}

export async function logInToLab(page: Page, name: string): Promise<void> {
  reportPageErrors(page, name);
  const user = testUsers()[name];
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Without a running server the hub shows its spawn page (Hotstepper's server options): start
  // with what it offers, as a person would. A running server opens at once.
  await page.waitForURL(
    url =>
      url.pathname.includes(`/user/${name}/lab`) ||
      /^\/hub\/spawn(\/[^/]+)?\/?$/.test(url.pathname),
    { timeout: 60_000 }
  );
  if (!page.url().includes(`/user/${name}/lab`)) await startFromSpawnPage(page);
  // The hub spawns the server and then redirects into JupyterLab.
  await page.waitForURL(`**/user/${name}/lab**`, { timeout: 60_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });
}

/**
 * Shows the panel as a user would: Lab restores it if it was open when they left; otherwise they run
 * the command from the palette (it activates the panel, never toggles it).
 */
export async function openStatusPanel(page: Page): Promise<void> {
  const panel = page.locator('#hotstepper-status');
  const restored = await panel.waitFor({ state: 'visible', timeout: 5000 }).then(
    () => true,
    () => false
  );
  if (restored) return;
  // Lab may still be applying the restored layout right after the splash goes, which can undo an
  // early activation; a person would just ask again.
  await expect(async () => {
    await runCommandFromPalette(page, 'Open Hotstepper Status');
    await expect(panel).toBeVisible({ timeout: 5000 });
  }).toPass({ timeout: 60_000 });
}

export async function runCommandFromPalette(page: Page, label: string): Promise<void> {
  const input = page.locator('.lm-CommandPalette-input');
  // The menu opens the palette deterministically; a shortcut pressed while Lab settles may be lost.
  // Lab may still be settling (restoring the layout, extensions activating) and close the palette
  // again: open, search and run are retried together, and Enter is pressed only on the match.
  await expect(async () => {
    await page.keyboard.press('Escape');
    await page.getByRole('menuitem', { name: 'View' }).click();
    await page.getByRole('menuitem', { name: /Activate Command Palette/ }).click();
    await expect(input).toBeVisible({ timeout: 5000 });
    await input.fill(label, { timeout: 5000 });
    // The palette re-renders as commands change state; Enter runs the active (first) match.
    await expect(page.locator('.lm-CommandPalette-item.lm-mod-active')).toContainText(label, {
      timeout: 5000
    });
    await input.press('Enter', { timeout: 5000 });
  }).toPass({ timeout: 60_000 });
}

/**
 * Switches Lab's theme from the palette and waits until it has taken (and no splash is left over it),
 * so a screenshot taken next shows the theme.
 */
export async function useTheme(page: Page, theme: 'light' | 'dark'): Promise<void> {
  await runCommandFromPalette(page, `Use Theme: JupyterLab ${theme === 'dark' ? 'Dark' : 'Light'}`);
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    String(theme === 'light')
  );
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
}

/**
 * Shows the file browser at the home folder, as a person would with the home crumb: Lab restores
 * the browser's last folder (an earlier spec may have left it in `shared`) and may switch sidebar
 * panels while it restores, so both are retried until they hold.
 */
export async function showHomeFolder(page: Page): Promise<void> {
  const crumbs = page.locator('#filebrowser .jp-BreadCrumbs');
  await expect(async () => {
    await showFiles(page);
    await crumbs.locator('.jp-BreadCrumbs-home').click({ timeout: 5000 });
    // At the home folder the crumbs hold icons and separators only, no folder's name.
    await expect(crumbs).toHaveText(/^[\s/]*$/, { timeout: 3000 });
  }).toPass({ timeout: 60_000 });
}

/** Opens a file in the home folder from the file browser. */
export async function openFromFileBrowser(page: Page, name: string): Promise<void> {
  await showHomeFolder(page);
  const item = page.locator('#filebrowser .jp-DirListing-item', { hasText: name });
  await expect(item).toBeVisible({ timeout: 30_000 });
  await item.dblclick();
}

/** Runs a command that shows a panel, again if Lab's layout restore hid it while settling. */
export async function openPanel(page: Page, command: string, selector: string): Promise<void> {
  await expect(async () => {
    await runCommandFromPalette(page, command);
    await expect(page.locator(selector)).toBeVisible({ timeout: 5000 });
  }).toPass({ timeout: 60_000 });
}

/**
 * Closes a document's tab by its close button, as a person would: "Close Tab" from the palette acts on
 * whichever tab Lab considers current, which after other specs may be another one it restored.
 */
export async function closeTab(page: Page, name: string): Promise<void> {
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: name });
  await expect(async () => {
    if ((await tab.count()) === 0) return;
    const dialog = page.locator('.jp-Dialog');
    // Closing a notebook with unsaved changes asks first; the work was saved, so save again.
    if (await dialog.isVisible()) await dialog.getByRole('button', { name: 'Save' }).click();
    else await tab.first().locator('.lm-TabBar-tabCloseIcon').click({ timeout: 5000 });
    await expect(tab).toHaveCount(0, { timeout: 5000 });
  }).toPass({ timeout: 60_000 });
}

/** Opens a terminal and waits for its prompt area; asks again if Lab was still settling. */
export async function openTerminal(page: Page): Promise<void> {
  const terminals = page.locator('.jp-Terminal .xterm-helper-textarea');
  const before = await terminals.count();
  await expect(async () => {
    await runCommandFromPalette(page, 'New Terminal');
    await expect.poll(() => terminals.count(), { timeout: 20_000 }).toBeGreaterThan(before);
  }).toPass({ timeout: 90_000 });
}

/** The file browser in the left area (its tab toggles, so click only when it is hidden). */
export async function showFiles(page: Page): Promise<void> {
  await expect(async () => {
    if (!(await page.locator('#filebrowser').isVisible())) {
      await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]').click();
    }
    await expect(page.locator('#filebrowser')).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30_000 });
}
