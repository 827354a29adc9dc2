/**
 * The grader's logic: who may see which course, and each operation as nbgrader runs it in the
 * course environment (driver.py). Instructors are members of formgrade-<course>; anyone else
 * asking for a course's instructor side gets 404, as if the course did not exist.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type {
  GraderAssignment,
  GraderCourse,
  GraderGrades,
  GraderMyAssignment,
  GraderNotebook,
  GraderRoster,
  GraderStudent,
  GraderSubmission,
  GraderValidation,
  User
} from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { csv, inert } from '../../platform/csv.js';
import { HttpProblem } from '../../platform/problem.js';
import { homesOwnerOf, type IGraderConfig } from './config.js';
import type { ICourseRef, IDriver } from './driver.js';
import { INSTRUCTORS, STUDENTS, type GraderHub } from './hub.js';
import type { GraderTables } from './migrations.js';
import { NAME } from './names.js';
import { parseRoster, usableMembers, usableName } from './roster.js';
import type { ITestTarget, IUnitOutcome } from './units.js';

export function checkName(field: string, value: string): void {
  if (!usableName(value)) {
    throw new HttpProblem(
      400,
      'name_invalid',
      `${field} "${value}" is not a name nbgrader can use: letters, digits, "_", "-" and "." only ` +
        '(no "/", "+", spaces or "..", at most 63 characters), starting with a letter or digit.',
      [{ path: `params.${field}`, message: 'must be a plain name without path separators' }]
    );
  }
}

/** A score as nbgrader writes it: a number stays a number (a negative one is no formula). */
const NUMBER = /^-?\d+(\.\d+)?$/;
const notFound = (what: string) => new HttpProblem(404, 'not_found', `There is no ${what} here.`);

/**
 * Whether the student has fetched: home/course/assignment is a folder, reached through no
 * symbolic link (the home is the student's; a link would make this an oracle on other paths).
 */
function fetchedIn(home: string | undefined, course: string, assignment: string): boolean {
  if (!home) return false;
  let path = home;
  for (const part of [course, assignment]) {
    path = join(path, part);
    if (!lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) return false;
  }
  return true;
}

export interface IGraderServiceDeps {
  config: IGraderConfig;
  driver: IDriver;
  hub: GraderHub;
  db: Kysely<GraderTables>;
  /** The user's namespace, for grader.homes' `{namespace}`. */
  namespaceOf: (user: string) => string;
  queueUnits: (
    course: string,
    assignment: string
  ) => Promise<Map<string, GraderSubmission['unit']>>;
  /** Runs an assignment's source notebooks in a unit of their own (the executor's test). */
  testSource: (target: ITestTarget, request: Record<string, unknown>) => Promise<IUnitOutcome>;
  /** Where skipped hub group members are reported (warn). */
  log?: Pick<FastifyBaseLogger, 'warn'>;
}

