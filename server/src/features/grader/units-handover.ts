/**
 * A companion running as root makes course folders only root can write. Before a unit runs as
 * another uid (a Kubernetes unit's runAsUser, a local unit's account), the companion gives it the
 * two folders the unit writes (units-objects.ts, unitMounts) rather than opening them to everyone.
 */
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Gives `path` (and what is in it, `depth` levels down) to uid:gid (gid -1: unchanged). Only
 * folders and regular files with one link, with lchown: a unit runs student code, which can leave
 * links in the folders it writes, and none of them may make root chown something else.
 */
export function handOver(path: string, uid: number, gid: number, depth: number): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || !(st.isDirectory() || (st.isFile() && st.nlink === 1))) return;
  if (st.uid !== uid || (gid !== -1 && st.gid !== gid)) lchownSync(path, uid, gid);
  if (st.isDirectory() && depth > 0)
    for (const name of readdirSync(path)) handOver(join(path, name), uid, gid, depth - 1);
}
