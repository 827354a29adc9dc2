import { execFileSync } from 'node:child_process';
import { env, root } from './platform';

export default function globalSetup(): void {
  // Start from a clean platform: a leftover from an aborted run would hold the ports.
  execFileSync('bash', [`${root}/dev/stop.sh`], { env: { ...process.env, ...env }, stdio: 'ignore' });
  execFileSync('bash', [`${root}/dev/start.sh`, '--detach'], {
    env: { ...process.env, ...env },
    stdio: 'inherit'
  });
}
