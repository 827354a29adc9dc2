import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, env, root, state } from '../platform';
import { logInToLab, openPanel, runCommandFromPalette } from './lab';

// dev/users.default.json: teach1 teaches cs101 (formgrade-cs101), alice and bob take it (nbgrader-cs101).
const COURSE = 'cs101';
const hubApi = `http://127.0.0.1:${env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const companion = `http://127.0.0.1:${env.HOTSTEPPER_PORT}/api/v1/grader`;
const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });

/** A hub token of a test user, minted with the local tooling's token (the platform's dev service). */
async function tokenOf(user: string): Promise<string> {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/users/${user}/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: 'grader ui test', expires_in: 3600 })
  });
  expect(res.ok, await res.clone().text()).toBe(true);
  return ((await res.json()) as { token: string }).token;
}

async function api(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${companion}${path}`, {
    method,
    headers: {
      Authorization: `token ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' })
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  expect(res.ok, `${method} ${path}: ${text}`).toBe(true);
  return text ? JSON.parse(text) : undefined;
}

/** The student's answer goes into their fetched notebook, as they would type it. */
function answer(user: string, correct: boolean) {
  const path = join(state, 'home', user, COURSE, 'ps1', 'problem1.ipynb');
  const nb = JSON.parse(readFileSync(path, 'utf8'));
  for (const cell of nb.cells) {
    const id = cell.metadata?.nbgrader?.grade_id;
    if (id === 'squares') {
      cell.source = correct
        ? 'def squares(n):\n    return [i * i for i in range(1, n + 1)]'
        : 'def squares(n):\n    return []';
    }
    if (id === 'explain') cell.source = 'Because the squares of 1..n are asked for.';
  }
  writeFileSync(path, JSON.stringify(nb));
}

test('an instructor releases, autogrades all in parallel, grades by hand and exports', async ({
  page
}) => {
  test.setTimeout(300_000);
  const teach1 = await tokenOf('teach1');
  const due = new Date(Date.now() + 7 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await api(teach1, 'PUT', `/courses/${COURSE}/assignments/ps1`, { duedate: due });
  const source = readFileSync(join(root, 'server/test/fixtures/grader/ps1/problem1.ipynb'), 'utf8');
  await api(teach1, 'PUT', `/courses/${COURSE}/assignments/ps1/notebooks/problem1`, {
    content: source
  });
  await api(teach1, 'POST', `/courses/${COURSE}/assignments/ps1/generate`);

  await logInToLab(page, 'teach1');
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const grader = page.locator('#hotstepper-grader');
  await expect(grader.locator('.jp-HotstepperGrader-assignment')).toContainText('ps1');
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('draft');
  await grader.getByRole('button', { name: 'Release', exact: true }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText('Released as: cs101 ps1');
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('released');
  await shot(page, 'grader-released.png');

  // Two students fetch, answer and submit through the companion (nbgrader's exchange, as them).
  for (const [user, correct] of [
    ['alice', true],
    ['bob', false]
  ] as const) {
    const token = await tokenOf(user);
    const mine = await api(token, 'GET', '/my/assignments');
    expect(mine.assignments[0]).toMatchObject({ course: COURSE, assignment: 'ps1', duedate: due });
    await api(token, 'POST', `/my/courses/${COURSE}/assignments/ps1/fetch`);
    answer(user, correct);
    await api(token, 'POST', `/my/courses/${COURSE}/assignments/ps1/submit`);
  }

  await grader.getByRole('button', { name: 'Collect', exact: true }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText('Collect');
  await grader.getByRole('button', { name: 'Autograde all' }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText('Queued 2 submissions');
  await expect(grader.locator('.jp-HotstepperGrader-queue')).toBeVisible();
  const alice = grader.locator('tr[data-student="alice"]');
  const bob = grader.locator('tr[data-student="bob"]');
  await expect(alice).toContainText('3 / 5', { timeout: 120_000 });
  await expect(bob).toContainText('0 / 5', { timeout: 120_000 });
  await expect(alice).toContainText('needs grading');
  await expect(grader.locator('.jp-HotstepperGrader-counts')).toContainText('2 done');
  await shot(page, 'grader-autograded.png');

  // Filters: "Needs grading" shows both (each has the written answer to grade).
  await grader.getByRole('button', { name: /^Needs grading/ }).click();
  await expect(grader.locator('tbody tr')).toHaveCount(2);
  await grader.getByRole('button', { name: /^All/ }).click();

  // Manual grading in its own tab: alice's written answer gets 2 of 2.
  await alice.getByRole('button', { name: 'Grade', exact: true }).click();
  const tab = page.locator('.jp-HotstepperGrader-grading');
  const explain = tab.locator('[data-cell="explain"]');
  await expect(explain).toContainText('squares of 1..n');
  await explain.getByLabel('Score for explain').fill('2');
  await explain.getByLabel('Comment for explain').fill('Well put.');
  await explain.getByRole('button', { name: 'Save' }).click();
  await expect(tab).toContainText('problem1.ipynb — 5 / 5');
  await shot(page, 'grader-manual-grading.png');

  // Back to the Grader: export the grades.
  await page.locator('.lm-TabBar-tab', { hasText: 'Grader' }).first().click();
  await expect(alice).toContainText('5 / 5', { timeout: 30_000 });
  await grader.getByRole('button', { name: 'Export grades (CSV)' }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText('Exported 2 rows');
  await grader.locator('.jp-HotstepperGrader-export summary').click();
  await expect(grader.locator('.jp-HotstepperGrader-export pre')).toContainText('ps1');
  await expect(grader.locator('.jp-HotstepperGrader-export pre')).toContainText(
    ',alice,,,,5.0,0.0,5.0,5.0'
  );
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  await shot(page, 'grader-exported-dark.png');
});

test('a student sees the due date, and their feedback once released', async ({ page }) => {
  const teach1 = await tokenOf('teach1');
  await api(teach1, 'POST', `/courses/${COURSE}/assignments/ps1/feedback/generate`);
  await api(teach1, 'POST', `/courses/${COURSE}/assignments/ps1/feedback/release`);
  await logInToLab(page, 'alice');
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const mine = page.locator('#hotstepper-grader .jp-HotstepperGrader-student');
  await expect(mine).toContainText('ps1');
  await expect(mine).toContainText('released · 5 / 5');
  await expect(page.locator('#hotstepper-grader .jp-HotstepperGrader-instructor')).toHaveCount(0);
  await mine.getByRole('button', { name: 'Fetch feedback' }).click();
  // Their own feedback only (one submission, one notebook), never another student's.
  await expect(page.locator('#hotstepper-grader .jp-HotstepperGrader-ok')).toHaveText(
    /^cs101\/ps1\/feedback\/[^,]+\/problem1\.html$/
  );
  await shot(page, 'grader-student.png');
});
