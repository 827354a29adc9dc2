/**
 * Unix accounts, for the local executors of a single-machine hub: there a job or an autograde unit
 * runs as an account of its own, never as the companion. Switching to it needs root, so the
 * executors ask `localRunRefusal` before they start and refuse, naming why.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

export interface IUnixAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** `template` with `{username}` replaced: the account a hub user's work runs as. */
export const accountName = (template: string, user: string) =>
  template.replaceAll('{username}', user);

/** The account from the passwd database (getent, so NSS sources count too); undefined if none. */
export function lookupAccount(name: string): IUnixAccount | undefined {
  // An account name is never an option or a path; anything else is no account of ours.
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(name)) return undefined;
  const res = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (res.status !== 0) return undefined;
  const [, , uid, gid, , home] = res.stdout.trim().split(':');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** Why work cannot run as other accounts from this companion, as one sentence; undefined if it can. */
export function localRunRefusal(setting: string, guarded: string[]): string | undefined {
  const uid = process.getuid?.();
  if (uid !== 0) {
    return `${setting} is local, which runs each one as a Unix account of its own: the companion must run as root to switch to it, and it runs as uid ${uid ?? 'unknown'}. Use the kubernetes executor`;
  }
  for (const path of guarded) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && mode & 0o077) {
      return `${setting} is local, but ${path} is open to other accounts (mode ${(mode & 0o777).toString(8)}): make it 700 so the work it runs cannot read the companion's state`;
    }
  }
  return undefined;
}

/** Why `account` may not run work (missing, root, or the companion's own); undefined if it may. */
export function accountRefusal(
  account: IUnixAccount | undefined,
  name: string
): string | undefined {
  if (!account) return `there is no Unix account named ${name} on this machine`;
  if (account.uid === 0 || account.uid === process.getuid?.()) {
    return `the Unix account ${name} is root or the companion's own`;
  }
  return undefined;
}
