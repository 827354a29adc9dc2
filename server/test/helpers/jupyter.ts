/**
 * A real Jupyter server (jupyter-server from the venv the dev scripts build) running this
 * checkout's Hotstepper extension from source, on a free loopback port with its own config, data
 * and runtime directories, and a hub token of the test's choosing in JUPYTERHUB_API_TOKEN.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubVenv } from './hub.js';
import { freePort, waitFor } from './ports.js';

const SOURCE = fileURLToPath(new URL('../../../jupyter/', import.meta.url));

export interface IJupyter {
  url: string;
  /** The server's own login token (?token=...). */
  token: string;
  /** The server's process id: what its listening ports are counted under. */
  pid: number;
  stop(): Promise<void>;
}

export interface IJupyterOptions {
  /** jupyter_server_config.py's text. */
  config: string;
  /** JUPYTERHUB_API_TOKEN: what the extension sends the companion. */
  hubToken: string;
  /** HOTSTEPPER_URL; unset without it. */
  companionUrl?: string;
  env?: Record<string, string>;
}

/** Start it and wait until it answers; SIGKILL on stop if SIGTERM is not enough. */
export async function startJupyter(options: IJupyterOptions): Promise<IJupyter> {
  const venv = hubVenv();
  const dir = mkdtempSync(join(tmpdir(), 'hs-jupyter-'));
  for (const sub of ['config', 'data', 'runtime', 'root']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'config', 'jupyter_server_config.py'), options.config);
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The extension from this checkout, ahead of the wheel the set-up installed.
    PYTHONPATH: SOURCE,
    JUPYTER_CONFIG_DIR: join(dir, 'config'),
    JUPYTER_DATA_DIR: join(dir, 'data'),
    JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
    JUPYTERHUB_API_TOKEN: options.hubToken,
    ...options.env
  };
  delete env.HOTSTEPPER_URL;
  if (options.companionUrl) env.HOTSTEPPER_URL = options.companionUrl;
  const log = openSync(join(dir, 'server.log'), 'a');
  const child: ChildProcess = spawn(
    join(venv, 'bin', 'jupyter-server'),
    [
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.open_browser=False',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${join(dir, 'root')}`,
      ...(process.getuid?.() === 0 ? ['--allow-root'] : [])
    ],
    { cwd: dir, env, detached: true, stdio: ['ignore', log, log] }
  );
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
      const kill = setTimeout(
        () => !exited && child.pid && process.kill(-child.pid, 'SIGKILL'),
        5000
      );
      await done;
      clearTimeout(kill);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'the Jupyter server',
      60,
      async () => (await fetch(`${url}/api/status?token=${token}`)).ok,
      () =>
        exited
          ? `${exited}; log:\n${readFileSync(join(dir, 'server.log'), 'utf8').slice(-3000)}`
          : undefined
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, token, pid: child.pid ?? 0, stop };
}
