/**
 * Where an autograde unit runs, as the queue sees it: the local executor (a forked process of
 * driver.py's pool, sandboxed, as an account of its own) or a Kubernetes Job per unit
 * (units-kubernetes.ts). The queue owns the database row; an executor runs a unit to its end and
 * says how it ended.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { accountRefusal, localRunRefusal, lookupAccount } from '../../platform/unix-accounts.js';
import type { IGraderConfig } from './config.js';
import type { IDriver } from './driver.js';
import type { GraderUnitRow } from './migrations.js';
import { handOver } from './units-handover.js';
import { unitMounts } from './units-objects.js';

const MAX_LOG = 200_000;

export interface IUnitOutcome {
  ok: boolean;
  code?: string;
  message?: string;
  /** The unit's log (the end of it, at most MAX_LOG characters). */
  log: string;
}

/** A unit that was running when the companion stopped: followed again, or lost and why. */
export type Resumed = { outcome: Promise<IUnitOutcome> } | { lost: string };

export interface IUnitExecutor {
  readonly kind: 'local' | 'kubernetes';
  /** Runs one claimed unit (attempts already counted) to its end. Never rejects. */
  run(unit: GraderUnitRow, request: Record<string, unknown>): Promise<IUnitOutcome>;
  /** After a restart, for a unit still marked running. */
  resume(unit: GraderUnitRow): Promise<Resumed>;
  /** What a running unit has logged so far; undefined when nothing of it runs here. */
  log(unit: GraderUnitRow): Promise<string | undefined>;
  /** Its outcome is stored: what is left of the unit (log file, Job) can go. */
  release(unit: GraderUnitRow): Promise<void>;
  close(): Promise<void>;
}

/** The end of a text: at most MAX_LOG characters. */
export const logTail = (text: string) => (text.length > MAX_LOG ? text.slice(-MAX_LOG) : text);

function tail(file: string): string {
  try {
    return logTail(readFileSync(file, 'utf8'));
  } catch {
    return '';
  }
}

export interface ILocalUnitsOptions {
  driver: IDriver;
  config: IGraderConfig;
  /** The companion's own state (the SQLite database's folder): root's alone, hidden from units. */
  stateDir: string;
}

/**
 * Units as processes of driver.py's pool, each with a wall-clock and an address-space limit, run
 * as grader.local.account in a sandbox (driver.py, sandbox): a mount namespace where the courses
 * root, the exchange root and the companion's state folder are empty, but for the unit's own
 * folders (unitMounts) bound back at their own paths, and a PID namespace of its own. Refuses to
 * start unless the companion is root, its state folder is root's alone, and the account is one
 * of its own.
 */
export function createLocalUnits(options: ILocalUnitsOptions): IUnitExecutor {
  const { config, driver } = options;
  const name = config.local.account;
  const refusal = localRunRefusal('grader.executor', [options.stateDir]);
  if (refusal) throw new Error(refusal);
  const account = lookupAccount(name);
  const wrong = accountRefusal(account, name);
  if (wrong || !account) {
    throw new Error(`grader.executor is local, but grader.local.account will not do: ${wrong}`);
  }
  // Running units' logs, written by the unit process itself (opened before it drops root).
  const logDir = mkdtempSync(join(tmpdir(), 'hs-grader-units-'));
  const live = new Set<string>();
  const fileOf = (id: string) => join(logDir, `${id}.log`);

  return {
    kind: 'local',

    async run(unit, request) {
      const logFile = fileOf(unit.id);
      live.add(unit.id);
      try {
        const mounts = unitMounts(config, unit);
        const [submitted, , gradebook, autograded] = mounts;
        if (!existsSync(submitted.path)) {
          const message = `there is no collected submission of ${unit.student} for ${unit.assignment}; collect it first`;
          return { ok: false, code: 'not_collected', message, log: '' };
        }
        // The two folders the unit writes are its account's (see units-handover.ts); the
        // companion, root, keeps writing them too.
        mkdirSync(gradebook.path, { recursive: true });
        mkdirSync(autograded.path, { recursive: true });
        handOver(gradebook.path, account.uid, account.gid, 1);
        handOver(autograded.path, account.uid, account.gid, Infinity);
        const sandbox = {
          uid: account.uid,
          gid: account.gid,
          hide: [resolve(config.coursesRoot), resolve(config.exchangeRoot), options.stateDir],
          mounts: mounts.map(m => ({ path: m.path, writable: m.writable }))
        };
        const result = await driver.isolated(
          'autograde',
          { ...request, memoryBytes: config.unitMemoryMb * 1024 * 1024, sandbox },
          { timeoutMs: config.unitTimeoutSeconds * 1000, logFile }
        );
        return { ...result, log: tail(logFile) };
      } catch (err) {
        return { ok: false, code: 'driver_error', message: (err as Error).message, log: '' };
      }
    },

    async resume() {
      // Its process went with the companion (the pool is the companion's child).
      return { lost: 'the companion stopped while this unit ran; retry it' };
    },

    async log(unit) {
      return live.has(unit.id) ? tail(fileOf(unit.id)) : undefined;
    },

    async release(unit) {
      live.delete(unit.id);
      rmSync(fileOf(unit.id), { force: true });
    },

    async close() {
      rmSync(logDir, { recursive: true, force: true });
    }
  };
}

/** The grader is off (no grader.python): no unit ever runs. */
export function createNoUnits(): IUnitExecutor {
  const off = 'the grader is not set up (grader.python names no course environment)';
  return {
    kind: 'local',
    run: async () => ({ ok: false, code: 'grader_not_configured', message: off, log: '' }),
    resume: async () => ({ lost: off }),
    log: async () => undefined,
    release: async () => undefined,
    close: async () => undefined
  };
}
