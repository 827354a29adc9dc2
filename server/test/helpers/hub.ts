/**
 * A real JupyterHub (from the PyPI venv the dev scripts build) on free loopback ports, with its
 * state in a temporary directory. See test/fixtures/jupyterhub_config.py for users and groups.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONFIG = fileURLToPath(new URL('../fixtures/jupyterhub_config.py', import.meta.url));

/** The venv with jupyterhub: $HOTSTEPPER_VENV, else computed exactly as dev/env.sh does. */
export function hubVenv(): string {
  if (process.env.HOTSTEPPER_VENV) return process.env.HOTSTEPPER_VENV;
  const cache = process.env.HOTSTEPPER_CACHE || join(homedir(), '.cache', 'hotstepper');
  const pyver = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'])
    .toString()
    .trim();
  const requirements = readFileSync(join(ROOT, 'dev', 'requirements.txt'));
  const digest = createHash('sha256').update(requirements).digest('hex').slice(0, 12);
  return join(cache, `venv-py${pyver}-${digest}`);
}

export interface IHubToken {
  id: string;
  token: string;
}

export interface IHub {
  /** e.g. http://127.0.0.1:41234/hub/api */
  apiUrl: string;
  /** The proxy, as browsers reach the hub and users' servers: http://127.0.0.1:<port> */
  url: string;
  /** The companion's service token, registered with the hub. */
  serviceToken: string;
  /** A token of `user`; `scopes` instead of a server token's, e.g. a subset of an admin's. */
  createToken(user: string, scopes?: string[]): Promise<IHubToken>;
  revokeToken(user: string, id: string): Promise<void>;
  stop(): Promise<void>;
}

/** `config`: another hub config file (e.g. one that loads the default and adds a spawner). */
export async function startHub(options: { config?: string } = {}): Promise<IHub> {
  const venv = hubVenv();
  const bin = join(venv, 'bin', 'jupyterhub');
  if (!existsSync(bin)) {
    throw new Error(`no jupyterhub at ${bin}: run 'npm run setup' (or set HOTSTEPPER_VENV)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hs-hub-'));
  const [hubPort, apiPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
  const serviceToken = randomBytes(24).toString('hex');
  const apiUrl = `http://127.0.0.1:${apiPort}/hub/api`;
  const log = openSync(join(dir, 'jupyterhub.log'), 'a');
  const child: ChildProcess = spawn(bin, ['-f', options.config ?? CONFIG], {
    cwd: dir,
    // Its own process group, so stop() ends the hub together with configurable-http-proxy.
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      PATH: `${join(venv, 'bin')}:${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
      HS_TEST_HUB_DIR: dir,
      HS_TEST_HUB_PORT: String(hubPort),
      HS_TEST_HUB_API_PORT: String(apiPort),
      HS_TEST_PROXY_API_PORT: String(proxyPort),
      HS_TEST_SERVICE_TOKEN: serviceToken
    }
  });
  let exited: string | undefined;
  const done = new Promise<void>(resolve =>
    child.once('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
      resolve();
    })
  );

  const stop = async () => {
    if (!exited && child.pid) {
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(
        () => !exited && child.pid && process.kill(-child.pid, 'SIGKILL'),
        10_000
      );
      await done;
      clearTimeout(timer);
    }
    // The hub stops the proxy it started; make sure, in case it could not.
    const pidFile = join(dir, 'proxy.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      'JupyterHub',
      90,
      async () => (await fetch(`${apiUrl}/`)).ok,
      () =>
        exited
          ? `${exited}; log:\n${readFileSync(join(dir, 'jupyterhub.log'), 'utf8').slice(-3000)}`
          : undefined
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { Authorization: `token ${serviceToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    if (!res.ok) throw new Error(`hub ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
  };

  return {
    apiUrl,
    url: `http://127.0.0.1:${hubPort}`,
    serviceToken,
    async createToken(user, scopes) {
      // By default what a user's server token carries that is not tied to one server: activity,
      // and access to the companion (the fixture's server role), without which it refuses it.
      const made = await api('POST', `/users/${user}/tokens`, {
        note: 'hotstepper test',
        expires_in: 3600,
        scopes: scopes ?? ['users:activity!user', 'access:services!service=hotstepper']
      });
      return { id: String(made?.id), token: String(made?.token) };
    },
    async revokeToken(user, id) {
      await api('DELETE', `/users/${user}/tokens/${id}`);
    },
    stop
  };
}
