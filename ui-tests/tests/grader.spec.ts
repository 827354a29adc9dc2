import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { artefacts, env, homeOf, putInHome, root, state } from '../platform';
import { logInToLab, openPanel, runCommandFromPalette, stopServer, useTheme } from './lab';

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

/**
 * The student's server, started as their Lab would be: fetch puts assignments into the home their
 * server's volume holds, which exists once the server has started.
 */
async function startServer(user: string): Promise<void> {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const headers = { Authorization: `token ${dev}` };
  const started = await fetch(`${hubApi}/users/${user}/server`, { method: 'POST', headers });
  expect([201, 202, 400], await started.clone().text()).toContain(started.status);
  await expect
    .poll(
      async () => {
        const res = await fetch(`${hubApi}/users/${user}`, { headers });
        const model = (await res.json()) as { servers?: Record<string, { ready?: boolean }> };
        return model.servers?.['']?.ready ?? false;
      },
      { timeout: 180_000, intervals: [1000] }
    )
    .toBe(true);
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
function answer(user: string, correct: boolean, assignment = 'ps1') {
  const path = join(homeOf(user), COURSE, assignment, 'problem1.ipynb');
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
  // The companion's sentence, with nbgrader's log (no server path) only behind "Details".
  const result = grader.locator('.jp-HotstepperGrader-ok');
  await expect(result).toContainText('Released ps1 to the students.');
  // What a person reads (innerText): the sentence; nbgrader's log only inside the closed Details.
  await expect(result).not.toContainText('[INFO]', { useInnerText: true });
  await expect(result.locator('pre')).toBeHidden();
  await result.getByText('Details', { exact: true }).click();
  await expect(result.locator('pre')).toBeVisible();
  await expect(result.locator('pre')).not.toContainText(root);
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('released');
  await shot(page, 'grader-released.png');

  // Two students fetch, answer and submit through the companion (nbgrader's exchange, as them).
  for (const [user, correct] of [
    ['alice', true],
    ['bob', false]
  ] as const) {
    const token = await tokenOf(user);
    await startServer(user);
    const mine = await api(token, 'GET', '/my/assignments');
    const ps1 = mine.assignments.find((a: { assignment: string }) => a.assignment === 'ps1');
    expect(ps1).toMatchObject({ course: COURSE, assignment: 'ps1', duedate: due });
    await api(token, 'POST', `/my/courses/${COURSE}/assignments/ps1/fetch`);
    answer(user, correct);
    await api(token, 'POST', `/my/courses/${COURSE}/assignments/ps1/submit`);
    await stopServer(user);
  }

  await grader.getByRole('button', { name: 'Collect', exact: true }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText(
    'Collected 2 submissions of ps1.'
  );
  await grader.getByRole('button', { name: 'Autograde all' }).click();
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText('Queued 2 submissions');
  await expect(grader.locator('.jp-HotstepperGrader-queue')).toBeVisible();
  const alice = grader.locator('tr[data-student="alice"]');
  const bob = grader.locator('tr[data-student="bob"]');
  // While its autograde is queued or running a row says so, never "0 / 5 needs grading".
  await expect(alice).toContainText(/Autograding… \((queued|running)\)|3 \/ 5 points/);
  await expect(alice).toContainText('3 / 5', { timeout: 120_000 });
  await expect(bob).toContainText('0 / 5', { timeout: 120_000 });
  await expect(alice).toContainText('needs grading');
  // the course's queue, all ended (another spec's units of cs101 may be in it too)
  await expect(grader.locator('.jp-HotstepperGrader-counts')).toContainText(
    /0 queued · 0 running · [2-9]\d* done · 0 failed/
  );
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('2 submissions');
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('max 5 points');
  await shot(page, 'grader-autograded.png');

  // The status table: the student's name stays at the left when it scrolls sideways, and at
  // 1440 px the row's last action is inside the table's own box, never cut.
  const name = alice.locator('th').first();
  expect(await name.evaluate(e => getComputedStyle(e).position)).toBe('sticky');
  await page.setViewportSize({ width: 1440, height: 900 });
  const box = grader.locator('.jp-HotstepperGrader-statusScroll');
  const inside = async (target: typeof name) => {
    const [outer, inner] = [await box.boundingBox(), await target.boundingBox()];
    expect(outer && inner).toBeTruthy();
    expect(inner!.x).toBeGreaterThanOrEqual(outer!.x - 1);
    expect(inner!.x + inner!.width).toBeLessThanOrEqual(outer!.x + outer!.width + 1);
  };
  await inside(alice.getByRole('button').last());
  await inside(name);
  await shot(page, 'grader-status-1440.png');
  await box.evaluate(e => (e.scrollLeft = e.scrollWidth));
  await inside(name);
  await inside(alice.getByRole('button').last());
  await box.evaluate(e => (e.scrollLeft = 0));

  // Filters: "Needs grading" shows both (each has the written answer to grade).
  await grader.getByRole('button', { name: /^Needs grading/ }).click();
  await expect(grader.locator('.jp-HotstepperGrader-statusTable tbody tr')).toHaveCount(2);
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
  // a row per student and graded assignment: other specs may have graded others of cs101
  await expect(grader.locator('.jp-HotstepperGrader-ok')).toContainText(/Exported \d+ rows/);
  await grader.locator('.jp-HotstepperGrader-export summary').click();
  await expect(grader.locator('.jp-HotstepperGrader-export pre')).toContainText('ps1');
  await expect(grader.locator('.jp-HotstepperGrader-export pre')).toContainText(
    ',alice,,,,5.0,0.0,5.0,5.0'
  );
  await useTheme(page, 'dark');
  await shot(page, 'grader-exported-dark.png');
});

/**
 * An assignment of this spec's own, taken through its whole life by the companion's API (the
 * instructor's journey has its own test): released, alice's correct answer fetched, submitted,
 * collected, autograded in a unit pod, her written answer given 2 of 2, and feedback released.
 */
async function feedbackReleased(teach1: string, name: string): Promise<void> {
  const at = `/courses/${COURSE}/assignments/${name}`;
  const due = new Date(Date.now() + 7 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await api(teach1, 'PUT', at, { duedate: due });
  const source = readFileSync(join(root, 'server/test/fixtures/grader/ps1/problem1.ipynb'), 'utf8');
  await api(teach1, 'PUT', `${at}/notebooks/problem1`, { content: source });
  await api(teach1, 'POST', `${at}/generate`);
  await api(teach1, 'POST', `${at}/release`);
  const alice = await tokenOf('alice');
  await startServer('alice');
  await api(alice, 'POST', `/my/courses/${COURSE}/assignments/${name}/fetch`);
  answer('alice', true, name);
  await api(alice, 'POST', `/my/courses/${COURSE}/assignments/${name}/submit`);
  await stopServer('alice');
  await api(teach1, 'POST', `${at}/collect`);
  await api(teach1, 'POST', `${at}/autograde`, { students: ['alice'] });
  await expect
    .poll(
      async () => {
        const { units } = await api(teach1, 'GET', `/courses/${COURSE}/queue`);
        return units
          .filter((u: { assignment: string }) => u.assignment === name)
          .map((u: { state: string }) => u.state)
          .join(',');
      },
      { timeout: 180_000, intervals: [1000] }
    )
    .toBe('done');
  // the written answer's grade, by its gradebook id
  const graded = await api(teach1, 'GET', `${at}/students/alice/grades`);
  const cells = graded.notebooks.flatMap((n: { cells: object[] }) => n.cells);
  const explain = cells.find((c: { cell: string }) => c.cell === 'explain');
  await api(teach1, 'PUT', `${at}/students/alice/grades/${explain.gradeId}`, { manualScore: 2 });
  await api(teach1, 'POST', `${at}/feedback/generate`);
  await api(teach1, 'POST', `${at}/feedback/release`);
}

test('a student fetches before submitting, reads their state in words and their feedback', async ({
  page
}) => {
  test.setTimeout(420_000);
  const teach1 = await tokenOf('teach1');
  await feedbackReleased(teach1, 'fb1');
  // ps2, released and not yet fetched by alice.
  const due = new Date(Date.now() + 7 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await api(teach1, 'PUT', `/courses/${COURSE}/assignments/ps2`, { duedate: due });
  const source = readFileSync(join(root, 'server/test/fixtures/grader/ps2/problem1.ipynb'), 'utf8');
  await api(teach1, 'PUT', `/courses/${COURSE}/assignments/ps2/notebooks/problem1`, {
    content: source
  });
  await api(teach1, 'POST', `/courses/${COURSE}/assignments/ps2/generate`);
  await api(teach1, 'POST', `/courses/${COURSE}/assignments/ps2/release`);

  await logInToLab(page, 'alice');
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const mine = page.locator('#hotstepper-grader .jp-HotstepperGrader-student');
  const ok = page.locator('#hotstepper-grader .jp-HotstepperGrader-ok');
  await expect(page.locator('#hotstepper-grader .jp-HotstepperGrader-instructor')).toHaveCount(0);

  // fb1: submitted, its feedback released.
  const fb1 = mine.locator('tr[data-assignment="cs101/fb1"]');
  await expect(fb1).toContainText('Submitted');
  await expect(fb1).toContainText('Feedback ready: 5 / 5 points');
  await fb1.getByRole('button', { name: 'Fetch feedback' }).click();
  // Their own feedback only (one submission, one notebook), never another student's.
  await expect(ok.locator('.jp-HotstepperGrader-message')).toHaveText(
    'Feedback on fb1 is in ~/cs101/fb1/feedback (1 file).'
  );

  // ps2: Submit waits for Fetch, and says so.
  const ps2 = mine.locator('tr[data-assignment="cs101/ps2"]');
  const submit = ps2.getByRole('button', { name: 'Submit', exact: true });
  await expect(ps2).toContainText('Not fetched yet');
  await expect(submit).toBeDisabled();
  await expect(submit).toHaveAttribute('title', 'Fetch the assignment first');
  await expect(ps2).toContainText('Fetch the assignment first');
  await shot(page, 'grader-student.png');
  await ps2.getByRole('button', { name: 'Fetch', exact: true }).click();
  await expect(ok.locator('.jp-HotstepperGrader-message')).toHaveText(
    'Fetched ps2 into ~/cs101/ps2.',
    { timeout: 60_000 }
  );
  await expect(ps2).toContainText('Fetched — not submitted');
  await expect(submit).toBeEnabled();
  await expect(ps2).not.toContainText('Fetch the assignment first');
  await submit.click();
  await expect(ok.locator('.jp-HotstepperGrader-message')).toHaveText('Submitted ps2.', {
    timeout: 60_000
  });
  await expect(ok).not.toContainText('EXTRA');
  await expect(ps2.locator('.jp-HotstepperGrader-state')).toHaveText(/^Submitted \S/);
  await expect(ps2).not.toContainText('Late by');
  await useTheme(page, 'dark');
  await shot(page, 'grader-student-submitted-dark.png');
  await useTheme(page, 'light');
});

/** Hub users who are not (yet) in cs101: the roster test adds them, never alice or bob. */
async function createHubUsers(names: string[]) {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/users`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ usernames: names })
  });
  expect([201, 409], await res.clone().text()).toContain(res.status);
}

async function groupMembers(group: string): Promise<string[]> {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/groups/${group}`, {
    headers: { Authorization: `token ${dev}` }
  });
  expect(res.ok, await res.clone().text()).toBe(true);
  return ((await res.json()) as { users: string[] }).users.sort();
}

const csv = (name: string, text: string) => ({
  name,
  mimeType: 'text/csv',
  buffer: Buffer.from(text)
});

test('an instructor keeps the roster: adds, imports a CSV, removes', async ({ page }) => {
  test.setTimeout(240_000);
  await createHubUsers(['carol', 'dave', 'erin']);
  await logInToLab(page, 'teach1');
  // The first test left teach1 in the dark theme; the light one first, the dark one at the end.
  await useTheme(page, 'light');
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const grader = page.locator('#hotstepper-grader');
  await grader.getByRole('tab', { name: 'Roster' }).click();
  const roster = grader.locator('.jp-HotstepperGrader-roster');
  const row = (id: string) => roster.locator(`tr[data-student="${id}"]`);
  const ok = roster.locator('.jp-HotstepperGrader-ok');
  const error = roster.locator('.jp-HotstepperGrader-error');
  // The first nbgrader call of a fresh platform starts the companion's worker (seconds of imports).
  const slow = { timeout: 90_000 };
  await expect(row('alice')).toContainText('✓ nbgrader-cs101', slow);
  await expect(row('bob')).toContainText('✓ nbgrader-cs101');

  // Add one: the id is checked before anything is sent, then carol joins gradebook and group.
  const add = roster.getByRole('form', { name: 'Add a student' });
  await add.getByLabel('Student id').fill('carol/../x');
  await add.getByRole('button', { name: 'Add student' }).click();
  await expect(add.locator('.jp-HotstepperGrader-fieldError')).toContainText(
    'The id is the hub user name'
  );
  await add.getByLabel('Student id').fill('carol');
  await add.getByLabel('First name').fill('Carol');
  await add.getByLabel('Last name').fill('Chen');
  await add.getByLabel('Email').fill('carol@example.org');
  await add.getByRole('button', { name: 'Add student' }).click();
  await expect(ok).toHaveText('Added carol to cs101', slow);
  await expect(row('carol')).toContainText('Carol Chen');
  await expect(row('carol')).toContainText('carol@example.org');
  await expect(row('carol')).toContainText('✓ nbgrader-cs101');
  await expect(add.getByLabel('Student id')).toHaveValue('');
  // Someone without a hub account: the companion's own message, and nothing is added.
  await add.getByLabel('Student id').fill('zed');
  await add.getByRole('button', { name: 'Add student' }).click();
  await expect(error).toContainText('JupyterHub has no user "zed"', slow);
  await expect(row('zed')).toHaveCount(0);
  await shot(page, 'grader-roster-added.png');

  // A CSV with a repeated and a missing id: the companion's message names both lines, and
  // nothing of it is imported (dave of its first line neither).
  const file = roster.getByLabel('Roster CSV file');
  await file.setInputFiles(
    csv('bad.csv', 'id,first_name,last_name,email\ndave,Dave,Diaz,\ndave,David,,\n,Nobody,,\n')
  );
  await expect(error).toContainText('nothing was added', slow);
  await expect(error).toContainText('line 3 repeats id "dave" of line 2');
  await expect(error).toContainText('line 4 has no id');
  await expect(row('dave')).toHaveCount(0);
  await shot(page, 'grader-roster-import-error.png');
  // Neither zed nor the bad CSV left anything behind, in the gradebook or in the hub group.
  const teach1 = await tokenOf('teach1');
  const ids = async () =>
    ((await api(teach1, 'GET', `/courses/${COURSE}/students`)).students as { id: string }[]).map(
      s => s.id
    );
  expect(await ids()).toEqual(['alice', 'bob', 'carol']);
  expect(await groupMembers(`nbgrader-${COURSE}`)).toEqual(['alice', 'bob', 'carol']);

  // A good CSV: two new students, and carol's details updated.
  await file.setInputFiles(
    csv(
      'cs101.csv',
      'id,first_name,last_name,email\r\ndave,Dave,Diaz,dave@example.org\r\n' +
        'erin,Erin,Evans,\r\ncarol,Carol,Chen,carol@cs.example.org\r\n'
    )
  );
  await expect(ok).toHaveText('Imported cs101.csv: 2 added, 1 updated (5 students in cs101)', slow);
  await expect(row('dave')).toContainText('dave@example.org');
  await expect(row('erin')).toContainText('Erin Evans');
  await expect(row('carol')).toContainText('carol@cs.example.org');
  await expect(grader.locator('.jp-HotstepperGrader-courses select')).toContainText(
    'cs101 (5 students)'
  );
  await shot(page, 'grader-roster-imported.png');

  // Remove erin, after JupyterLab's own confirmation dialog.
  await row('erin').getByRole('button', { name: 'Remove erin' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Remove erin from cs101?');
  await expect(dialog).toContainText('cannot be undone');
  await shot(page, 'grader-roster-remove-dialog.png');
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(ok).toHaveText('Removed erin from cs101', slow);
  await expect(row('erin')).toHaveCount(0);

  // The outcome as the companion and the hub see it: alice and bob stay for the other tests.
  expect(await ids()).toEqual(['alice', 'bob', 'carol', 'dave']);
  expect(await groupMembers(`nbgrader-${COURSE}`)).toEqual(['alice', 'bob', 'carol', 'dave']);

  // Cancelling the dialog keeps the student; the roster in the dark theme.
  await useTheme(page, 'dark');
  await row('dave').getByRole('button', { name: 'Remove dave' }).click();
  await expect(dialog).toContainText('Remove dave from cs101?');
  await shot(page, 'grader-roster-remove-dialog-dark.png');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row('dave')).toBeVisible();
  await roster.getByLabel('Filter students').fill('example.org');
  await expect(roster.locator('tbody tr')).toHaveCount(2);
  await roster.getByLabel('Filter students').fill('');
  await file.setInputFiles(csv('bad.csv', 'name\nfrank\n'));
  await expect(error).toContainText('has no "id" column', slow);
  await shot(page, 'grader-roster-dark.png');

  // A hub group member whose name nbgrader cannot use is named in the tab, never enrolled.
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const members = `${hubApi}/groups/nbgrader-${COURSE}/users`;
  const asDev = { Authorization: `token ${dev}`, 'Content-Type': 'application/json' };
  await createHubUsers(['x+y']);
  const added = await fetch(members, {
    method: 'POST',
    headers: asDev,
    body: JSON.stringify({ users: ['x+y'] })
  });
  expect(added.ok, await added.text()).toBe(true);
  // The roster loads when its tab opens; the companion may hold the group a little while.
  await expect(async () => {
    await grader.getByRole('tab', { name: 'Assignments' }).click();
    await grader.getByRole('tab', { name: 'Roster' }).click();
    await expect(roster.locator('.jp-HotstepperGrader-skipped')).toContainText('"x+y"', {
      timeout: 5_000
    });
  }).toPass({ timeout: 120_000 });
  await expect(row('x+y')).toHaveCount(0);
  await shot(page, 'grader-roster-skipped-dark.png');
  await fetch(members, {
    method: 'DELETE',
    headers: asDev,
    body: JSON.stringify({ users: ['x+y'] })
  });
});

test('an instructor creates an assignment with a date picker and gives an extension, in Lab dialogs', async ({
  page
}) => {
  await logInToLab(page, 'teach1');
  // The first dialog in the light theme (an earlier spec may have left Lab dark), the second dark.
  await expect(async () => {
    await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
    await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true', {
      timeout: 10_000
    });
  }).toPass({ timeout: 60_000 });
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const grader = page.locator('#hotstepper-grader');
  await grader.getByRole('button', { name: 'New assignment' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('New assignment');
  await dialog.locator('input[name="assignment"]').fill('ps9');
  // A date and time in the teacher's own zone, through the browser's picker input.
  await dialog.locator('input[name="duedate"]').fill('2027-01-15T17:00');
  await shot(page, 'grader-new-assignment-dialog.png');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(grader.locator('.jp-HotstepperGrader-assignment', { hasText: 'ps9' })).toBeVisible();
  const expected = await page.evaluate(() => new Date('2027-01-15T17:00').toISOString());
  const listed = await api(await tokenOf('teach1'), 'GET', `/courses/${COURSE}/assignments`);
  const ps9 = listed.assignments.find((a: { name: string }) => a.name === 'ps9');
  expect(Date.parse(ps9.duedate)).toBe(Date.parse(expected));

  // An extension for alice in days and hours, in a dialog, in the dark theme.
  await useTheme(page, 'dark');
  const alice = grader.locator('tr[data-student="alice"]');
  await alice.getByRole('button', { name: 'Extension' }).click();
  await expect(dialog).toContainText('Extension for alice');
  await dialog.locator('input[name="days"]').fill('2');
  await dialog.locator('input[name="hours"]').fill('0');
  await shot(page, 'grader-extension-dialog-dark.png');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(alice).toContainText('2 days');
  await useTheme(page, 'light');
});

/** A teacher's draft in their own files: an intro, a solution and its tests, nothing marked yet. */
const DRAFT = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { id: 'intro', cell_type: 'markdown', metadata: {}, source: 'Write `squares(n)`.' },
    {
      id: 'answer',
      cell_type: 'code',
      metadata: {},
      execution_count: null,
      outputs: [],
      source:
        'def squares(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n    ### END SOLUTION'
    },
    {
      id: 'tests',
      cell_type: 'code',
      metadata: {},
      execution_count: null,
      outputs: [],
      // the teacher's slip, which Validate finds by running it
      source: 'assert squares(3) == [1, 4, 10]'
    }
  ]
});

