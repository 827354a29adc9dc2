/**
 * The autograde queue: each (assignment, student) is a unit, run by an executor (units.ts: a
 * local process, or a Kubernetes Job) with `concurrency` at once, each with a wall-clock and
 * memory limit. Units live in the database, so the panel sees them (and their logs) however many
 * times it polls. After a restart, a unit that was running is followed again when its executor
 * can (a Job still there) and marked failed otherwise; either way it can be retried.
 * Parallel units write one SQLite gradebook: each write is a short transaction, and every writer
 * waits up to 30 s for the others (driver.py), measured without lock failures at concurrency 4.
 */
import { randomUUID } from 'node:crypto';
import type { GraderUnit } from '@hotstepper/schema';
import type { Kysely } from 'kysely';
import type { ICourseRef } from './driver.js';
import type { GraderTables, GraderUnitRow } from './migrations.js';
import type { IUnitExecutor, IUnitOutcome } from './units.js';

export interface IQueueOptions {
  db: Kysely<GraderTables>;
  executor: IUnitExecutor;
  concurrency: number;
  courseRef: (course: string) => Promise<ICourseRef>;
  /** Called when a unit ends, e.g. to forget cached rows. */
  onSettled?: (unit: GraderUnitRow) => void;
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
  const { db, executor } = options;
  let running = 0;
  let stopped = false;
  let idle: (() => void)[] = [];

  /** Counts the unit as running until its outcome is stored, then looks for the next. */
  function track(unit: GraderUnitRow, outcome: Promise<IUnitOutcome>) {
    running++;
    void settle(unit, outcome).finally(() => {
      running--;
      if (running === 0) {
        for (const w of idle) w();
        idle = [];
      }
      void pump();
    });
  }

  async function recover() {
    const units = await db
      .selectFrom('grader_units')
      .selectAll()
      .where('state', '=', 'running')
      .execute();
    for (const unit of units) {
      const resumed = await executor.resume(unit);
      if ('outcome' in resumed) {
        track(unit, resumed.outcome);
        continue;
      }
      await db
        .updateTable('grader_units')
        .set({ state: 'failed', finished_at: new Date().toISOString(), error: resumed.lost })
        .where('id', '=', unit.id)
        .where('state', '=', 'running')
        .execute();
    }
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
      const unit: GraderUnitRow = {
        ...next,
        state: 'running',
        started_at: new Date().toISOString(),
        attempts: next.attempts + 1
      };
      const claimed = await db
        .updateTable('grader_units')
        .set({ state: unit.state, started_at: unit.started_at, attempts: unit.attempts })
        .where('id', '=', next.id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      track(unit, start(unit));
    }
  }

  async function start(unit: GraderUnitRow): Promise<IUnitOutcome> {
    try {
      const ref = await options.courseRef(unit.course);
      return await executor.run(unit, {
        ...ref,
        assignment: unit.assignment,
        student: unit.student
      });
    } catch (err) {
      return { ok: false, code: 'driver_error', message: (err as Error).message, log: '' };
    }
  }

  async function settle(unit: GraderUnitRow, outcome: Promise<IUnitOutcome>) {
    const result = await outcome.catch((err: Error): IUnitOutcome => ({
      ok: false,
      code: 'driver_error',
      message: err.message,
      log: ''
    }));
    // At shutdown a local unit was killed, not finished, and a Job runs on: the row stays
    // 'running' and the next start's recover() decides.
    if (stopped) return;
    const error = result.ok ? null : `${result.code}: ${(result.message ?? '').slice(-2000)}`;
    const started = Date.parse(unit.started_at ?? '') || Date.now();
    const row = {
      state: (result.ok ? 'done' : 'failed') as GraderUnitRow['state'],
      finished_at: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      error,
      log: result.log
    };
    await db.updateTable('grader_units').set(row).where('id', '=', unit.id).execute();
    // Before the next unit starts: with Jobs, no more of them exist than `concurrency`.
    await executor.release(unit).catch(() => undefined);
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

    /** The unit's log: read from where it runs while it runs, stored afterwards. */
    async log(row: GraderUnitRow): Promise<string> {
      return (row.state === 'running' ? await executor.log(row) : undefined) ?? row.log;
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

    /**
     * Resolves when nothing runs (tests and the bench wait for the queue to drain); rejects after
     * `timeoutMs`, naming what still waits, so a caller never hangs on a stuck unit.
     */
    async drained(timeoutMs = 30 * 60_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (Date.now() > until) {
          throw new Error(
            `the grader queue did not drain within ${timeoutMs} ms (${running} running)`
          );
        }
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

    async stop() {
      stopped = true;
      await executor.close();
    }
  };
}

export type GraderQueue = ReturnType<typeof createQueue>;
