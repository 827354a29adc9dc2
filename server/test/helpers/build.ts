/** build(): the companion as tests use it, through app.inject, closed when the test ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type IBuildOptions } from '../../src/app.js';
import { validateConfig, type IConfig } from '../../src/platform/config.js';

export type Overrides = { [K in keyof IConfig]?: Partial<IConfig[K]> };

// Every SQLite file of this test process lives here; it goes when the process does.
const scratch = mkdtempSync(join(tmpdir(), 'hs-test-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** A directory of its own for a test, removed with the test process. */
export const scratchDir = () => mkdtempSync(join(scratch, 'd-'));

/** A valid configuration: quiet logs, a fresh SQLite file, and whatever the test overrides. */
export function testConfig(overrides: Overrides = {}): IConfig {
  const raw: Record<string, object> = {
    log: { level: 'silent' },
    database: { path: join(scratchDir(), 'hotstepper.sqlite') },
    // Most tests have no cluster, where target pod refuses to start: apps on loopback unless a
    // test sets flare.gateway itself.
    flare: { gateway: { target: 'loopback' } }
  };
  for (const [key, value] of Object.entries(overrides)) raw[key] = { ...raw[key], ...value };
  return validateConfig(raw);
}

/** Build and start the app (migrations included); it is closed after the test. */
export async function build(
  t: TestContext,
  config: IConfig,
  options: IBuildOptions = {}
): Promise<FastifyInstance> {
  const app = await buildApp(config, options);
  t.after(() => app.close());
  await app.ready();
  return app;
}
