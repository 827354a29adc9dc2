/**
 * Whose server a port on this machine's loopback belongs to (flare.gateway.target loopback, where
 * users' servers are local processes). An owner's report only names a port; which user's server
 * actually listens there is read from the kernel: the listening socket's inode (/proc/net/tcp,
 * tcp6), the process holding it (/proc/<pid>/fd), and the nearest process up its parent chain that
 * the hub started as a user's server (JUPYTERHUB_USER in its environment: a process can rewrite
 * only its own, so alice can give her app away but never claim bob's). A platform service, or a
 * process the companion cannot see, belongs to nobody, so it is never forwarded to.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';
// 127.0.0.1, 0.0.0.0, ::1, :: and ::ffff:127.0.0.1 / ::ffff:0.0.0.0 as /proc/net writes them.
const REACHABLE = new Set([
  '0100007F',
  '00000000',
  '00000000000000000000000001000000',
  '00000000000000000000000000000000',
  '0000000000000000FFFF00000100007F',
  '0000000000000000FFFF000000000000'
]);

/** Inodes of the sockets listening on `port` at an address the loopback reaches. */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const [address, p] = f[1].split(':');
      if (p === hex && REACHABLE.has(address)) inodes.add(f[9]);
    }
  }
  return inodes;
}

function holderOf(inodes: Set<string>): number | undefined {
  const wanted = new Set([...inodes].map(i => `socket:[${i}]`));
  for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

function hubUserOf(pid: number): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return env.find(e => e.startsWith('JUPYTERHUB_USER='))?.slice('JUPYTERHUB_USER='.length);
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** The hub user whose server listens on `port` of the loopback; undefined when none does. */
export function listenerOwner(port: number): string | undefined {
  const inodes = listeningInodes(port);
  if (!inodes.size) return undefined;
  let pid = holderOf(inodes);
  for (let depth = 0; pid && pid > 1 && depth < 64; depth++) {
    const user = hubUserOf(pid);
    if (user !== undefined) return user;
    pid = parentOf(pid);
  }
  return undefined;
}
