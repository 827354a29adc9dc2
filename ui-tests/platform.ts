/** Where the test platform lives and how to reach it; shared by the set-up and the specs. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const state = process.env.HOTSTEPPER_STATE ?? join(root, '.state', 'ui-tests');

/** Ports of their own, so the tests never meet a platform someone started with `npm start`. */
export const env = {
  HOTSTEPPER_STATE: state,
  HOTSTEPPER_HUB_PORT: process.env.HOTSTEPPER_HUB_PORT ?? '18000',
  HOTSTEPPER_HUB_API_PORT: process.env.HOTSTEPPER_HUB_API_PORT ?? '18081',
  HOTSTEPPER_PROXY_API_PORT: process.env.HOTSTEPPER_PROXY_API_PORT ?? '18001',
  HOTSTEPPER_PORT: process.env.HOTSTEPPER_PORT ?? '19100',
  HOTSTEPPER_K8S_PORT_BASE: process.env.HOTSTEPPER_K8S_PORT_BASE ?? '17000',
  HOTSTEPPER_FLARE_PORT: process.env.HOTSTEPPER_FLARE_PORT ?? '19180',
  HOTSTEPPER_PROMETHEUS_PORT: process.env.HOTSTEPPER_PROMETHEUS_PORT ?? '19090',
  HOTSTEPPER_USAGE_EXPORTER_PORT: process.env.HOTSTEPPER_USAGE_EXPORTER_PORT ?? '19091',
  HOTSTEPPER_LLM_PORT: process.env.HOTSTEPPER_LLM_PORT ?? '19300',
  HOTSTEPPER_LOCAL_EXPORTER_PORT: process.env.HOTSTEPPER_LOCAL_EXPORTER_PORT ?? '19092'
};

export interface ITestUser {
  password: string;
  groups: string[];
  hubAdmin?: boolean;
}

export function testUsers(): Record<string, ITestUser> {
  return JSON.parse(readFileSync(join(state, 'users.json'), 'utf8'));
}

export const artefacts = join(root, 'ui-tests', 'artefacts');

/**
 * Restart the platform's companion with another configuration (a spec that needs the Kubernetes
 * executor or a policy in seconds); called without arguments it goes back to the defaults.
 */
export function restartCompanion(extra: Record<string, string> = {}): void {
  execFileSync('bash', [join(root, 'dev/start.sh'), '--restart-companion'], {
    env: { ...process.env, ...env, ...extra },
    stdio: 'inherit'
  });
}
