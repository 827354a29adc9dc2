/** Where the test platform lives and how to reach it; shared by the set-up and the specs. */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  HOTSTEPPER_LLM_PORT: process.env.HOTSTEPPER_LLM_PORT ?? '19300'
};

export interface ITestUser {
  password: string;
  groups: string[];
  hubAdmin?: boolean;
}

export function testUsers(): Record<string, ITestUser> {
  return JSON.parse(readFileSync(join(state, 'users.json'), 'utf8'));
}

/** The server's user in the notebook image (jovyan), who owns a home on the pods' volumes. */
const JOVYAN = { uid: 1000, gid: 100 };

/**
 * A user's home as the platform keeps it on this machine: the folder local-path-provisioner makes for
 * the claim of their pod (<volumes>/<namespace>/claim-<user>).
 */
export function homeOf(user: string, platformState = state): string {
  return join(platformState, 'k8s', 'node', 'volumes', `hs-${user}`, `claim-${user}`);
}

/**
 * A file put into a user's home before they log in, owned as if they had saved it themselves. A home
 * made here before the user's first pod is the user's too; the provisioner keeps a folder it finds.
 */
export function putInHome(user: string, name: string, content: string): string {
  const home = homeOf(user);
  if (!existsSync(home)) {
    mkdirSync(home, { recursive: true });
    chownSync(home, JOVYAN.uid, JOVYAN.gid);
  }
  const path = join(home, name);
  writeFileSync(path, content);
  chownSync(path, JOVYAN.uid, JOVYAN.gid);
  return path;
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
