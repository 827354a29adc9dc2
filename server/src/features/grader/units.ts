/**
 * Where an autograde unit runs, as the queue sees it: the local executor (a forked process of
 * driver.py's pool, beside the companion) or a Kubernetes Job per unit (units-kubernetes.ts).
 * The queue owns the database row; an executor runs a unit to its end and says how it ended.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDriver } from './driver.js';
import type { GraderUnitRow } from './migrations.js';

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
  unitTimeoutSeconds: number;
  unitMemoryMb: number;
}

/** Units as processes of driver.py's pool, each with a wall-clock and an address-space limit. */
export function createLocalUnits(options: ILocalUnitsOptions): IUnitExecutor {
  // Running units' logs, written by the unit process itself.
  const logDir = mkdtempSync(join(tmpdir(), 'hs-grader-units-'));
  const live = new Set<string>();
  const fileOf = (id: string) => join(logDir, `${id}.log`);

  return {
    kind: 'local',

    async run(unit, request) {
      const logFile = fileOf(unit.id);
      live.add(unit.id);
      try {
        const result = await options.driver.isolated(
          'autograde',
          { ...request, memoryBytes: options.unitMemoryMb * 1024 * 1024 },
          { timeoutMs: options.unitTimeoutSeconds * 1000, logFile }
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
