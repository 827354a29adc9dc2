/**
 * The local executor, for a hub on one machine whose users are Unix accounts: each job is a
 * supervised child process of the companion that runs as its owner's account (jobs.local.account),
 * never as the companion. The wrapper shell below stays root so it can write the exit file and the
 * log where only the companion reads them; only the job's own argv goes through setpriv, with an
 * environment of its own (nothing of the companion's). The executor refuses to start when the
 * companion is not root or its state is open to other accounts (platform/unix-accounts.ts).
 * A job runs in a process group of its own (so cancel and the time limit reach everything it
 * started, a notebook's kernel included), in the user's home. Memory is capped with prlimit --as
 * (RLIMIT_AS) when util-linux's prlimit is there; cgroups are not used (the companion may not own
 * one). The wrapper passes the argv through "$@" untouched, and writes the exit status to a file,
 * so a job that ends while the companion is down still gets its exit code when it comes back.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type { JobSpec } from '@hotstepper/schema';
import { HttpProblem } from '../../../platform/problem.js';
import {
  accountName,
  accountRefusal,
  localRunRefusal,
  lookupAccount,
  type IUnixAccount
} from '../../../platform/unix-accounts.js';
import type { IJobsConfig } from '../config.js';
import { tailFile } from '../logfile.js';
import { homeOf, localNotebook } from '../paths.js';
import type { IExecutorContext, IJobExecutor, IJobRun, IJobUpdate } from './types.js';

// $0 is the exit file, $1 the log cap in bytes; "$@" then the job's argv, never parsed by this
// shell. The job's output goes through a pipe: head -c keeps the first $1 bytes, unbuffered by
// stdbuf so each read is written at once (the log is live). Not dd: its count_bytes counts every
// short read from a pipe as a whole block, so a job printing a line at a time had its log cut
// after a few lines. When more comes a line says the log was cut and cat swallows the rest, so
// the job goes on (it is never stopped for writing, nor by SIGPIPE). The traps keep the shells alive through SIGTERM (sent to
// the whole group) so they can record how the job ended, and note it: a SIGTERM that comes while
// the pipe is being set up means the job is not started at all. The reading side ignores SIGTERM,
// so a job that prints while it shuts down still has a reader. SIGKILL after the grace ends all.
const WRAPPER = [
  'e=$0; cap=$1; shift',
  'trap "stop=1" TERM INT',
  '{',
  '  trap "stop=1" TERM INT',
  '  if [ -z "$stop" ]; then "$@"; code=$?; else code=143; fi',
  '  echo "$code" > "$e.tmp" && mv "$e.tmp" "$e"',
  '} 2>&1 | {',
  '  trap "" TERM INT',
  '  stdbuf -o0 head -c "$cap"',
  '  if [ "$(dd bs=1 count=1 2>/dev/null | wc -c)" -gt 0 ]; then',
  '    printf "\\n[hotstepper] The log was cut here at %s bytes (jobs.caps.logBytesPerJob): the job goes on, its further output is not kept.\\n" "$cap"',
  '    cat > /dev/null',
  '  fi',
  '}',
  'code=$(cat "$e" 2>/dev/null)',
  'exit "${code:-1}"'
].join('\n');

/** How long the wrapper may still be setting up after it was spawned. */
const SETUP_MS = 300;

interface ITracked {
  pid: number;
  /** When the companion started it (0 when reattached after a restart). */
  since: number;
  cancelled: boolean;
  timedOut: boolean;
  timers: NodeJS.Timeout[];
  poll?: NodeJS.Timeout;
}

/** Field 22 of /proc/<pid>/stat: when the process started, so a reused pid is not mistaken. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has ended; it only waits for its parent to read its status.
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

const hasPrlimit = () => spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0;

export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** The account `user`'s jobs run as; a 409 naming why when there is none that may. */
export function accountOf(config: IJobsConfig, user: string): IUnixAccount {
  const name = accountName(config.local.account, user);
  const account = lookupAccount(name);
  const refusal = accountRefusal(account, name);
  if (refusal || !account) {
    throw new HttpProblem(
      409,
      'no_account',
      `Your jobs cannot run on this machine: ${refusal}. Ask your operator.`
    );
  }
  return account;
}

