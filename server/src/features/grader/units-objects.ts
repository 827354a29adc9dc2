/**
 * The batch/v1 Job of one autograde unit, as plain data (no client here, so what is sent can be
 * read and tested): the course image runs driver.py's `unit` mode with what grading needs of its
 * own course directory (unitMounts) mounted at the companion's own paths, so every path in the
 * request means the same inside the pod. No hub token, no companion secret, no service account
 * token.
 */
import { join, posix, resolve } from 'node:path';
import type { V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { placement } from '../../platform/kubernetes/placement.js';
import { placementOf, type IGraderConfig } from './config.js';
import type { GraderUnitRow } from './migrations.js';

export const UNIT_LABEL = 'hotstepper.io/grader-unit';
export const ATTEMPT_LABEL = 'hotstepper.io/grader-attempt';
/**
 * The container's name. `job`, as every Hotstepper Job's container is called, so what serves
 * job logs (kwok's ClusterLogs in the local platform included) serves these too.
 */
export const CONTAINER = 'job';

export const unitJobName = (unit: Pick<GraderUnitRow, 'id' | 'attempts'>) =>
  `grader-${unit.id}-${unit.attempts}`;

/** A Kubernetes label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** One folder of the course directory that a unit's pod mounts, at the companion's own path. */
export interface IUnitMount {
  /** Inside the pod: <coursesRoot>/<course>/<rel>, as the unit's request names it. */
  path: string;
  /** In the courses claim: <coursesSubPath>/<course>/<rel>. */
  subPath: string;
  writable: boolean;
}

/**
 * What of its course an autograde unit sees: nothing of another course, no other student's work,
 * no exchange, and write access only where nbgrader's autograde writes. For one student and one
 * assignment (nbgrader 0.9's Autograde converter) it reads submitted/<student>/<assignment>
 * (notebooks and timestamp.txt) and source/<assignment> (the files besides notebooks it copies
 * over the student's); it writes autograded/<student>/<assignment> and the gradebook, whose
 * SQLite journal goes beside it, so the gradebook has a folder of its own (driver.py). It reads
 * nothing else of the course directory (not release/, feedback/ or nbgrader_config.py), and not
 * the exchange: the driver's NbGraderAPI only checks whether the exchange root is there.
 */
export function unitMounts(
  config: IGraderConfig,
  unit: Pick<GraderUnitRow, 'course' | 'assignment' | 'student'>
): IUnitMount[] {
  const { course, assignment, student } = unit;
  const at = (rel: string, writable: boolean): IUnitMount => ({
    path: join(resolve(config.coursesRoot), course, rel),
    subPath: posix.join(config.kubernetes.coursesSubPath, course, rel),
    writable
  });
  return [
    at(`submitted/${student}/${assignment}`, false),
    at(`source/${assignment}`, false),
    at('gradebook', true),
    at(`autograded/${student}/${assignment}`, true)
  ];
}

/** What a test unit (Validate) sees: its assignment's source folder, read-only, and nothing else. */
export function testMounts(
  config: IGraderConfig,
  target: { course: string; assignment: string }
): IUnitMount[] {
  const rel = `source/${target.assignment}`;
  return [
    {
      path: join(resolve(config.coursesRoot), target.course, rel),
      subPath: posix.join(config.kubernetes.coursesSubPath, target.course, rel),
      writable: false
    }
  ];
}

/** The unit a Job runs: an autograde unit (a row of the queue), or a test unit (Validate). */
export type JobUnit = Pick<GraderUnitRow, 'id' | 'attempts' | 'course' | 'assignment' | 'student'>;

export function unitJob(
  config: IGraderConfig,
  unit: JobUnit,
  request: Record<string, unknown>,
  run: { op: string; mounts: IUnitMount[] } = {
    op: 'autograde',
    mounts: unitMounts(config, unit)
  }
): V1Job {
  const k = config.kubernetes;
  const labels = {
    [UNIT_LABEL]: unit.id,
    [ATTEMPT_LABEL]: String(unit.attempts),
    'hotstepper.io/grader-course': labelValue(unit.course),
    'hotstepper.io/grader-assignment': labelValue(unit.assignment),
    'hotstepper.io/grader-student': labelValue(unit.student)
  };
  const volumes: V1Volume[] = [
    { name: 'course', persistentVolumeClaim: { claimName: k.coursesClaim as string } }
  ];
  const mounts: V1VolumeMount[] = [
    ...run.mounts.map(m => ({
      name: 'course',
      mountPath: m.path,
      subPath: m.subPath,
      readOnly: !m.writable
    })),
    // The root filesystem is read-only: the kernel's runtime files and caches go here.
    { name: 'tmp', mountPath: '/tmp' }
  ];
  volumes.push({ name: 'tmp', emptyDir: {} });
  const resources = { cpu: String(k.cpu), memory: `${config.unitMemoryMb}Mi` };
  const where = placementOf(k);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: unitJobName(unit), namespace: k.namespace, labels },
    spec: {
      backoffLimit: k.backoffLimit,
      // Counted from the Job's start (pulling the image included): the unit's wall-clock limit.
      activeDeadlineSeconds: config.unitTimeoutSeconds,
      ttlSecondsAfterFinished: k.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { ...k.podAnnotations } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(k.serviceAccountName ? { serviceAccountName: k.serviceAccountName } : {}),
          ...placement(where.nodeSelector, where.tolerations),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: k.runAsUser,
            ...(k.fsGroup !== undefined ? { fsGroup: k.fsGroup } : {}),
            seccompProfile: { type: 'RuntimeDefault' }
          },
          containers: [
            {
              name: CONTAINER,
              image: k.image,
              command: [k.python, k.driverPath, 'unit'],
              // The request names paths and the course only: nothing secret is in it.
              env: [
                {
                  name: 'HOTSTEPPER_GRADER_REQUEST',
                  value: JSON.stringify({ ...request, op: run.op })
                },
                { name: 'HOME', value: '/tmp' },
                { name: 'PYTHONUNBUFFERED', value: '1' }
              ],
              // driver.py writes its answer there; without one, the log's end says what failed.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              resources: { requests: resources, limits: resources },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] }
              },
              volumeMounts: mounts
            }
          ],
          volumes
        }
      }
    }
  };
}