test('a teacher authors an assignment entirely from Lab: add, edit, mark cells, validate, generate, preview, release', async ({
  page
}) => {
  test.setTimeout(300_000);
  putInHome('teach1', 'squares-draft.ipynb', DRAFT);
  await logInToLab(page, 'teach1');
  await expect(async () => {
    await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
    await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true', {
      timeout: 10_000
    });
  }).toPass({ timeout: 60_000 });
  await openPanel(page, 'Open Grader', '#hotstepper-grader');
  const grader = page.locator('#hotstepper-grader');
  const ok = grader.locator('.jp-HotstepperGrader-ok');
  const dialog = page.locator('.jp-Dialog');
  const slow = { timeout: 90_000 };

  // Create ps4 in the Lab dialog.
  await grader.getByRole('button', { name: 'New assignment' }).click();
  await dialog.locator('input[name="assignment"]').fill('ps4');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog).toHaveCount(0);
  await grader.locator('.jp-HotstepperGrader-assignment', { hasText: 'ps4' }).click();
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('ps4', slow);
  const sources = grader.getByRole('region', { name: 'Source notebooks' });
  await expect(sources).toContainText('No notebooks in this assignment yet.');

  // Add notebooks from my files: a Lab dialog listing the notebooks of teach1's own server.
  await sources.getByRole('button', { name: 'Add notebooks…' }).click();
  const pick = dialog.locator('[data-testid="grader-pick-notebooks"]');
  await pick.getByRole('checkbox', { name: 'squares-draft.ipynb' }).check();
  await shot(page, 'grader-add-notebooks-dialog.png');
  await dialog.getByRole('button', { name: 'Add' }).click();
  await expect(ok).toContainText('Added squares-draft to ps4.', slow);
  const row = sources.locator('tr[data-notebook="squares-draft"]');
  await expect(row).toContainText('squares-draft.ipynb');

  // Validate before marking: in words, nothing of nbgrader's traceback.
  await sources.getByRole('button', { name: 'Validate' }).click();
  const validation = sources.locator('[data-testid="grader-validation"]');
  await expect(validation).toContainText('ps4 is not ready to generate', slow);
  await expect(validation).toContainText('has no graded cell yet');
  await expect(validation).not.toContainText('Traceback');

  // Edit: a copy in ~/courses/cs101/source/ps4/ opens in Lab.
  await row.getByRole('button', { name: 'Edit squares-draft' }).click();
  const notebook = page.locator('.jp-NotebookPanel:visible');
  await expect(page.locator('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')).toContainText(
    'squares-draft.ipynb',
    slow
  );
  await expect(notebook.locator('.jp-Cell')).toHaveCount(3);

  // Mark cells with the Create Assignment toolbar (shown to teachers).
  await runCommandFromPalette(page, 'Create Assignment');
  const toolbars = notebook.locator('[data-testid="grader-cell-toolbar"]');
  await expect(toolbars).toHaveCount(3);
  const answer = toolbars.nth(1);
  await answer.getByLabel('nbgrader cell type').selectOption({ label: 'Autograded answer' });
  await answer.getByLabel('Grade id').fill('squares');
  await answer.getByLabel('Grade id').press('Enter');
  const tests = toolbars.nth(2);
  await tests.getByLabel('nbgrader cell type').selectOption({ label: 'Autograder tests' });
  await tests.getByLabel('Grade id').fill('test_squares');
  await tests.getByLabel('Grade id').press('Enter');
  await tests.getByLabel('Points').fill('2');
  await tests.getByLabel('Points').press('Enter');
  await shot(page, 'grader-create-assignment-toolbar.png');
  await useTheme(page, 'dark');
  await shot(page, 'grader-create-assignment-toolbar-dark.png');
  await useTheme(page, 'light');

  // Saving in Lab puts the copy back into the course.
  await notebook.locator('[data-command="docmanager:save"]').first().click();
  await expect(
    page.getByText('Saved to cs101: squares-draft.ipynb saved in source/ps4/.')
  ).toBeVisible(slow);
  const teach1 = await tokenOf('teach1');
  const saved = await api(
    teach1,
    'GET',
    `/courses/${COURSE}/assignments/ps4/notebooks/squares-draft`
  );
  const cells = JSON.parse(saved.content).cells;
  expect(cells[1].metadata.nbgrader).toEqual({
    grade: false,
    solution: true,
    locked: false,
    task: false,
    grade_id: 'squares',
    schema_version: 3
  });
  expect(cells[2].metadata.nbgrader).toEqual({
    grade: true,
    solution: false,
    locked: true,
    task: false,
    grade_id: 'test_squares',
    points: 2,
    schema_version: 3
  });

  // Back in the Grader: Validate runs the tests with the solution in place (a unit pod) and
  // names the one that fails, in words.
  const graderTab = page.locator('.lm-TabBar-tab', { hasText: 'Grader' }).first();
  await graderTab.click();
  await sources.getByRole('button', { name: 'Validate' }).click();
  await expect(validation).toContainText('ps4 is not ready to generate: 1 problem to fix', slow);
  await expect(validation).toContainText(
    'squares-draft.ipynb: Cell 3 ("test_squares") does not get its points with the solution in place: AssertionError at: assert squares(3) == [1, 4, 10]'
  );
  await expect(validation).not.toContainText('Traceback');
  await shot(page, 'grader-validate-failing-test.png');

  // The teacher fixes the test in Lab and saves; Validate says ready.
  await page.locator('.lm-TabBar-tab', { hasText: 'squares-draft.ipynb' }).first().click();
  await notebook.locator('.jp-Cell').nth(2).locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('assert squares(3) == [1, 4, 9]');
  await notebook.locator('[data-command="docmanager:save"]').first().click();
  await expect
    .poll(
      async () =>
        // nbformat writes a source as its lines
        [
          JSON.parse(
            (await api(teach1, 'GET', `/courses/${COURSE}/assignments/ps4/notebooks/squares-draft`))
              .content
          ).cells[2].source
        ]
          .flat()
          .join(''),
      slow
    )
    .toBe('assert squares(3) == [1, 4, 9]');
  await graderTab.click();
  await sources.getByRole('button', { name: 'Validate' }).click();
  await expect(validation).toContainText('Ready to generate', slow);
  await expect(validation).toContainText('its tests pass with the solutions in place');
  await useTheme(page, 'dark');
  await shot(page, 'grader-validate-ready-dark.png');
  await useTheme(page, 'light');
  await grader.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(ok).toContainText('Generated the student version of ps4.', slow);
  await row.getByRole('button', { name: 'Preview student version of squares-draft' }).click();
  const preview = page.locator('.jp-HotstepperGrader-preview:visible');
  const previewTab = page.locator('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current');
  await expect(previewTab).toContainText('squares-draft (student version).ipynb', slow);
  await expect(previewTab).toHaveAttribute(
    'title',
    /The student version of squares-draft, read-only/
  );
  await expect(preview).toContainText('YOUR CODE HERE');
  await expect(preview).not.toContainText('BEGIN SOLUTION');
  await shot(page, 'grader-preview-student-version.png');
  await useTheme(page, 'dark');
  await shot(page, 'grader-preview-student-version-dark.png');
  await useTheme(page, 'light');
  await page.locator('.lm-TabBar-tab', { hasText: 'Grader' }).first().click();
  await grader.getByRole('button', { name: 'Release', exact: true }).click();
  await expect(ok).toContainText('Released ps4 to the students.', slow);
  await expect(grader.locator('.jp-HotstepperGrader-header')).toContainText('released');
  await runCommandFromPalette(page, 'Create Assignment');
  await expect(page.locator('[data-testid="grader-cell-toolbar"]')).toHaveCount(0);
});
