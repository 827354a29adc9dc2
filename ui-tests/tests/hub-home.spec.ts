import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts } from '../platform';
import { logInToHub, logInToLab, stopServer } from './lab';

const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });

/** The hub's home page with Hotstepper's section (jupyter/hotstepper/templates/home.html). */
async function openHubHome(page: Page) {
  await page.goto('/hub/home');
  const section = page.getByRole('region', { name: 'Your resources' });
  await expect(section).toBeVisible();
  return section;
}

test('a student sees her server with CPU/RAM badges, free GPUs and her cost, light and dark', async ({
  page
}) => {
  await logInToLab(page, 'alice');
  const section = await openHubHome(page);

  // Her running server, with its CPU and memory against their limits, in words as well as bars.
  const servers = section.locator('.hs-servers');
  await expect(servers).toContainText('Default server');
  // Her limit either way: with the figure once the kubelet's series have it, "not measured yet"
  // in the first minute of a new pod.
  await expect(servers.locator('.hs-pill', { hasText: 'CPU' }).first()).toContainText(
    /\d.* of 1 core|not measured yet \(limit 1 core\)/
  );
  await expect(servers.locator('.hs-pill', { hasText: 'RAM' }).first()).toContainText(/iB/);

  // Her cost, and where the details are.
  await expect(section.locator('.hs-cost')).toContainText(
    /This month: CZK [\d,.]+ · Last 90 days:\s+CZK [\d,.]+/
  );
  await expect(section.getByRole('link', { name: 'Open JupyterLab' })).toHaveAttribute(
    'href',
    /user-redirect\/lab/
  );

  // The local platform's GPUs are kwok's: free per model, said to be simulated.
  await expect(section.locator('.hs-gpus')).toContainText(/\d+ of \d+ free/);
  await expect(section.locator('.hs-gpus')).toContainText('(simulated)');

  // Not an operator: no everyone table; nothing failed to answer.
  await expect(section.locator('.hs-everyone')).toHaveCount(0);
  await expect(section).not.toContainText('not available right now');
  await shot(page, 'hub-home-light.png');

  // Dark: the hub's own theme toggle (Bootstrap's data-bs-theme).
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-bs-theme', 'dark');
  await expect(page.getByRole('region', { name: 'Your resources' })).toBeVisible();
  await shot(page, 'hub-home-dark.png');
  await stopServer('alice');
});

test("an operator sees everyone's cost on the hub home page", async ({ page }) => {
  // The hub's page needs no server of ops's.
  await logInToHub(page, 'ops');
  const section = await openHubHome(page);
  const everyone = section.locator('.hs-everyone');
  await expect(everyone.getByRole('heading', { name: 'Everyone (operators)' })).toBeVisible();
  // Every metered user by cost (usage.spec.ts seeds alice, bob and carol), or the empty state.
  await expect(
    everyone
      .getByRole('columnheader', { name: 'This month' })
      .or(everyone.getByText(/Nobody has used anything/))
  ).toBeVisible();
  await expect(everyone).not.toContainText('not available right now');
  await everyone.scrollIntoViewIfNeeded();
  await shot(page, 'hub-home-operator.png');
});
