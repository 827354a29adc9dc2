/**
 * The idle guard as a user meets it, with the companion restarted on the guard's short policy in
 * seconds (dev/idle/ui-test.yaml; Prometheus reads the server pod's CPU from the kubelet): Lab shows the countdown and a notification, "Keep running"
 * snoozes, the server is stopped later, and on return Lab explains why. The owner is mailed too.
 */
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { SMTPServer } from 'smtp-server';
import { artefacts, env, restartCompanion, root } from '../platform';
import { logInToLab, openPanel, openTerminal, runCommandFromPalette, spawnFromHub } from './lab';

const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });
const mails: string[] = [];
let smtp: SMTPServer;
/** The companion's environment for the guard's short policy (set once the mail port is known). */
let guardEnv: Record<string, string> = {};

test.beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        mails.push(raw.replace(/=\r?\n/g, ''));
        done();
      });
    }
  });
  const port = process.env.HOTSTEPPER_IDLE_SMTP_PORT ?? '19025';
  await new Promise<void>(r => smtp.listen(Number(port), '127.0.0.1', () => r()));
  // The guard's short policy, asking this platform's hub and mailing the server above.
  guardEnv = {
    HOTSTEPPER_CONFIG: join(root, 'dev/idle/ui-test.yaml'),
    HOTSTEPPER_IDLE_HUB_URL: `http://127.0.0.1:${env.HOTSTEPPER_HUB_PORT}`,
    HOTSTEPPER_SMTP_PORT: port
  };
  restartCompanion(guardEnv);
});

test.afterAll(async () => {
  restartCompanion();
  await new Promise<void>(r => smtp.close(() => r()));
});

test('countdown, "Keep running", then why the server was stopped', async ({ page }) => {
  test.setTimeout(360_000);
  await logInToLab(page, 'alice');
  // The countdown is polled every 30 s by default; this test's windows last 30 s.
  await page.evaluate(async () => {
    const xsrf = /_xsrf=([^;]+)/.exec(document.cookie)?.[1] ?? '';
    const base = window.location.pathname.replace(/lab.*$/, '');
    await fetch(`${base}lab/api/settings/@hotstepper/idle:plugin`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf) },
      body: JSON.stringify({ raw: '{"refreshInterval": 2}' })
    });
  });
  await page.reload();
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });

  // Left alone for one window: warned in Lab, with the countdown in the status bar.
  const toast = page.locator('.Toastify__toast', { hasText: 'This server is idle' });
  await expect(toast).toBeVisible({ timeout: 90_000 });
  await expect(toast).toContainText(/idle 1 of 2 windows of 30 s — will stop \w{3} \d\d:\d\d/);
  const badge = page.locator('.hs-idle-badge');
  await expect(badge).toHaveText(/^idle 1 of 2 windows of 30 s — will stop/);
  await shot(page, 'idle-countdown.png');
  await expect
    .poll(() => mails.find(m => /To: alice@example.org/.test(m)) ?? '', { timeout: 20_000 })
    .toMatch(/idle 1 of 2 windows of 30 s/);

  // "Keep running" snoozes within the policy: the countdown goes, the snooze shows.
  await toast.getByRole('button', { name: 'Keep running' }).click();
  await expect(page.locator('.Toastify__toast', { hasText: 'Kept running until' })).toBeVisible();
  await expect(badge).toHaveText(/^kept running until/);
  await shot(page, 'idle-kept-running.png');

  // The snooze ends, two more idle windows pass, and the hub stops the server.
  await expect(page.getByText('Server unavailable or unreachable')).toBeVisible({
    timeout: 150_000
  });

  // Back again: the hub starts the server, and Lab explains what happened. Lab may lose the server
  // while the hub is still stopping it: then the hub says "Server not running", and she launches it.
  await spawnFromHub(page, 'alice');
  const dialog = page.locator('.jp-Dialog', { hasText: 'Your server was stopped while idle' });
  await expect(dialog).toBeVisible({ timeout: 90_000 });
  await expect(dialog).toContainText('after 2 idle periods in a row');
  await expect(dialog).toContainText(/CPU [0-9.]+ cores < 0\.3/);
  await shot(page, 'idle-stop-explanation.png');
  await dialog.getByRole('button', { name: 'Got it' }).click();
  await expect(dialog).toHaveCount(0);
  expect(
    mails.some(
      m => /was stopped because it was idle/.test(m.replace(/_/g, ' ')) || /was stopped/.test(m)
    )
  ).toBe(true);

  // Shown once: a reload does not bring it back.
  await page.reload();
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });
  await page.waitForTimeout(5000);
  await expect(dialog).toHaveCount(0);
});

