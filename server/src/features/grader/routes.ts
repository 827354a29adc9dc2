/** HTTP for the `grader` feature: instructors' course operations, and the students' own side. */
import { dirname, resolve } from 'node:path';
import type { GraderSubmission } from '@hotstepper/schema';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { currentUser } from '../../platform/identity.js';
import { namespaceName } from '../../platform/kubernetes/namespaces.js';
import { HttpProblem } from '../../platform/problem.js';
import { route } from '../../platform/routes.js';
import { createDriver } from './driver.js';
import { createGraderHub } from './hub.js';
import type { GraderTables } from './migrations.js';
import { createQueue, toUnit } from './queue.js';
import { createGraderService } from './service.js';
import { createLocalUnits, createNoUnits, type IUnitExecutor } from './units.js';
import { createKubernetesUnits } from './units-kubernetes.js';

type CourseParams = { course: string };

export const graderRoutes: FastifyPluginAsync = async app => {
  const config = app.config.grader;
  const db = app.database.db.withTables<GraderTables>();
  const notConfigured = async () => {
    throw new HttpProblem(
      503,
      'grader_not_configured',
      'The grader is not set up on this platform (grader.python names no course environment); tell the platform operators.'
    );
  };
  if (!config.python) {
    route(app, 'listGraderCourses', async () => ({ courses: [] }));
    route(app, 'listMyGraderAssignments', async () => ({ assignments: [] }));
    app.addHook('preHandler', async request => {
      if (
        request.routeOptions.url?.startsWith('/api/v1/grader/') &&
        !request.routeOptions.url.endsWith('/courses') &&
        !request.routeOptions.url.endsWith('/my/assignments')
      )
        await notConfigured();
    });
  }
  const driver = createDriver(config.python ?? 'python3');
  const hub = createGraderHub({
    apiUrl: app.config.jupyterhub.apiUrl,
    serviceToken: app.config.jupyterhub.apiToken,
    timeoutSeconds: app.config.jupyterhub.timeoutSeconds
  });
  // eslint-disable-next-line prefer-const -- the queue needs the service's courseRef, the service the queue's units
  let queue: ReturnType<typeof createQueue>;
  const service = createGraderService({
    config,
    driver,
    hub,
    db,
    namespaceOf: user => namespaceName(app.config.kubernetes.tenancy.namespacePrefix, user),
    log: app.log,
    testSource: (target, request) => executor.test(target, request),
    queueUnits: async (course, assignment) => {
      const units = new Map<string, GraderSubmission['unit']>();
      for (const u of await queue.list(course)) {
        if (u.assignment === assignment && !units.has(u.student)) units.set(u.student, u.state);
      }
      return units;
    }
  });
  const executor: IUnitExecutor = !config.python
    ? createNoUnits()
    : config.executor === 'kubernetes'
      ? createKubernetesUnits(app.config.kubernetes, config, app.log)
      : createLocalUnits({
          driver,
          config,
          stateDir: dirname(resolve(app.config.database.path))
        });
  queue = createQueue({
    db,
    executor,
    concurrency: config.concurrency,
    courseRef: service.courseRef
  });
  app.addHook('onReady', async () => {
    if (config.python) await queue.start();
  });
  app.addHook('onClose', async () => {
    await queue.stop();
    await driver.close();
  });
  if (!config.python) return;

  /** Instructors only: anyone else gets 404 for the course, as if it did not exist. */
  const teaching = async (request: FastifyRequest) => {
    const { course } = request.params as CourseParams;
    service.teach(currentUser(request), course);
  };
  const opts = { preHandler: teaching };

  route(app, 'listGraderCourses', async request => ({
    courses: await service.courses(currentUser(request))
  }));
  route(
    app,
    'listGraderAssignments',
    async request => ({ assignments: await service.assignments(request.params.course) }),
    opts
  );
  route(
    app,
    'putGraderAssignment',
    async request =>
      service.putAssignment(
        request.params.course,
        request.params.assignment,
        request.body.duedate,
        request.body.allowPastDuedate === true
      ),
    opts
  );
  route(
    app,
    'putGraderNotebook',
    async request =>
      service.putNotebook(
        request.params.course,
        request.params.assignment,
        request.params.notebook,
        request.body.content
      ),
    opts
  );
  route(
    app,
    'getGraderNotebook',
    async r => service.notebook(r.params.course, r.params.assignment, r.params.notebook, 'source'),
    opts
  );
  route(
    app,
    'validateGraderAssignment',
    async r => service.validate(r.params.course, r.params.assignment),
    opts
  );
  route(
    app,
    'getGraderStudentVersion',
    async r => service.notebook(r.params.course, r.params.assignment, r.params.notebook, 'student'),
    opts
  );
  route(
    app,
    'generateGraderAssignment',
    async r => service.action(r.params.course, r.params.assignment, 'generate'),
    opts
  );
  route(
    app,
    'releaseGraderAssignment',
    async r => service.action(r.params.course, r.params.assignment, 'release'),
    opts
  );
  route(
    app,
    'unreleaseGraderAssignment',
    async r => service.action(r.params.course, r.params.assignment, 'unrelease'),
    opts
  );
  route(
    app,
    'collectGraderAssignment',
    async r => service.action(r.params.course, r.params.assignment, 'collect'),
    opts
  );
  route(
    app,
    'generateGraderFeedback',
    async r => service.action(r.params.course, r.params.assignment, 'generate_feedback'),
    opts
  );
  route(
    app,
    'releaseGraderFeedback',
    async r => service.releaseFeedback(r.params.course, r.params.assignment),
    opts
  );

  route(
    app,
    'listGraderSubmissions',
    async request => {
      const { duedate, rows } = await service.submissions(
        request.params.course,
        request.params.assignment
      );
      return { assignment: request.params.assignment, duedate, submissions: rows };
    },
    opts
  );

  const queueOf = async (course: string) => ({
    concurrency: config.concurrency,
    units: (await queue.list(course)).map(toUnit)
  });
  route(
    app,
    'autogradeGrader',
    async (request, reply) => {
      const { course, assignment } = request.params;
      await service.assignment(course, assignment);
      const collected = await service.collectedStudents(
        course,
        assignment,
        request.body.onlyNew === true
      );
      let students = collected;
      if (request.body.students) {
        const missing = request.body.students.filter(s => !collected.includes(s));
        if (missing.length) {
          throw new HttpProblem(
            400,
            'not_collected',
            `No collected submission of ${assignment} from ${missing.join(', ')}; collect first.`,
            [
              {
                path: 'body.students',
                message: `has students without a collected submission: ${missing.join(', ')}`
              }
            ]
          );
        }
        students = request.body.students;
      }
      await queue.enqueue(course, assignment, students);
      reply.code(202);
      return queueOf(course);
    },
    opts
  );
  route(app, 'getGraderQueue', async request => queueOf(request.params.course), opts);
  route(
    app,
    'getGraderUnitLog',
    async request => {
      const unit = await queue.unit(request.params.course, request.params.unit);
      if (!unit)
        throw new HttpProblem(404, 'not_found', 'There is no such autograde unit in this course.');
      return {
        id: unit.id,
        state: unit.state,
        log: service.relativeLog(request.params.course, await queue.log(unit))
      };
    },
    opts
  );
  route(
    app,
    'retryGraderUnit',
    async (request, reply) => {
      const unit = await queue.retry(request.params.course, request.params.unit);
      if (!unit)
        throw new HttpProblem(404, 'not_found', 'There is no such autograde unit in this course.');
      reply.code(202);
      return toUnit(unit);
    },
    opts
  );

  route(
    app,
    'putGraderExtension',
    async request => {
      const { course, assignment, student } = request.params;
      await service.extension(course, assignment, student, request.body.seconds);
      const row = (await service.submissions(course, assignment)).rows.find(
        r => r.student === student
      );
      if (!row)
        throw new HttpProblem(404, 'not_found', `There is no student "${student}" in this course.`);
      return row;
    },
    opts
  );
  route(
    app,
    'getGraderGrades',
    async r => service.grades(r.params.course, r.params.assignment, r.params.student),
    opts
  );
  route(
    app,
    'putGraderGrade',
    async r =>
      service.setGrade(
        r.params.course,
        r.params.assignment,
        r.params.student,
        r.params.grade,
        r.body as Record<string, unknown>
      ),
    opts
  );
  route(app, 'exportGraderGrades', async r => service.exportCsv(r.params.course), opts);
  route(app, 'getGraderRoster', async r => service.roster(r.params.course), opts);
  route(
    app,
    'putGraderStudent',
    async r => {
      if (r.body.id !== r.params.student) {
        throw new HttpProblem(
          400,
          'validation_failed',
          'body.id must equal the student in the path.',
          [{ path: 'body.id', message: 'must equal the student in the path' }]
        );
      }
      return service.putStudent(r.params.course, r.body);
    },
    opts
  );
  route(
    app,
    'deleteGraderStudent',
    async (r, reply) => {
      await service.removeStudent(r.params.course, r.params.student);
      reply.code(204);
      return undefined;
    },
    opts
  );
  route(
    app,
    'importGraderRoster',
    async r => service.importRoster(r.params.course, r.body.csv),
    opts
  );

  route(app, 'listMyGraderAssignments', async r => ({
    assignments: await service.myAssignments(currentUser(r))
  }));
  route(app, 'fetchMyGraderAssignment', async r =>
    service.studentOp(currentUser(r), r.params.course, r.params.assignment, 'fetch')
  );
  route(app, 'submitMyGraderAssignment', async r =>
    service.studentOp(currentUser(r), r.params.course, r.params.assignment, 'submit')
  );
  route(app, 'fetchFeedbackMyGraderAssignment', async r =>
    service.studentOp(currentUser(r), r.params.course, r.params.assignment, 'fetch_feedback')
  );
};
