/**
 * The idle guard as a user meets it, with the companion restarted on the guard's short policy in
 * seconds (dev/idle/ui-test.yaml; dev/idle/exporter.mjs measures the local servers for
 * Prometheus): Lab shows the countdown and a notification, "Keep running"
 * snoozes, the server is stopped later, and on return Lab explains why. The owner is mailed too.
 */
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { SMTPServer } from 'smtp-server';
import { artefacts, env, restartCompanion, root } from '../platform';
import { logInToLab } from './lab';

const shot = (page: Page, name: string) => page.screenshot({ path: join(artefacts, name) });
const mails: string[] = [];
let smtp: SMTPServer;

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
  restartCompanion({
    HOTSTEPPER_CONFIG: join(root, 'dev/idle/ui-test.yaml'),
    HOTSTEPPER_IDLE_HUB_URL: `http://127.0.0.1:${env.HOTSTEPPER_HUB_PORT}`,
    HOTSTEPPER_SMTP_PORT: port
  });
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
  await page.goto('/hub/spawn');
  const launch = page.getByRole('button', { name: 'Launch Server' });
  await expect(async () => {
    if (await launch.isVisible()) await launch.click();
    await page.waitForURL('**/user/alice/lab**', { timeout: 15_000 });
  }).toPass({ timeout: 120_000 });
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
