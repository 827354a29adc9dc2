/**
 * Unix accounts for tests of the local executors, which run work as an account of its own (they
 * refuse to start otherwise). The accounts are made once per machine (`hst-<name>`, no login
 * shell, no home of their own) and kept: test processes run in parallel and share them.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupAccount, type IUnixAccount } from '../../src/platform/unix-accounts.js';

/** The account template the tests give the executors: alice runs as hst-alice. */
export const TEST_ACCOUNT = 'hst-{username}';

/** The account `hst-<name>`, made when the machine has none yet. */
export function testAccount(name: string): IUnixAccount {
  const account = `hst-${name}`;
  for (let attempt = 0; ; attempt++) {
    const found = lookupAccount(account);
    if (found) return found;
    try {
      execFileSync(
        'useradd',
        ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', account],
        { stdio: 'pipe' }
      );
    } catch (err) {
      // Another test process holds the passwd lock, or made the account just now.
      if (attempt >= 50) throw err;
      execFileSync('sleep', ['0.2']);
    }
  }
}

/**
 * Homes for `users` under a fresh root that the accounts can reach (the test scratch directory is
 * root's alone): `<root>/<user>`, each owned by the user's account. Returns the jobs.local.homeRoot.
 */
export function testHomes(users: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'hs-homes-'));
  chmodSync(root, 0o755);
  for (const user of users) {
    const { uid, gid } = testAccount(user);
    const home = join(root, user);
    mkdirSync(home, { recursive: true });
    chownSync(home, uid, gid);
  }
  return join(root, '{username}');
}

/** `path` and everything under it handed to `user`'s test account, as if the user had made it. */
export function giveTo(user: string, path: string): void {
  const { uid, gid } = testAccount(user);
  chownSync(path, uid, gid);
  if (lstatSync(path).isDirectory()) {
    for (const name of readdirSync(path)) giveTo(user, join(path, name));
  }
}

const ACCOUNTS_ENV = fileURLToPath(new URL('../../../dev/accounts/env.sh', import.meta.url));

/** papermill of the environment accounts can run (dev/accounts/env.sh, which set-up builds). */
export function accountsPapermill(): string {
  const dir = execFileSync('bash', [ACCOUNTS_ENV], { encoding: 'utf8' }).trim();
  return join(dir, 'bin', 'papermill');
}
