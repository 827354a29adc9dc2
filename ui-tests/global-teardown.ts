import { execFileSync } from 'node:child_process';
import { env, root } from './platform';

export default function globalTeardown(): void {
  execFileSync('bash', [`${root}/dev/stop.sh`], {
    env: { ...process.env, ...env },
    stdio: 'inherit'
  });
}
