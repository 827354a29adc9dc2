/**
 * The autograde queue: each (assignment, student) is a unit, run by the local process executor
 * with `concurrency` at once, each in its own process with a wall-clock and memory limit. Units
 * live in the database, so the panel sees them (and their logs) however many times it polls;
 * a unit that was running when the companion stopped is marked failed and can be retried.
 * Parallel units write one SQLite gradebook: each write is a short transaction, and every writer
 * waits up to 30 s for the others (driver.py), measured without lock failures at concurrency 4.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraderUnit } from '@hotstepper/schema';
import type { Kysely } from 'kysely';
import type { ICourseRef, IDriver } from './driver.js';
import type { GraderTables, GraderUnitRow } from './migrations.js';

export interface IQueueOptions {
  db: Kysely<GraderTables>;
  driver: IDriver;
  concurrency: number;
  unitTimeoutSeconds: number;
  unitMemoryMb: number;
  courseRef: (course: string) => Promise<ICourseRef>;
  /** Called when a unit ends, e.g. to forget cached rows. */
  onSettled?: (unit: GraderUnitRow) => void;
}

const MAX_LOG = 200_000;

/** The end of a log file: what was written so far, at most MAX_LOG characters. */
function tail(file: string): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > MAX_LOG ? text.slice(-MAX_LOG) : text;
  } catch {
    return '';
  }
}

export const toUnit = (r: GraderUnitRow): GraderUnit => ({
  id: r.id,
  course: r.course,
  assignment: r.assignment,
  student: r.student,
  state: r.state,
  attempts: r.attempts,
  queuedAt: r.queued_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  seconds: r.seconds,
  error: r.error
});

export function createQueue(options: IQueueOptions) {
  const { db } = options;
  // Running units' logs, written by the unit process itself (driver.py's pool).
  const live = new Map<string, string>();
  const logDir = mkdtempSync(join(tmpdir(), 'hs-grader-units-'));
  let running = 0;
  let stopped = false;
  let idle: (() => void)[] = [];

  async function recover() {
    await db
      .updateTable('grader_units')
      .set({ state: 'failed', error: 'the companion stopped while this unit ran; retry it' })
      .where('state', '=', 'running')
      .execute();
  }

  async function pump(): Promise<void> {
    while (!stopped && running < options.concurrency) {
      const next = await db
        .selectFrom('grader_units')
        .selectAll()
        .where('state', '=', 'queued')
        .orderBy('queued_at')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();
      if (!next) break;
      const claimed = await db
        .updateTable('grader_units')
        .set({
          state: 'running',
          started_at: new Date().toISOString(),
          attempts: next.attempts + 1
        })
        .where('id', '=', next.id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      running++;
      void run(next).finally(() => {
        running--;
        if (running === 0) {
          for (const w of idle) w();
          idle = [];
        }
        void pump();
      });
    }
  }

  async function run(unit: GraderUnitRow) {
    const started = Date.now();
    const logFile = join(logDir, `${unit.id}.log`);
    live.set(unit.id, logFile);
    let result: { ok: boolean; code?: string; message?: string };
    try {
      const ref = await options.courseRef(unit.course);
      result = await options.driver.isolated(
        'autograde',
        {
          ...ref,
          assignment: unit.assignment,
          student: unit.student,
          memoryBytes: options.unitMemoryMb * 1024 * 1024
        },
        { timeoutMs: options.unitTimeoutSeconds * 1000, logFile }
      );
    } catch (err) {
      result = { ok: false, code: 'driver_error', message: (err as Error).message };
    }
    const error = result.ok ? null : `${result.code}: ${(result.message ?? '').slice(-2000)}`;
    const row = {
      state: (result.ok ? 'done' : 'failed') as GraderUnitRow['state'],
      finished_at: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      error,
      log: tail(logFile)
    };
    live.delete(unit.id);
    rmSync(logFile, { force: true });
    // At shutdown the unit was killed, not finished: it stays 'running' and recover() fails it.
    if (stopped) return;
    await db.updateTable('grader_units').set(row).where('id', '=', unit.id).execute();
    options.onSettled?.({ ...unit, ...row });
  }

  return {
    async start() {
      await recover();
      void pump();
    },

    /** Queue a unit per student, skipping students who already have one waiting or running. */
    async enqueue(course: string, assignment: string, students: string[]): Promise<void> {
      const busy = new Set(
        (
          await db
            .selectFrom('grader_units')
            .select('student')
            .where('course', '=', course)
            .where('assignment', '=', assignment)
            .where('state', 'in', ['queued', 'running'])
            .execute()
        ).map(r => r.student)
      );
      const now = new Date().toISOString();
      const rows = students
        .filter(s => !busy.has(s))
        .map(student => ({
          id: randomUUID(),
          course,
          assignment,
          student,
          state: 'queued' as const,
          attempts: 0,
          queued_at: now,
          started_at: null,
          finished_at: null,
          seconds: null,
          error: null,
          log: ''
        }));
      for (let i = 0; i < rows.length; i += 200) {
        await db
          .insertInto('grader_units')
          .values(rows.slice(i, i + 200))
          .execute();
      }
      void pump();
    },

    async retry(course: string, id: string): Promise<GraderUnitRow | undefined> {
      const done = await db
        .updateTable('grader_units')
        .set({
          state: 'queued',
          queued_at: new Date().toISOString(),
          error: null,
          started_at: null,
          finished_at: null,
          seconds: null
        })
        .where('id', '=', id)
        .where('course', '=', course)
        .where('state', '=', 'failed')
        .executeTakeFirst();
      const row = await this.unit(course, id);
      if (Number(done.numUpdatedRows) === 1) void pump();
      return row;
    },

    async unit(course: string, id: string) {
      return db
        .selectFrom('grader_units')
        .selectAll()
        .where('id', '=', id)
        .where('course', '=', course)
        .executeTakeFirst();
    },

    /** The unit's log: read from its file while it runs, stored afterwards. */
    log(row: GraderUnitRow): string {
      const file = live.get(row.id);
      return file ? tail(file) : row.log;
    },

    /** The latest units of a course (one per assignment and student is what the panel shows). */
    async list(course: string, limit = 2000): Promise<GraderUnitRow[]> {
      return db
        .selectFrom('grader_units')
        .selectAll()
        .where('course', '=', course)
        .orderBy('queued_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .execute();
    },

    /** Resolves when nothing runs (tests and the bench wait for the queue to drain). */
    async drained(): Promise<void> {
      for (;;) {
        const waiting = await db
          .selectFrom('grader_units')
          .select('id')
          .where('state', 'in', ['queued', 'running'])
          .limit(1)
          .execute();
        if (waiting.length === 0 && running === 0) return;
        await new Promise<void>(resolve => {
          idle.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },

    stop() {
      stopped = true;
      rmSync(logDir, { recursive: true, force: true });
    }
  };
}

export type GraderQueue = ReturnType<typeof createQueue>;