/** The explanation of an earlier stop (the test above, or an idle server an earlier spec left) is
 * in the way of the palette: read, as a person would. */
async function dismissStopExplanation(page: Page): Promise<void> {
  const explained = page.locator('.jp-Dialog', { hasText: 'Your server was stopped while idle' });
  const shown = await explained.waitFor({ timeout: 10_000 }).then(
    () => true,
    () => false
  );
  if (shown) await explained.getByRole('button', { name: 'Got it' }).click();
}

test('operators: Idle Servers by state with the figures, and LLM token use in Usage', async ({
  page,
  browser
}) => {
  test.setTimeout(360_000);
  // ops's own server is left alone (exempt) while ops looks: this test watches alice's.
  restartCompanion({ ...guardEnv, HOTSTEPPER_IDLE_EXEMPT: 'ops' });

  // alice's server runs and is busy (a CPU loop in a terminal), so the guard judges it in use
  // with figures instead of stopping it while ops looks. After the test above it may be stopping.
  const alice = await browser.newPage();
  await logInToLab(alice, 'alice').catch(async () => {
    await spawnFromHub(alice, 'alice');
    await expect(alice.locator('#jupyterlab-splash')).toHaveCount(0, { timeout: 60_000 });
  });
  await dismissStopExplanation(alice);
  await openTerminal(alice);
  await alice.locator('.jp-Terminal').last().click();
  await alice.keyboard.type("timeout 300 python3 -c 'while True: pass'\n");
  // Her status bar says where she stands even while in use.
  await expect(alice.locator('.hs-idle-badge')).toHaveText(
    /^(in use|not judged|idle \d.*|kept running.*)$/,
    { timeout: 60_000 }
  );

  // ops opens the operators' panel from the palette (the command is shown to operators only).
  await logInToLab(page, 'ops');
  await dismissStopExplanation(page);
  await openPanel(page, 'Open Idle Servers', '#hotstepper-idle-servers');
  const panel = page.locator('#hotstepper-idle-servers');
  await expect(panel.getByRole('heading', { name: 'Idle servers', exact: true })).toBeVisible();
  // The guard judges alice's window (30 s) as in use, with its CPU figure.
  const row = panel.locator('.hs-IdleServers-group[data-state="active"] tr[data-user="alice"]');
  await expect(async () => {
    await panel.getByRole('button', { name: 'Refresh' }).click();
    await expect(row).toBeVisible({ timeout: 3000 });
    await expect(row.locator('td').nth(3)).toHaveText('in use', { timeout: 1000 });
    await expect(row.locator('td').nth(4)).toHaveText(/^\d+(\.\d+)?$/, { timeout: 1000 });
  }).toPass({ timeout: 150_000 });
  await expect(row).toContainText(/cpu: windows of 30 s, warn after 1, stop after 2/);
  await expect(row.locator('td').last()).toContainText(/CPU/);
  await expect(panel.getByRole('heading', { name: /^Active \(\d+\)$/ })).toBeVisible();
  await expect(panel).toContainText(/Last round .* running servers? seen/);
  await expect(panel).toContainText('Never judged (exempt): ops');
  await expect(panel.getByRole('heading', { name: 'Stops in the last 7 days' })).toBeVisible();
  await expect(panel.locator('[role="progressbar"]')).toHaveCount(0);
  await shot(page, 'idle-servers-light.png');
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Dark');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await shot(page, 'idle-servers-dark.png');
  // Leave ops's Lab light, as other specs expect it.
  await runCommandFromPalette(page, 'Use Theme: JupyterLab Light');
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');

  // LLM token use, in the operators' part of the Usage panel.
  await openPanel(page, 'Open Usage', '.jp-HotstepperUsage-panel');
  const llm = page.locator('.jp-HotstepperUsage-llm');
  await expect(llm.getByRole('heading')).toHaveText(
    'LLM tokens for welcome summaries (operators)',
    { timeout: 60_000 }
  );
  await expect(llm).toContainText(/tokens in all|No welcome summary has used the LLM yet/);
  await llm.scrollIntoViewIfNeeded();
  await shot(page, 'usage-llm-tokens.png');

  // alice's loop ends with the test.
  await alice.locator('.jp-Terminal').last().click();
  await alice.keyboard.press('Control+C');
  await alice.close();
});