export function createGraderService(deps: IGraderServiceDeps) {
  const { config, driver, hub, db } = deps;
  const coursesRoot = resolve(config.coursesRoot);
  const exchange = resolve(config.exchangeRoot);
  const ensured = new Map<string, Promise<void>>();

  async function courseRef(course: string): Promise<ICourseRef> {
    const ref: ICourseRef = {
      courseDir: join(coursesRoot, course),
      course,
      exchange,
      cellTimeoutSeconds: config.cellTimeoutSeconds,
      latePenalty: config.latePenalty
    };
    let ready = ensured.get(course);
    if (!ready) {
      ready = driver.call<void>('ensure', { ...ref });
      ensured.set(course, ready);
      ready.catch(() => ensured.delete(course));
    }
    await ready;
    return ref;
  }

  const homesOwner = homesOwnerOf(config);
  // One pass, so a hub name holding "{namespace}" is not expanded again.
  const homeOf = (user: string) =>
    config.homes?.replace(/\{(user|namespace)\}/g, (_, key: string) =>
      key === 'user' ? user : deps.namespaceOf(user)
    );

  /** 404 unless the caller teaches this course. */
  function teach(user: User, course: string): void {
    if (!user.groups.includes(`${INSTRUCTORS}${course}`)) throw notFound(`course "${course}"`);
  }

  function attend(user: User, course: string): void {
    if (!user.groups.includes(`${STUDENTS}${course}`)) throw notFound(`course "${course}"`);
  }

  async function assignmentList(course: string): Promise<GraderAssignment[]> {
    return driver.call<GraderAssignment[]>('assignments', { ...(await courseRef(course)) });
  }

  async function assignment(course: string, name: string): Promise<GraderAssignment> {
    const found = (await assignmentList(course)).find(a => a.name === name);
    if (!found) throw notFound(`assignment "${name}" in course "${course}"`);
    return found;
  }

  // The skipped members last reported per course, so a panel's polling does not repeat the warning.
  const reported = new Map<string, string>();

  /** The course's hub group: the members nbgrader can take, and the others, reported at warn. */
  async function members(course: string): Promise<{ usable: string[]; skipped: string[] }> {
    const group = `${STUDENTS}${course}`;
    const split = usableMembers(await hub.members(group));
    const key = JSON.stringify(split.skipped);
    if (split.skipped.length && reported.get(course) !== key) {
      deps.log?.warn(
        { course, skipped: split.skipped },
        `grader: ${split.skipped.length} member(s) of hub group ${group} have names nbgrader cannot use ` +
          '("/", "+", spaces, "..", a leading dot, more than 63 characters); not added to the gradebook'
      );
    }
    reported.set(course, key);
    return split;
  }

  /** Hub students who are not yet in the gradebook are added (ids only), so every row shows. */
  async function syncRoster(course: string, ref: ICourseRef): Promise<void> {
    const { usable } = await members(course);
    const known = new Set(
      (await driver.call<GraderStudent[]>('students', { ...ref })).map(s => s.id)
    );
    const missing = usable.filter(m => !known.has(m));
    if (missing.length)
      await driver.call('add_students', { ...ref, students: missing.map(id => ({ id })) });
  }

  async function released(course: string, assignmentName: string): Promise<Map<string, string>> {
    const rows = await db
      .selectFrom('grader_feedback')
      .select(['student', 'released_at'])
      .where('course', '=', course)
      .where('assignment', '=', assignmentName)
      .execute();
    return new Map(rows.map(r => [r.student, r.released_at]));
  }

  return {
    courseRef,
    teach,

    async courses(user: User): Promise<GraderCourse[]> {
      const out: GraderCourse[] = [];
      for (const g of user.groups) {
        const role = g.startsWith(INSTRUCTORS)
          ? 'instructor'
          : g.startsWith(STUDENTS)
            ? 'student'
            : undefined;
        if (!role) continue;
        const name = g.slice((role === 'instructor' ? INSTRUCTORS : STUDENTS).length);
        if (!NAME.test(name)) continue;
        const students = role === 'instructor' ? (await members(name)).usable.length : 0;
        const instructors = role === 'instructor' ? await hub.members(`${INSTRUCTORS}${name}`) : [];
        out.push({ name, role, students, instructors });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name) || a.role.localeCompare(b.role));
    },

    assignments: assignmentList,
    assignment,

    async putAssignment(course: string, name: string, duedate: string | null, allowPast: boolean) {
      checkName('assignment', name);
      let due: string | null = null;
      if (duedate !== null) {
        // A zone is required: "17:00" means nothing to students in other zones.
        const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(
          duedate
        );
        const when = new Date(duedate);
        if (!ok || Number.isNaN(when.getTime())) {
          throw new HttpProblem(
            400,
            'duedate_invalid',
            `duedate "${duedate}" is not an ISO 8601 date-time with a zone, e.g. 2026-12-01T17:00:00Z.`,
            [{ path: 'body.duedate', message: 'must be an ISO 8601 date-time with a zone' }]
          );
        }
        if (when.getTime() < Date.now() && !allowPast) {
          throw new HttpProblem(
            400,
            'duedate_invalid',
            `duedate ${duedate} is in the past; give a future date (or allowPastDuedate: true to record an old one).`,
            [{ path: 'body.duedate', message: 'is in the past' }]
          );
        }
        due = when.toISOString();
      }
      await driver.call('put_assignment', {
        ...(await courseRef(course)),
        assignment: name,
        duedate: due
      });
      return assignment(course, name);
    },

    async putNotebook(course: string, name: string, notebook: string, content: string) {
      checkName('assignment', name);
      checkName('notebook', notebook);
      await assignment(course, name);
      await driver.call('put_notebook', {
        ...(await courseRef(course)),
        assignment: name,
        notebook,
        content
      });
      return {
        message: `${notebook}.ipynb saved in source/${name}/.`,
        log: `${notebook}.ipynb saved in source/${name}/`
      };
    },

    /** A notebook of the assignment as text: its source, or the student version Generate made. */
    async notebook(course: string, name: string, notebook: string, version: 'source' | 'student') {
      checkName('assignment', name);
      checkName('notebook', notebook);
      await assignment(course, name);
      return driver.call<GraderNotebook>('read_notebook', {
        ...(await courseRef(course)),
        assignment: name,
        notebook,
        folder: version === 'source' ? 'source' : 'release',
        missing: version === 'source' ? 'notebook_unknown' : 'not_generated',
        missingMessage:
          version === 'source'
            ? `There is no notebook ${notebook}.ipynb in ${name}; add it first.`
            : `The student version of ${notebook}.ipynb has not been made yet: Generate ${name} first.`
      });
    },

    async validate(course: string, name: string): Promise<GraderValidation> {
      // what is validated is at least this version of each notebook
      const sources = (await assignment(course, name)).sources.map(s => ({
        name: s.name,
        modified: s.modified
      }));
      const ref = await courseRef(course);
      // First what can be read without running anything; the tests only once the cells are right.
      const { problems } = await driver.call<Pick<GraderValidation, 'problems'>>('validate', {
        ...ref,
        assignment: name
      });
      const notReady = (found: GraderValidation['problems'], total = found.length) => ({
        ready: false,
        message: `${name} is not ready to generate: ${Private.count(total, 'problem', 'problems')} to fix.`,
        problems: found,
        sources
      });
      if (problems.length) return notReady(problems);
      const run = await deps.testSource({ course, assignment: name }, { ...ref, assignment: name });
      if (!run.ok) {
        return {
          ready: false,
          message: `The cells of ${name} are marked as nbgrader expects, but its tests could not be run: ${run.message ?? run.code}.`,
          problems: [],
          sources
        };
      }
      const { failures = [], count = failures.length } = (run.answer ?? {}) as {
        failures?: GraderValidation['problems'];
        count?: number;
      };
      if (failures.length) {
        return notReady(
          failures.map(f => ({
            ...f,
            message: f.cell
              ? `Cell ${f.cell}${f.gradeId ? ` ("${f.gradeId}")` : ''} does not get its points with the solution in place: ${f.message}`
              : `Its cells changed type: ${f.message}.`
          })),
          count
        );
      }
      return {
        ready: true,
        message: `Ready to generate: the cells of ${name} are marked as nbgrader expects, and its tests pass with the solutions in place.`,
        problems: [],
        sources
      };
    },

    async action(
      course: string,
      name: string,
      op: 'generate' | 'release' | 'unrelease' | 'collect' | 'generate_feedback'
    ) {
      await assignment(course, name);
      const { log } = await driver.call<{ log: string }>(op, {
        ...(await courseRef(course)),
        assignment: name
      });
      return { message: Private.actionMessage(op, name, log), log };
    },

    /** A unit's log as the panel shows it: paths relative to the course, no server path. */
    relativeLog(course: string, log: string): string {
      return Private.relative(log, [
        [join(coursesRoot, course) + '/', './'],
        [join(coursesRoot, course), '.'],
        [exchange, '<exchange>'],
        [coursesRoot, '<courses>']
      ]);
    },

    async releaseFeedback(course: string, name: string) {
      await assignment(course, name);
      const ref = await courseRef(course);
      const { log } = await driver.call<{ log: string }>('release_feedback', {
        ...ref,
        assignment: name
      });
      // Released is what nbgrader released: those with generated feedback.
      const rows = await driver.call<{ student: string; feedbackGenerated: boolean }[]>(
        'submissions',
        { ...ref, assignment: name }
      );
      const now = new Date().toISOString();
      for (const r of rows.filter(r => r.feedbackGenerated)) {
        await db
          .insertInto('grader_feedback')
          .values({ course, assignment: name, student: r.student, released_at: now })
          .onConflict(oc =>
            oc.columns(['course', 'assignment', 'student']).doUpdateSet({ released_at: now })
          )
          .execute();
      }
      const n = rows.filter(r => r.feedbackGenerated).length;
      return {
        message: n
          ? `Released feedback on ${name} to ${Private.count(n, 'student', 'students')}.`
          : `No feedback on ${name} to release yet: generate feedback first.`,
        log
      };
    },

    async submissions(
      course: string,
      name: string
    ): Promise<{ duedate: string | null; rows: GraderSubmission[] }> {
      const a = await assignment(course, name);
      const ref = await courseRef(course);
      await syncRoster(course, ref);
      const [rows, users, feedback, units] = await Promise.all([
        driver.call<
          Omit<
            GraderSubmission,
            'feedbackReleased' | 'serverRunning' | 'lastActivity' | 'unit' | 'fetched'
          >[]
        >('submissions', {
          ...ref,
          assignment: name
        }),
        hub.users(),
        released(course, name),
        deps.queueUnits(course, name)
      ]);
      return {
        duedate: a.duedate,
        rows: rows.map(r => {
          const home = homeOf(r.student);
          const u = users.get(r.student);
          return {
            ...r,
            fetched: fetchedIn(home, course, name),
            feedbackReleased: feedback.has(r.student),
            unit: units.get(r.student) ?? null,
            serverRunning: u?.serverRunning ?? false,
            lastActivity: u?.lastActivity ?? null
          };
        })
      };
    },

    async collectedStudents(course: string, name: string, onlyNew: boolean): Promise<string[]> {
      const rows = await driver.call<GraderSubmission[]>('submissions', {
        ...(await courseRef(course)),
        assignment: name
      });
      return rows.filter(r => r.collected && !(onlyNew && r.autograded)).map(r => r.student);
    },

    async extension(course: string, name: string, student: string, seconds: number) {
      checkName('student', student);
      await assignment(course, name);
      const ref = await courseRef(course);
      await syncRoster(course, ref);
      const known = (await driver.call<GraderStudent[]>('students', { ...ref })).some(
        s => s.id === student
      );
      if (!known) throw notFound(`student "${student}" in course "${course}"`);
      await driver.call('grant_extension', { ...ref, assignment: name, student, seconds });
    },

    async grades(course: string, name: string, student: string): Promise<GraderGrades> {
      const notebooks = await driver.call<GraderGrades['notebooks']>('grades', {
        ...(await courseRef(course)),
        assignment: name,
        student
      });
      return { assignment: name, student, notebooks };
    },

    async setGrade(
      course: string,
      name: string,
      student: string,
      gradeId: string,
      body: Record<string, unknown>
    ) {
      return driver.call<{ score: number; needsManualGrade: boolean }>('set_grade', {
        ...(await courseRef(course)),
        assignment: name,
        student,
        gradeId,
        ...body
      });
    },

    async exportCsv(course: string) {
      const exported = await driver.call<{ csv: string }>('export', {
        ...(await courseRef(course))
      });
      // nbgrader writes its cells as they are, joined by commas (no quoting): read them the same
      // way, and write them again as a spreadsheet reads them, names (from rosters) made inert.
      const rows = exported.csv
        .split(/\r?\n/)
        .filter(line => line)
        .map(line => line.split(',').map(cell => (NUMBER.test(cell) ? cell : inert(cell))));
      return { csv: csv(rows), columns: rows[0] ?? [] };
    },

    async roster(course: string): Promise<GraderRoster> {
      const ref = await courseRef(course);
      const [students, { usable, skipped }] = await Promise.all([
        driver.call<GraderStudent[]>('students', { ...ref }),
        members(course)
      ]);
      const inHub = new Set(usable);
      const byId = new Map(students.map(s => [s.id, { ...s, inHubGroup: inHub.has(s.id) }]));
      for (const m of usable)
        if (!byId.has(m))
          byId.set(m, { id: m, firstName: null, lastName: null, email: null, inHubGroup: true });
      return { students: [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)), skipped };
    },

    async putStudent(course: string, student: GraderStudent): Promise<GraderStudent> {
      checkName('student', student.id);
      // Asked before the gradebook is written, so a refused student leaves nothing behind.
      if ((await hub.unknown([student.id])).length)
        throw new HttpProblem(
          404,
          'user_unknown',
          `JupyterHub has no user "${student.id}"; they must exist in the hub first. Nothing was added.`
        );
      await driver.call('add_students', { ...(await courseRef(course)), students: [student] });
      await hub.setMember(`${STUDENTS}${course}`, student.id, true);
      return { ...student, inHubGroup: true };
    },

    async removeStudent(course: string, student: string) {
      checkName('student', student);
      const ref = await courseRef(course);
      const known = (await driver.call<GraderStudent[]>('students', { ...ref })).some(
        s => s.id === student
      );
      if (!known) throw notFound(`student "${student}" in course "${course}"`);
      await driver.call('remove_student', { ...ref, student });
      await hub.setMember(`${STUDENTS}${course}`, student, false);
    },

    async importRoster(course: string, csv: string) {
      const students = parseRoster(csv);
      const unknown = await hub.unknown(students.map(s => s.id));
      if (unknown.length) {
        const named = unknown
          .slice(0, 20)
          .map(u => `"${u}"`)
          .join(', ');
        const more = unknown.length > 20 ? ` and ${unknown.length - 20} more` : '';
        throw new HttpProblem(
          400,
          'roster_invalid',
          `The roster CSV was not imported (nothing was added): JupyterHub has no user ${named}${more}; students must exist in the hub first.`,
          unknown
            .slice(0, 50)
            .map(u => ({ path: 'csv', message: `names "${u}", who has no hub account` }))
        );
      }
      await driver.call('add_students', { ...(await courseRef(course)), students });
      for (const s of students) await hub.setMember(`${STUDENTS}${course}`, s.id, true);
      return this.roster(course);
    },

    // ---- the student's side -------------------------------------------------------------------

    attend,

    async myAssignments(user: User): Promise<GraderMyAssignment[]> {
      const out: GraderMyAssignment[] = [];
      // A name nbgrader cannot use is never in a gradebook (see members()): no student side, and
      // so studentOp, which asks this list, answers 404 before nbgrader or a home path sees it.
      if (!usableName(user.name)) return out;
      for (const g of user.groups.filter(g => g.startsWith(STUDENTS))) {
        const course = g.slice(STUDENTS.length);
        if (!NAME.test(course)) continue;
        const ref = await courseRef(course);
        const releasedNames = new Set(
          (await assignmentList(course)).filter(a => a.status === 'released').map(a => a.name)
        );
        const views = await driver.call<
          {
            assignment: string;
            duedate: string | null;
            extensionSeconds: number;
            submittedAt: string | null;
            score: number | null;
            maxScore: number;
          }[]
        >('student_view', { ...ref, student: user.name });
        const feedback = await db
          .selectFrom('grader_feedback')
          .select('assignment')
          .where('course', '=', course)
          .where('student', '=', user.name)
          .execute();
        const home = homeOf(user.name);
        for (const v of views.filter(v => releasedNames.has(v.assignment))) {
          const effective = v.duedate
            ? new Date(new Date(v.duedate).getTime() + v.extensionSeconds * 1000).toISOString()
            : null;
          out.push({
            course,
            assignment: v.assignment,
            duedate: v.duedate,
            extensionSeconds: v.extensionSeconds,
            effectiveDuedate: effective,
            fetched: fetchedIn(home, course, v.assignment),
            submittedAt: v.submittedAt,
            late: Boolean(effective && v.submittedAt && v.submittedAt > effective),
            feedbackReleased: feedback.some(f => f.assignment === v.assignment),
            score: feedback.some(f => f.assignment === v.assignment) ? v.score : null,
            maxScore: v.maxScore
          });
        }
      }
      return out;
    },

    async studentOp(
      user: User,
      course: string,
      name: string,
      op: 'fetch' | 'submit' | 'fetch_feedback'
    ) {
      attend(user, course);
      checkName('assignment', name);
      const home = homeOf(user.name);
      if (!home) {
        throw new HttpProblem(
          503,
          'grader_homes_not_configured',
          'The companion does not know where student homes are (grader.homes); fetch and submit from your own server with nbgrader.'
        );
      }
      const mine = (await this.myAssignments(user)).find(
        a => a.course === course && a.assignment === name
      );
      if (!mine) throw notFound(`released assignment "${name}" in course "${course}"`);
      if (
        op === 'submit' &&
        config.lateSubmissions === 'block' &&
        mine.effectiveDuedate &&
        Date.now() > Date.parse(mine.effectiveDuedate)
      ) {
        throw new HttpProblem(
          409,
          'deadline_passed',
          `The deadline of ${name} was ${mine.effectiveDuedate}${mine.extensionSeconds ? ' (with your extension)' : ''}; this course does not accept late submissions. Ask your instructor for an extension.`
        );
      }
      const result = await driver.call<{ log: string; files?: string[] }>(op, {
        ...(await courseRef(course)),
        assignment: name,
        student: user.name,
        home,
        homesOwner
      });
      const files = result.files ?? [];
      const message =
        op === 'fetch'
          ? `Fetched ${name} into ~/${course}/${name}.`
          : op === 'submit'
            ? `Submitted ${name}.`
            : files.length
              ? `Feedback on ${name} is in ~/${course}/${name}/feedback (${Private.count(files.length, 'file', 'files')}).`
              : `No feedback on ${name} for you yet.`;
      return { message, log: result.log, files };
    }
  };
}

