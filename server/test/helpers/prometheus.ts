/**
 * A real Prometheus (Debian's /usr/bin/prometheus) for a test file, run by the local platform's
 * own dev/usage/prometheus.sh: its own temporary directory, a free port, a short scrape interval.
 * It fails the test, never skips it, when it cannot start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.js';

const SCRIPT = fileURLToPath(new URL('../../../dev/usage/prometheus.sh', import.meta.url));

export interface ITestPrometheus {
  url: string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  exporterPort: number;
  companionPort?: number;
  interval?: string;
  /** A test cluster's state dir whose real node's kubelet is scraped too (/metrics/resource). */
  kubeletOf?: string;
}): Promise<ITestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-prom-'));
  const port = await freePort();
  // Without a companion to scrape, a port nobody listens on: that target is just down.
  const companionPort = options.companionPort ?? (await freePort());
  const child: ChildProcess = spawn(
    'bash',
    [
      SCRIPT,
      dir,
      String(port),
      String(options.exporterPort),
      String(companionPort),
      options.interval ?? '1s'
    ],
    // Only the test's exporter: not a local platform's local-server exporter, should its port be set.
    // Its own process group, so stop() can SIGKILL all of it should SIGTERM not end it.
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        HOTSTEPPER_KUBELET_SCRAPE: options.kubeletOf ?? ''
      }
    }
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    // A child killed by a signal keeps exitCode null: a second stop must not wait for 'exit' again.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(r => child.once('exit', r));
      const signal = (name: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, name);
        } catch {
          // already gone
        }
      };
      signal('SIGTERM');
      // SIGTERM, up to 10 s to exit, then SIGKILL the process group: stop() never hangs.
      const kill = setTimeout(() => signal('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'prometheus',
      30,
      async () => (await fetch(`${url}/-/ready`)).ok,
      () => (child.exitCode !== null ? stderr || `exit code ${child.exitCode}` : undefined)
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
