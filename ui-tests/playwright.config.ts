/**
 * Browser tests against the real local platform: JupyterHub, each user's JupyterLab and the companion,
 * started once by global-setup.ts on ports of their own (so a running `npm start` is left alone).
 */
import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './chromium';

export default defineConfig({
  testDir: 'tests',
  outputDir: 'test-results',
  timeout: 180_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  globalSetup: './global-setup.ts',
  globalTeardown: './global-teardown.ts',
  use: {
    baseURL: `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_PORT ?? '18000'}`,
    viewport: { width: 1280, height: 800 },
    video: 'off',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: chromiumLaunchOptions
  }
});
