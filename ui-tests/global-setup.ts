import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { env, root, state } from './platform';

export default function globalSetup(): void {
  // Start from a clean platform: a leftover from an aborted run would hold the ports.
  execFileSync('bash', [`${root}/dev/stop.sh`], {
    env: { ...process.env, ...env },
    stdio: 'ignore'
  });
  // Every run starts as a new deployment would: no users' files, workspaces or preferences.
  rmSync(state, { recursive: true, force: true });
  execFileSync('bash', [`${root}/dev/start.sh`, '--detach'], {
    env: { ...process.env, ...env },
    stdio: 'inherit'
  });
}
