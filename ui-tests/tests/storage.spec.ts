/**
 * Storage on the spawn page (issue #15, items 3 and 6), the seeds' example: teach1 (teachers, "full
 * access") attaches the shared course files read-write and everyone's homes; alice (students,
 * "restricted") is offered the shared files read-only and not the homes. Each then works in Lab:
 * teach1 writes a file into the shared folder and sees alice's home; alice reads teach1's file
 * and her write into the shared folder is refused by the file system. Screenshots in light and dark.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, homeOf, putInHome } from '../platform';
import {
  logInToHub,
  openTerminal,
  showFiles,
  startFromSpawnPage,
  stopServer,
  useTheme
} from './lab';

test.describe.configure({ timeout: 420_000 });

const volumes = (page: Page) =>
  page.locator('#hotstepper-spawn').getByRole('group', { name: 'Volumes to attach' });

/** What a command run in a terminal of `user`'s server wrote to `file` in their home. */
function readHome(user: string, file: string): string {
  try {
    return readFileSync(join(homeOf(user), file), 'utf8');
  } catch {
    return '';
  }
}

/**
 * Lab opens with the idle guard's explanation when an earlier spec's guard stopped this user's
 * server (correct behaviour, a leftover of the order specs run in): read it and go on, as a person
 * would.
 */
async function dismissIdleNotice(page: Page): Promise<void> {
  const gotIt = page.locator('.jp-Dialog').getByRole('button', { name: 'Got it' });
  await gotIt.waitFor({ state: 'visible', timeout: 5000 }).then(
    () => gotIt.click(),
    () => undefined
  );
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
}

/** Types a command into a new terminal of the open Lab. */
async function inTerminal(page: Page, command: string): Promise<void> {
  await openTerminal(page);
  await page.locator('.jp-Terminal').last().click();
  await page.keyboard.type(`${command}\n`);
}

/** Starts from the spawn page as chosen and waits for Lab, past an idle notice left from before. */
async function startIntoLab(page: Page, user: string): Promise<void> {
  await startFromSpawnPage(page);
  await page.waitForURL(`**/user/${user}/lab**`, { timeout: 240_000 });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 120_000 });
  await dismissIdleNotice(page);
}

test('teach1 attaches the shared files read-write and every home; alice reads them only', async ({
  browser
}) => {
  await Promise.all([stopServer('teach1'), stopServer('alice')]);
  const stamp = Date.now().toString(36);
  const note = `week-${stamp}.txt`;
  // alice's work, in her home as she would have saved it
  const essay = `essay-${stamp}.md`;
  putInHome('alice', essay, '# My essay\n');

  // teach1: both volumes offered, both read-write.
  const teacher = await browser.newPage();
  await teacher.emulateMedia({ colorScheme: 'light' });
  await logInToHub(teacher, 'teach1');
  await teacher.waitForURL(/\/hub\/spawn/);
  const offered = volumes(teacher);
  await expect(offered.getByRole('checkbox')).toHaveCount(2);
  await expect(
    offered.locator('.hs-Spawn-choice', { hasText: 'Shared course files' })
  ).toContainText('read-write');
  await expect(offered.locator('.hs-Spawn-choice', { hasText: "Everyone's homes" })).toContainText(
    'read-write'
  );
  await offered.getByLabel('Shared course files').check();
  await offered.getByLabel("Everyone's homes").check();
  await offered.scrollIntoViewIfNeeded();
  await teacher.screenshot({
    path: join(artefacts, 'spawn-storage-teacher-light.png'),
    fullPage: true
  });
  await teacher.evaluate(() => document.documentElement.setAttribute('data-bs-theme', 'dark'));
  await teacher.screenshot({
    path: join(artefacts, 'spawn-storage-teacher-dark.png'),
    fullPage: true
  });
  await teacher.evaluate(() => document.documentElement.setAttribute('data-bs-theme', 'light'));
  await startIntoLab(teacher, 'teach1');

  // In Lab: both folders in the file browser; a note for the course, and the homes listed.
  await showFiles(teacher);
  const listing = teacher.locator('#filebrowser .jp-DirListing-content');
  await expect(listing.getByText('shared', { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(listing.getByText('homes', { exact: true })).toBeVisible();
  rmSync(join(homeOf('teach1'), 'storage-check.txt'), { force: true });
  await inTerminal(
    teacher,
    `echo 'read chapter 1' > ~/shared/${note} && ls ~/homes/hs-alice/claim-alice > ~/storage-check.txt; echo end >> ~/storage-check.txt`
  );
  await expect
    .poll(() => readHome('teach1', 'storage-check.txt'), { timeout: 30_000 })
    .toMatch(/end\n$/);
  // every user's home is there by namespace and claim, alice's among them
  expect(readHome('teach1', 'storage-check.txt')).toContain(essay);
  await teacher.close();

  // alice: only the shared files, read-only; the homes are not offered at all.
  const student = await browser.newPage();
  await logInToHub(student, 'alice');
  await student.waitForURL(/\/hub\/spawn/);
  const hers = volumes(student);
  await expect(hers.getByRole('checkbox')).toHaveCount(1);
  await expect(hers.getByText("Everyone's homes")).toHaveCount(0);
  await expect(hers.locator('.hs-Spawn-choice', { hasText: 'Shared course files' })).toContainText(
    'read-only'
  );
  await hers.getByLabel('Shared course files').check();
  await student.screenshot({
    path: join(artefacts, 'spawn-storage-student-light.png'),
    fullPage: true
  });
  await startIntoLab(student, 'alice');

  // She opens the shared folder and finds teach1's note there.
  await showFiles(student);
  const files = student.locator('#filebrowser .jp-DirListing-content');
  await files.getByText('shared', { exact: true }).dblclick({ timeout: 30_000 });
  await expect(files.getByText(note, { exact: true })).toBeVisible({ timeout: 30_000 });
  await student.screenshot({ path: join(artefacts, 'storage-student-lab-light.png') });
  await useTheme(student, 'dark');
  await student.screenshot({ path: join(artefacts, 'storage-student-lab-dark.png') });
  await useTheme(student, 'light');

  // Writing there is refused by the mount, whatever the page would have allowed.
  rmSync(join(homeOf('alice'), 'storage-check.txt'), { force: true });
  await inTerminal(
    student,
    `(echo mine >> ~/shared/${note}) 2> ~/storage-check.txt; ls ~/homes 2>> ~/storage-check.txt; echo end >> ~/storage-check.txt`
  );
  await expect
    .poll(() => readHome('alice', 'storage-check.txt'), { timeout: 30_000 })
    .toMatch(/end\n$/);
  const said = readHome('alice', 'storage-check.txt');
  expect(said).toContain('Read-only file system');
  expect(said).toMatch(/homes.*No such file or directory/);
  await student.close();
  await Promise.all([stopServer('teach1'), stopServer('alice')]);
});
