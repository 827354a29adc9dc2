/**
 * The grader's own records; grades themselves stay in nbgrader's gradebook. Autograde units (the
 * queue, with each attempt's log) and when feedback was released to whom.
 */
import type { Kysely, Migration } from 'kysely';

// Type aliases, not interfaces: Kysely's withTables<T> needs index-signature-compatible types.
export type GraderUnitRow = {
  id: string;
  course: string;
  assignment: string;
  student: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  attempts: number;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  seconds: number | null;
  error: string | null;
  log: string;
};

export type GraderFeedbackRow = {
  course: string;
  assignment: string;
  student: string;
  released_at: string;
};

export type GraderTables = { grader_units: GraderUnitRow; grader_feedback: GraderFeedbackRow };

export const migrations: Record<string, Migration> = {
  '2026-11-25_grader_units': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('grader_units')
        .addColumn('id', 'text', c => c.primaryKey())
        .addColumn('course', 'text', c => c.notNull())
        .addColumn('assignment', 'text', c => c.notNull())
        .addColumn('student', 'text', c => c.notNull())
        .addColumn('state', 'text', c => c.notNull())
        .addColumn('attempts', 'integer', c => c.notNull().defaultTo(0))
        .addColumn('queued_at', 'text', c => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('seconds', 'real')
        .addColumn('error', 'text')
        .addColumn('log', 'text', c => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .createIndex('grader_units_course_state')
        .on('grader_units')
        .columns(['course', 'state'])
        .execute();
      await db.schema
        .createTable('grader_feedback')
        .addColumn('course', 'text', c => c.notNull())
        .addColumn('assignment', 'text', c => c.notNull())
        .addColumn('student', 'text', c => c.notNull())
        .addColumn('released_at', 'text', c => c.notNull())
        .addPrimaryKeyConstraint('grader_feedback_pk', ['course', 'assignment', 'student'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('grader_feedback').execute();
      await db.schema.dropTable('grader_units').execute();
    }
  }
};
