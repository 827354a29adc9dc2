/**
 * Flare end to end: alice starts a small web app in a terminal of her JupyterLab, exposes it from
 * the Flare panel for bob only, narrows it to herself and widens it again in place, and other
 * people open the address in browsers of their own (told whose app it is before the hub login).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { artefacts, env, homeOf, testUsers } from '../platform';
import { logInToLab, openTerminal, runCommandFromPalette } from './lab';

const gatewayPort = env.HOTSTEPPER_FLARE_PORT;
// A port for alice's app; the local platform runs every server on this machine.
const appPort = Number(process.env.FLARE_TEST_APP_PORT ?? 23350);
const name = 'alice-dash';
const address = `http://${name}.flare.localhost:${gatewayPort}/`;

/**
 * Before the hub's login a visitor sees which app (its full address) and whose the login is for,
 * and goes on with its button.
 */
async function loginPage(page: Page): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Log in to open this app' })).toBeVisible();
  await expect(page.locator('body')).toContainText(`Log in to open ${address}, an app of alice`);
  await page.getByRole('link', { name: 'Log in with the hub' }).click();
  await expect(page).toHaveURL(/\/hub\/login/);
}

/** A visitor in a browser of their own, logging in with the hub when the app asks. */
async function visit(browser: Browser, user: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(address);
  await loginPage(page);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(testUsers()[user].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${address}**`);
  return page;
}

test('alice exposes an app from the Flare panel; bob sees it, teach1 is refused', async ({
  page,
  browser
}) => {
  await logInToLab(page, 'alice');

  // A person starts their app in a terminal, listening on the pod's address (where Flare reaches it).
  await openTerminal(page);
  await page.locator('.jp-Terminal').last().click();
  await page.keyboard.type(
    `mkdir -p dash && echo '<h1>Alice dashboard</h1><p>served from her notebook</p>' > ` +
      `dash/index.html && python3 -m http.server ${appPort} --bind 0.0.0.0 -d dash\n`
  );

  await runCommandFromPalette(page, 'Open Flare');
  const flare = page.locator('#hotstepper-flare');
  await expect(flare).toBeVisible();
  const port = flare.getByLabel('Port', { exact: true });
  // The panel offers the ports alice's server listens on, as soon as the app is up.
  await expect(port.locator(`option[value="${appPort}"]`)).toBeAttached({ timeout: 60_000 });
  await port.selectOption(String(appPort));
  await expect(port.locator(`option[value="${appPort}"]`)).toContainText('http.server');
  await flare.getByLabel('Name', { exact: true }).fill(name);
  // The preview is the exact address the route gets, scheme and port included.
  await expect(flare.getByText(`Address: ${address}`, { exact: true })).toBeVisible();
  await flare.getByLabel('Who may open it', { exact: true }).selectOption('users');
  await flare.getByLabel('Users', { exact: true }).fill('bob');
  await flare.getByRole('button', { name: 'Expose' }).click();

  const route = flare.locator(`.jp-Flare-route[data-name="${name}"]`);
  await expect(route).toBeVisible();
  await expect(route).toHaveAttribute('data-status', 'online');
  await expect(route.getByRole('link', { name: address })).toBeVisible();
  await expect(route.locator('.jp-Flare-names')).toHaveText('Open to: bob');

  // Access changes in place, nothing deleted: to "Only me", then back to two named users.
  const access = route.getByLabel(`Access of ${name}`);
  await access.selectOption('owner');
  await expect(access).toHaveValue('owner');
  await expect(route.locator('.jp-Flare-names')).toHaveCount(0);
  await access.selectOption('users');
  const users = route.getByLabel(`Users of ${name}`);
  await expect(users).toBeVisible();
  await expect(users).toHaveValue('');
  await expect(route.getByLabel(`Groups of ${name}`)).toBeVisible();
  // No names: refused before anything is sent, in words a person reads.
  await route.getByRole('button', { name: 'Save' }).click();
  await expect(route.getByRole('alert')).toHaveText(
    'Name at least one hub user or group who may open it, or choose another access.'
  );
  await expect(access).toHaveValue('users');
  await users.fill('bob, ops');
  await route.getByRole('button', { name: 'Save' }).click();
  await expect(route.locator('.jp-Flare-names')).toHaveText('Open to: bob, ops');
  await expect(users).toHaveCount(0);
  await expect(access).toHaveValue('users');
  await expect(route.getByRole('link', { name: address })).toBeVisible();
  // Edit opens the fields again with the current names; Cancel leaves them as they are.
  await route.getByRole('button', { name: 'Edit' }).click();
  await expect(users).toHaveValue('bob, ops');
  await route.getByRole('button', { name: 'Cancel' }).click();
  await expect(route.locator('.jp-Flare-names')).toHaveText('Open to: bob, ops');
  await page.screenshot({ path: join(artefacts, 'flare-panel.png') });

  // The README's command line works in a terminal of her server: the server's own environment.
  await openTerminal(page);
  await page.locator('.jp-Terminal').last().click();
  await page.keyboard.type(
    'hotstepper flare list > cli-check.txt 2>&1; command -v hotstepper python3 >> cli-check.txt\n'
  );
  const cli = join(homeOf('alice'), 'cli-check.txt');
  const said = () => {
    try {
      return readFileSync(cli, 'utf8');
    } catch {
      return '';
    }
  };
  await expect.poll(said, { timeout: 30_000 }).toMatch(/python3\n$/);
  expect(said()).toContain(name);
  expect(said()).toContain(address);
  expect(said()).toMatch(/^\/opt\/notebook\/bin\/hotstepper$/m);
  expect(said()).toMatch(/^\/opt\/notebook\/bin\/python3$/m);
  rmSync(cli);
  await page.getByRole('tab', { name: 'Flare' }).click();
  await expect(flare).toBeVisible();

  // bob, in a browser of his own, logs in with the hub and sees the app; reloading it is the
  // same visit.
  const bob = await visit(browser, 'bob');
  await expect(bob.getByRole('heading', { name: 'Alice dashboard' })).toBeVisible();
  await bob.screenshot({ path: join(artefacts, 'flare-app-bob.png') });
  for (let i = 0; i < 2; i++) {
    await bob.reload();
    await expect(bob.getByRole('heading', { name: 'Alice dashboard' })).toBeVisible();
  }
  // ops, named too, is a second visitor.
  const ops = await visit(browser, 'ops');
  await expect(ops.getByRole('heading', { name: 'Alice dashboard' })).toBeVisible();

  // teach1 has no access and is told so, with whose app it is.
  const teach1 = await visit(browser, 'teach1');
  await expect(teach1.getByRole('heading', { name: `${name}: no access` })).toBeVisible();
  await expect(teach1.locator('body')).toContainText('teach1');
  await expect(teach1.locator('body')).toContainText('alice');
  await teach1.screenshot({ path: join(artefacts, 'flare-refused-teach1.png') });

  // An anonymous visitor is told whose app and which address, then sent to the hub's login page.
  const anonymous = await (await browser.newContext()).newPage();
  await anonymous.goto(address);
  await anonymous.screenshot({ path: join(artefacts, 'flare-login-page.png') });
  await loginPage(anonymous);

  // Alice sees visits counted, not requests: bob's page loads are one, ops is two (teach1 and the
  // anonymous visitor never reached the app).
  await expect(async () => {
    await flare.getByRole('button', { name: 'Refresh' }).click();
    await expect(route).toContainText('· 2 hits', { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  await route.getByLabel(`Access of ${name}`).selectOption('link');
  await expect(route.getByRole('button', { name: 'Rotate link' })).toBeVisible();
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await page.screenshot({ path: join(artefacts, 'flare-panel-dark.png') });
  // Leave alice's Lab as other specs expect it, and close the visitors' browsers.
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');
  await Promise.all([bob, ops, teach1, anonymous].map(p => p.context().close()));
});