namespace Private {
  /** "1 student", "3 students". */
  export const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

  /** What an instructor's nbgrader step came to, from its log where the count matters. */
  export function actionMessage(
    op: 'generate' | 'release' | 'unrelease' | 'collect' | 'generate_feedback',
    name: string,
    log: string
  ): string {
    switch (op) {
      case 'generate':
        return `Generated the student version of ${name}.`;
      case 'release':
        return `Released ${name} to the students.`;
      case 'unrelease':
        return `${name} is no longer released: students cannot fetch it.`;
      case 'collect': {
        const n = (log.match(/(Collecting|Updating) submission:/g) ?? []).length;
        return n
          ? `Collected ${count(n, 'submission', 'submissions')} of ${name}.`
          : `No new submissions of ${name} to collect.`;
      }
      case 'generate_feedback':
        return `Generated feedback on ${name}.`;
    }
  }

  /** text with each path prefix replaced (longest first, as given), the real path too. */
  export function relative(text: string, prefixes: [string, string][]): string {
    let out = text;
    for (const [path, label] of prefixes) {
      for (const p of new Set([path, realOr(path)])) out = out.split(p).join(label);
    }
    return out;
  }

  function realOr(path: string): string {
    try {
      const trailing = path.endsWith('/');
      const real = realpathSync(trailing ? path.slice(0, -1) : path);
      return trailing ? real + '/' : real;
    } catch {
      return path;
    }
  }
}

export type GraderService = ReturnType<typeof createGraderService>;
