/**
 * Where an autograde unit runs, as the queue sees it: the local executor (a forked process of
 * driver.py's pool, sandboxed, as an account of its own) or a Kubernetes Job per unit
 * (units-kubernetes.ts). The queue owns the database row; an executor runs a unit to its end and
 * says how it ended.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { accountRefusal, localRunRefusal, lookupAccount } from '../../platform/unix-accounts.js';
import type { IGraderConfig } from './config.js';
import type { IDriver } from './driver.js';
import type { GraderUnitRow } from './migrations.js';
import { handOver } from './units-handover.js';
import { testMounts, unitMounts, type IUnitMount } from './units-objects.js';

const MAX_LOG = 200_000;

export interface IUnitOutcome {
  ok: boolean;
  code?: string;
  message?: string;
  /** The unit's log (the end of it, at most MAX_LOG characters). */
  log: string;
  /** What its op answered besides the log (test_source's failures). */
  answer?: unknown;
}

/** An assignment whose source notebooks a test unit runs (Validate). */
export interface ITestTarget {
  course: string;
  assignment: string;
}

/** A unit that was running when the companion stopped: followed again, or lost and why. */
export type Resumed = { outcome: Promise<IUnitOutcome> } | { lost: string };

export interface IUnitExecutor {
  readonly kind: 'local' | 'kubernetes';
  /** Runs one claimed unit (attempts already counted) to its end. Never rejects. */
  run(unit: GraderUnitRow, request: Record<string, unknown>): Promise<IUnitOutcome>;
  /**
   * Runs an assignment's source notebooks with their solutions (driver.py's test_source) in a
   * unit of its own that sees only that source folder, read-only; waits for it, and cleans up.
   * Never rejects.
   */
  test(target: ITestTarget, request: Record<string, unknown>): Promise<IUnitOutcome>;
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

  /** One op of driver.py as the account, seeing only `mounts` of the courses, with the limits. */
  const sandboxed = async (
    op: string,
    request: Record<string, unknown>,
    mounts: readonly IUnitMount[],
    logFile: string
  ): Promise<IUnitOutcome> => {
    const sandbox = {
      uid: account.uid,
      gid: account.gid,
      hide: [resolve(config.coursesRoot), resolve(config.exchangeRoot), options.stateDir],
      mounts: mounts.map(m => ({ path: m.path, writable: m.writable }))
    };
    const result = await driver.isolated(
      op,
      { ...request, memoryBytes: config.unitMemoryMb * 1024 * 1024, sandbox },
      { timeoutMs: config.unitTimeoutSeconds * 1000, logFile }
    );
    return { ...result, log: tail(logFile) };
  };

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
        return await sandboxed('autograde', request, mounts, logFile);
      } catch (err) {
        return { ok: false, code: 'driver_error', message: (err as Error).message, log: '' };
      }
    },

    async test(target, request) {
      const logFile = join(logDir, `test-${randomUUID()}.log`);
      try {
        return await sandboxed('test_source', request, testMounts(config, target), logFile);
      } catch (err) {
        return { ok: false, code: 'driver_error', message: (err as Error).message, log: '' };
      } finally {
        rmSync(logFile, { force: true });
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
    test: async () => ({ ok: false, code: 'grader_not_configured', message: off, log: '' }),
    resume: async () => ({ lost: off }),
    log: async () => undefined,
    release: async () => undefined,
    close: async () => undefined
  };
}