export function createLocalExecutor(
  config: IJobsConfig,
  logRoot: string,
  stateDir: string,
  ctx: IExecutorContext
): IJobExecutor {
  const tracked = new Map<string, ITracked>();
  let closed = false;
  const prlimit = hasPrlimit();
  const graceMs = config.local.killGraceSeconds * 1000;
  mkdirSync(logRoot, { recursive: true, mode: 0o700 });
  // Every job's log and exit file are here: no account but the companion's reads them.
  chmodSync(logRoot, 0o700);
  const refusal = localRunRefusal('jobs.executor', [stateDir]);
  if (refusal) throw new Error(refusal);
  if (!prlimit) ctx.log.warn('prlimit (util-linux) not found: local jobs run without a memory cap');

  const dirOf = (id: string) => join(logRoot, id);
  const homeFor = (user: string) => homeOf(config.local.homeRoot, user);

  function signal(pid: number, sig: NodeJS.Signals) {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group, SIGKILL after the grace period. */
  function stop(entry: ITracked) {
    signal(entry.pid, 'SIGTERM');
    // In its first moments the wrapper's shells are still setting up their traps, and a SIGTERM
    // that reaches one then can be lost (the job starts anyway): once more when they are ready.
    if (Date.now() - entry.since < SETUP_MS) {
      entry.timers.push(setTimeout(() => signal(entry.pid, 'SIGTERM'), SETUP_MS));
    }
    entry.timers.push(setTimeout(() => signal(entry.pid, 'SIGKILL'), graceMs));
  }

  async function finish(
    job: { id: string; spec: JobSpec },
    entry: ITracked | undefined,
    late = false
  ) {
    if (entry) {
      entry.timers.forEach(clearTimeout);
      if (entry.poll) clearInterval(entry.poll);
    }
    tracked.delete(job.id);
    rmSync(paramsDirOf(job.id), { recursive: true, force: true });
    // After close, a new companion (or the next start) reads the exit file instead.
    if (closed) return;
    const file = join(dirOf(job.id), 'exit');
    const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    const code = /^\d+$/.test(text) ? Number(text) : null;
    const patch: IJobUpdate = { finishedAt: new Date().toISOString(), exitCode: code };
    if (entry?.cancelled) {
      patch.state = 'cancelled';
      patch.message = 'Cancelled.';
    } else if (entry?.timedOut) {
      patch.state = 'failed';
      patch.message = `Stopped at its time limit of ${job.spec.timeLimitSeconds} s.`;
    } else if (code === 0) {
      patch.state = 'succeeded';
      patch.message = null;
    } else {
      patch.state = 'failed';
      patch.message =
        code === null
          ? 'It was killed before it could exit (out of memory, or a signal).'
          : code === 127
            ? 'Exited with code 127: the command was not found.'
            : `Exited with code ${code}.`;
    }
    if (late && patch.message !== undefined) {
      patch.message = `${patch.message ?? 'Succeeded.'} (It ended while the companion was restarting.)`;
    }
    await ctx.update(job.id, patch);
  }

  function armTimeLimit(job: IJobRun, entry: ITracked, startedAt: number) {
    const limit = (job.spec.timeLimitSeconds ?? config.defaults.timeLimitSeconds) * 1000;
    const left = Math.max(0, startedAt + limit - Date.now());
    entry.timers.push(
      setTimeout(() => {
        entry.timedOut = true;
        stop(entry);
      }, left)
    );
  }

  /**
   * A notebook's parameters, where only the job's account (and root) reads them: not on the command
   * line (every account sees /proc/<pid>/cmdline) and not in the job's directory (closed to it).
   */
  const paramsDirOf = (id: string) => join(tmpdir(), `hotstepper-job-${id}`);
  function paramsFile(job: IJobRun, account: IUnixAccount): string {
    const dir = paramsDirOf(job.id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'parameters.json');
    writeFileSync(file, JSON.stringify(job.spec.notebook?.parameters ?? {}), { mode: 0o600 });
    chownSync(file, account.uid, account.gid);
    chownSync(dir, account.uid, account.gid);
    return file;
  }

  function argvOf(
    job: IJobRun,
    home: string,
    account: IUnixAccount
  ): { argv: string[]; output?: string } {
    const spec = job.spec;
    if (spec.notebook) {
      const input = localNotebook(home, spec.notebook.path);
      const stem = basename(input, '.ipynb');
      const out = join(dirname(input), `${stem}-${timestamp()}.ipynb`);
      const params = paramsFile(job, account);
      return {
        argv: [config.local.papermill, input, out, '-f', params, '--cwd', dirname(input)].concat([
          '--log-output',
          '--no-progress-bar'
        ]),
        output: relative(home, out)
      };
    }
    const command = spec.command ?? [];
    return { argv: spec.shell ? ['/bin/sh', '-c', command.join(' ')] : command };
  }

  function follow(job: IJobRun, entry: ITracked) {
    // Not our child (after a restart): look every second whether it is still there.
    entry.poll = setInterval(() => {
      if (startTicks(entry.pid) === undefined) void finish(job, entry, true);
    }, 1000);
  }

  return {
    kind: 'local',

    async defaults() {
      return { spec: {} };
    },

    async check(user, spec) {
      accountOf(config, user);
      const home = homeFor(user);
      if (!existsSync(home)) {
        throw new HttpProblem(
          409,
          'home_missing',
          `Your home directory (${home}) does not exist yet: start your notebook server once, then submit again.`
        );
      }
      if (spec.notebook) localNotebook(home, spec.notebook.path);
    },

    async quota() {
      return [];
    },

    async start(job) {
      const home = homeFor(job.user);
      const dir = dirOf(job.id);
      const account = accountOf(config, job.user);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { argv, output } = argvOf(job, home, account);
      // The account's own groups (as a login gives them), no capability, no way back to root.
      const asOwner = [
        'setpriv',
        `--reuid=${account.uid}`,
        `--regid=${account.gid}`,
        '--init-groups',
        '--inh-caps=-all',
        '--',
        ...argv
      ];
      const memory = (job.spec.memoryMiB ?? config.defaults.memoryMiB) * 1024 * 1024;
      const wrapped = [
        '/bin/sh',
        '-c',
        WRAPPER,
        join(dir, 'exit'),
        String(config.caps.logBytesPerJob),
        ...asOwner
      ];
      const command = prlimit ? ['prlimit', `--as=${memory}`, '--', ...wrapped] : wrapped;
      const papermillBin = dirname(config.local.papermill);
      const env: NodeJS.ProcessEnv = {
        PATH: `${papermillBin === '.' ? '' : `${papermillBin}:`}${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: home,
        USER: account.name,
        LOGNAME: account.name,
        LANG: process.env.LANG ?? 'C.UTF-8',
        PYTHONUNBUFFERED: '1',
        HOTSTEPPER_JOB_ID: job.id,
        ...job.spec.env,
        ...job.secretEnv
      };
      const log = openSync(join(dir, 'output.log'), 'a');
      let child;
      try {
        child = spawn(command[0], command.slice(1), {
          cwd: home,
          env,
          detached: true,
          stdio: ['ignore', log, log]
        });
      } finally {
        closeSync(log);
      }
      const pid = child.pid;
      if (pid === undefined) {
        await new Promise(resolve => child.once('error', resolve));
        return {
          state: 'failed',
          finishedAt: new Date().toISOString(),
          message: 'The job could not be started (see the companion log).'
        };
      }
      const entry: ITracked = {
        pid,
        since: Date.now(),
        cancelled: false,
        timedOut: false,
        timers: []
      };
      tracked.set(job.id, entry);
      child.once('exit', () => void finish(job, entry));
      child.unref();
      const now = Date.now();
      armTimeLimit(job, entry, now);
      return {
        state: 'running',
        startedAt: new Date(now).toISOString(),
        output: output ?? null,
        runtime: { pid, startTicks: startTicks(pid) ?? null, dir }
      };
    },

    async cancel(job) {
      const entry = tracked.get(job.id);
      if (!entry) return;
      entry.cancelled = true;
      stop(entry);
    },

    async remove(job) {
      const entry = tracked.get(job.id);
      if (entry) {
        entry.cancelled = true;
        signal(entry.pid, 'SIGKILL');
        entry.timers.forEach(clearTimeout);
        if (entry.poll) clearInterval(entry.poll);
        tracked.delete(job.id);
      }
      rmSync(dirOf(job.id), { recursive: true, force: true });
      rmSync(paramsDirOf(job.id), { recursive: true, force: true });
    },

    async logs(job, options, emit) {
      await tailFile(join(dirOf(job.id), 'output.log'), options, emit);
    },

    async resume(jobs) {
      for (const job of jobs) {
        const pid = Number(job.runtime.pid);
        const alive =
          pid > 0 && startTicks(pid) !== undefined && startTicks(pid) === job.runtime.startTicks;
        if (alive) {
          const entry: ITracked = { pid, since: 0, cancelled: false, timedOut: false, timers: [] };
          tracked.set(job.id, entry);
          follow(job, entry);
          armTimeLimit(job, entry, Date.parse(job.createdAt));
          ctx.log.info({ job: job.id, pid }, 'reattached a running local job');
        } else if (existsSync(join(dirOf(job.id), 'exit'))) {
          await finish(job, undefined, true);
        } else {
          await ctx.update(job.id, {
            state: 'failed',
            finishedAt: new Date().toISOString(),
            message:
              'The companion restarted and this job was no longer running (its process is gone without an exit status).'
          });
        }
      }
    },

    async close() {
      closed = true;
      // Jobs outlive the companion on purpose; only our timers go.
      for (const entry of tracked.values()) {
        entry.timers.forEach(clearTimeout);
        if (entry.poll) clearInterval(entry.poll);
      }
      tracked.clear();
    }
  };
}
