/**
 * A real Kubernetes control plane for a test file: etcd, kube-apiserver, controller-manager,
 * scheduler and kwok from dev/k8s (binaries built once, cached by version), in a temporary state
 * directory on a port range of its own. It fails the test, never skips it, when it cannot start.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface ITestCluster {
  kubeconfig: string;
  kc: KubeConfig;
  state: string;
  env: NodeJS.ProcessEnv;
  /** The pid of one component, e.g. kube-apiserver, from the state directory. */
  pid(component: string): number;
  stop(): Promise<void>;
}

function bindable(port: number): Promise<boolean> {
  return new Promise(done => {
    const probe = createServer()
      .once('error', () => done(false))
      .listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

/** A port base whose ports (up.sh: BASE+247/257/259/379/380/443, a real node's 248/250) are free. */
async function portBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    // Below the kernel's ephemeral range (32768-60999): an outgoing connection cannot take a port
    // between the check and the start (a CI run lost etcd's peer port that way).
    const base = 20000 + Math.floor(Math.random() * 120) * 100;
    const free = await Promise.all(
      [247, 248, 250, 257, 259, 379, 380, 443].map(o => bindable(base + o))
    );
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range for a local control plane');
}

/** SIGKILL each process a pid file in `dir` names, if it still runs that binary (as down.sh checks). */
function killLeftovers(dir: string) {
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.pid')) continue;
    const name = file.slice(0, -'.pid'.length);
    try {
      const pid = Number(readFileSync(join(dir, file), 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (pid > 0 && cmdline.includes(`/${name} `)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone, or not ours
    }
  }
}

/**
 * `realNode`: also join a real node (dev/node/up.sh: containerd and a kubelet) where pods that
 * tolerate hotstepper.dev/real-node run as real containers.
 */
export async function startCluster(options: { realNode?: boolean } = {}): Promise<ITestCluster> {
  const state = mkdtempSync(join(tmpdir(), 'hs-k8s-'));
  const env = {
    ...process.env,
    HOTSTEPPER_K8S_STATE: state,
    HOTSTEPPER_K8S_PORT_BASE: String(await portBase()),
    HOTSTEPPER_REAL_NODE: options.realNode ? 'on' : 'off'
  };
  const stop = async () => {
    // down.sh sends SIGTERM, then SIGKILL after 10 s, to each component; should it itself not end
    // within 2 min (e.g. the real node's teardown), it is killed and whatever its pid files still
    // name (checked to run that binary) gets SIGKILL here: stop() never hangs.
    await run('bash', [join(root, 'dev/k8s/down.sh'), '--purge'], {
      env,
      timeout: 120_000,
      killSignal: 'SIGKILL'
    }).catch(() => undefined);
    killLeftovers(join(state, 'pids'));
    rmSync(state, { recursive: true, force: true });
  };
  try {
    const { stdout } = await run('bash', [join(root, 'dev/k8s/up.sh')], {
      env,
      maxBuffer: 16 << 20
    });
    const kubeconfig = stdout.trim().split('\n').pop() as string;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    return {
      kubeconfig,
      kc,
      state,
      env,
      pid: component => Number(readFileSync(join(state, 'pids', `${component}.pid`), 'utf8')),
      stop
    };
  } catch (err) {
    await stop();
    throw new Error(`could not start the local Kubernetes control plane: ${String(err)}`);
  }
}
