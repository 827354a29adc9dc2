/** build(): the companion as tests use it, through app.inject, closed when the test ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type IBuildOptions } from '../../src/app.js';
import { validateConfig, type IConfig } from '../../src/platform/config.js';
import { TEST_ACCOUNT } from './unix-accounts.js';

type DeepPartial<T> = T extends unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
/** What a test changes of the configuration: objects are merged into the defaults key by key. */
export type Overrides = DeepPartial<IConfig>;

// Every SQLite file of this test process lives here; it goes when the process does.
const scratch = mkdtempSync(join(tmpdir(), 'hs-test-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** A directory of its own for a test, removed with the test process. */
export const scratchDir = () => mkdtempSync(join(scratch, 'd-'));

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `base` with `over` laid on it, objects merged key by key, anything else replaced. */
function merged(base: Record<string, unknown>, over: Record<string, unknown>) {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObject(value) && isObject(out[key]) ? merged(out[key], value) : value;
  }
  return out;
}

/** A valid configuration: quiet logs, a fresh SQLite file, and whatever the test overrides. */
export function testConfig(overrides: Overrides = {}): IConfig {
  const raw: Record<string, unknown> = {
    log: { level: 'silent' },
    database: { path: join(scratchDir(), 'hotstepper.sqlite') },
    // Most tests have no cluster, where target pod refuses to start: apps on loopback unless a
    // test sets flare.gateway itself.
    flare: { gateway: { target: 'loopback' } },
    // Most tests have no cluster either: jobs run locally, each as its owner's test account.
    jobs: { executor: 'local', local: { account: TEST_ACCOUNT } },
    grader: { executor: 'local', local: { account: 'hst-grader' } }
  };
  return validateConfig(merged(raw, overrides));
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
