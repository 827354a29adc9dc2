/**
 * Autograde units as Kubernetes Jobs, one per unit attempt, in grader.kubernetes.namespace.
 * Followed with watches (informers over that namespace's unit Jobs and their pods), never by
 * listing per request: Complete is done, Failed is failed with its reason (DeadlineExceeded is
 * the unit time limit, otherwise driver.py's answer from the termination message). The log is
 * the pod's, read through the API server when the unit ends (and on demand while it runs). Once
 * the outcome is stored, the Job goes (propagation Background, so its pod goes too): no more
 * Jobs exist than units run at once; ttlSecondsAfterFinished cleans up after a companion that
 * was down. A retry is a new Job (its name carries the attempt).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import { isKubernetesConfigured, loadKubeConfig } from '../../platform/kubernetes/client.js';
import { createInformer, type IInformer } from '../../platform/kubernetes/informer.js';
import { createTransport, KubeHttpError } from '../../platform/kubernetes/transport.js';
import type { IConfig } from '../../platform/config.js';
import { missingForKubernetes, type IGraderConfig } from './config.js';
import { handOver } from './units-handover.js';
import { logTail, type IUnitExecutor, type IUnitOutcome } from './units.js';
import {
  ATTEMPT_LABEL,
  CONTAINER,
  testMounts,
  UNIT_LABEL,
  unitJob,
  unitJobName,
  unitMounts
} from './units-objects.js';

interface IUnitJob {
  name: string;
  end?: { type: string; reason?: string; message?: string };
}

interface IUnitPod {
  name: string;
  job: string;
  phase: string;
  terminated?: { exitCode: number; reason?: string; message?: string };
}

interface IObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

/**
 * The unit's Job name from its labels (pods carry the same labels as their Job), for objects in
 * the grader namespace `ns` only: labels and names are what anyone creating objects can choose,
 * the namespace is not.
 */
function jobOf(obj: IObject, ns: string): string | undefined {
  if (obj.metadata?.namespace !== ns) return undefined;
  const labels = obj.metadata?.labels ?? {};
  const id = labels[UNIT_LABEL];
  const attempts = Number(labels[ATTEMPT_LABEL]);
  return id && attempts ? unitJobName({ id, attempts }) : undefined;
}

function trimJob(obj: IObject, ns: string): IUnitJob | undefined {
  const job = obj as IObject & {
    status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  };
  if (!jobOf(job, ns)) return undefined;
  const end = (job.status?.conditions ?? []).find(
    c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'
  );
  return {
    name: job.metadata?.name ?? '',
    end: end && { type: end.type, reason: end.reason, message: end.message }
  };
}

function trimPod(obj: IObject, ns: string): IUnitPod | undefined {
  const pod = obj as IObject & {
    status?: {
      phase?: string;
      containerStatuses?: {
        state?: { terminated?: { exitCode: number; reason?: string; message?: string } };
      }[];
    };
  };
  const job = jobOf(pod, ns);
  if (!job) return undefined;
  return {
    name: pod.metadata?.name ?? '',
    job,
    phase: pod.status?.phase ?? 'Pending',
    terminated: pod.status?.containerStatuses?.[0]?.state?.terminated
  };
}

/** driver.py's answer, when the termination message is one. */
function answerOf(message: string | undefined): { code: string; message: string } | undefined {
  try {
    const answer = JSON.parse(message ?? '') as { ok?: boolean; code?: string; message?: string };
    return answer.ok === false && answer.code
      ? { code: answer.code, message: answer.message ?? '' }
      : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export function createKubernetesUnits(
  kube: IConfig['kubernetes'],
  config: IGraderConfig,
  log: FastifyBaseLogger
): IUnitExecutor {
  if (!isKubernetesConfigured(kube)) {
    throw new Error(
      'grader.executor is kubernetes, but the companion has no Kubernetes (kubernetes.enabled / KUBECONFIG)'
    );
  }
  const missing = missingForKubernetes(config);
  if (missing) throw new Error(missing);
  const ns = config.kubernetes.namespace as string;
  const kc = loadKubeConfig(kube);
  const transport = createTransport(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const jobsPath = `/apis/batch/v1/namespaces/${ns}/jobs`;
  // Units being followed: their Job name -> how to end the wait.
  type Ended = IUnitJob | undefined | 'stopped';
  const waiting = new Map<string, { since: number; done: (job: Ended) => void }>();
  const podByJob = new Map<string, IUnitPod>();
  const common = { relistSeconds: kube.relistSeconds, staleSeconds: kube.staleSeconds, log };

  const notify = (name: string, job: IUnitJob | undefined) => {
    const wait = waiting.get(name);
    if (wait && (!job || job.end)) wait.done(job);
  };
  const jobs: IInformer<IUnitJob> = createInformer(transport, {
    ...common,
    name: 'grader-unit-jobs',
    path: jobsPath,
    labelSelector: UNIT_LABEL,
    trim: obj => trimJob(obj, ns),
    handler: {
      upsert: (_key, job) => notify(job.name, job),
      remove: (_key, job) => notify(job.name, undefined)
    }
  });
  const pods: IInformer<IUnitPod> = createInformer(transport, {
    ...common,
    name: 'grader-unit-pods',
    path: `/api/v1/namespaces/${ns}/pods`,
    labelSelector: UNIT_LABEL,
    trim: obj => trimPod(obj, ns),
    handler: {
      upsert: (_key, pod) => podByJob.set(pod.job, pod),
      remove: (_key, pod) => {
        if (podByJob.get(pod.job)?.name === pod.name) podByJob.delete(pod.job);
      }
    }
  });
  let started: Promise<void> | undefined;
  const ready = () => {
    if (!started) {
      jobs.start();
      pods.start();
      started = Promise.all([jobs.ready, pods.ready]).then(() => undefined);
    }
    return started;
  };
  // A Job deleted while a relist hid both its events would leave its unit waiting forever.
  const sweep = setInterval(() => {
    for (const [name, wait] of waiting) {
      if (Date.now() - wait.since > 15_000 && !jobs.get(`${ns}/${name}`)) wait.done(undefined);
    }
  }, 15_000);
  sweep.unref();

  async function podLog(job: string, pod: IUnitPod | undefined): Promise<string> {
    if (!pod) return `(No pod of Job ${job} is left in ${ns}, so there is no log to show.)\n`;
    try {
      const text = await core.readNamespacedPodLog({
        name: pod.name,
        namespace: ns,
        container: CONTAINER,
        limitBytes: 200_000
      });
      return logTail(String(text));
    } catch (err) {
      return (
        `(Kubernetes did not serve the log of pod ${pod.name}: ${String((err as Error).message).slice(0, 300)}. ` +
        'A node without a log endpoint, e.g. a kwok-simulated one, has none.)\n'
      );
    }
  }

  async function outcome(name: string, job: IUnitJob | undefined): Promise<IUnitOutcome> {
    if (!job) {
      const message = `its Kubernetes Job ${name} was deleted before it finished; retry it`;
      return { ok: false, code: 'job_gone', message, log: '' };
    }
    // The pod's final state arrives on its own watch, maybe just after the Job's (a pod stopped
    // at the deadline is deleted instead).
    let pod = podByJob.get(name);
    for (let i = 0; i < 30 && pod && !pod.terminated; i++) {
      await sleep(100);
      pod = podByJob.get(name);
    }
    const text = await podLog(name, pod);
    if (job.end?.type === 'Complete') {
      // driver.py's answer, in the termination message: what its op said besides the log
      const said = pod?.terminated?.message;
      let answer: unknown;
      try {
        answer = said ? (JSON.parse(said) as { answer?: unknown }).answer : undefined;
      } catch {
        answer = undefined;
      }
      return { ok: true, log: text, answer };
    }
    if (job.end?.reason === 'DeadlineExceeded') {
      const message = `stopped after the unit time limit of ${config.unitTimeoutSeconds} s (its Job's activeDeadlineSeconds)`;
      return { ok: false, code: 'time_limit', message, log: text };
    }
    const answer = answerOf(pod?.terminated?.message);
    if (answer) return { ok: false, ...answer, log: text };
    const t = pod?.terminated;
    const message = t
      ? `its pod ${pod?.name} exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` +
        (t.message ? `: ${t.message.slice(-1000)}` : '')
      : `Kubernetes marked its Job ${name} failed: ${job.end?.message ?? job.end?.reason ?? 'no reason given'}`;
    return { ok: false, code: 'unit_failed', message, log: text };
  }

  /** Resolves when the Job has ended (or is gone), with the unit's outcome. */
  function follow(name: string): Promise<IUnitOutcome> {
    const ended = new Promise<Ended>(resolve => {
      const current = jobs.get(`${ns}/${name}`);
      if (current?.end) return resolve(current);
      waiting.set(name, { since: Date.now(), done: resolve });
    });
    return ended.then(job => {
      waiting.delete(name);
      // The Job runs on; the next start follows it again (the queue stores nothing now).
      if (job === 'stopped')
        return { ok: false, code: 'stopping', message: 'the companion is stopping', log: '' };
      return outcome(name, job);
    });
  }

  return {
    kind: 'kubernetes',

    async run(unit, request) {
      await ready();
      const name = unitJobName(unit);
      // The folders it mounts are there before the pod (a kubelet would make a missing one as
      // root): the submission, collected, and the folders it writes, made here.
      const [submitted, , gradebook, autograded] = unitMounts(config, unit);
      if (!existsSync(submitted.path)) {
        const message = `there is no collected submission of ${unit.student} for ${unit.assignment}; collect it first`;
        return { ok: false, code: 'not_collected', message, log: '' };
      }
      mkdirSync(gradebook.path, { recursive: true });
      mkdirSync(autograded.path, { recursive: true });
      if (process.getuid?.() === 0) {
        // A unit never runs as root, but a companion that does (the local platform's) makes a
        // course directory only root can write. Rather than opening the two folders a unit writes
        // to everyone, it gives them to the unit's uid, before every unit, as its own writes make
        // new files there. It keeps working itself, as root writes what anyone owns, and SQLite
        // run as root gives a journal it makes the database file's owner, so each side can roll
        // back what the other left. The gradebook folder only one level down (units of other
        // students may be writing in it); the autograded folder whole, as an earlier local unit
        // may have filled it as root, and no pod of this unit runs now to change it meanwhile.
        const k = config.kubernetes;
        handOver(gradebook.path, k.runAsUser, k.fsGroup ?? -1, 1);
        handOver(autograded.path, k.runAsUser, k.fsGroup ?? -1, Infinity);
      }
      try {
        await transport.request('POST', jobsPath, unitJob(config, unit, request));
      } catch (err) {
        // Already there: a companion that stopped just after creating it. Follow that one.
        if (!(err instanceof KubeHttpError && err.reason === 'AlreadyExists')) {
          const message = `could not create its Job ${name} in ${ns}: ${(err as Error).message}`;
          return { ok: false, code: 'kubernetes_error', message, log: '' };
        }
      }
      return follow(name);
    },

    async test(target, request) {
      await ready();
      // A unit of its own, not a row of the queue: followed by the same watches, then deleted.
      const unit = {
        id: `test-${randomBytes(4).toString('hex')}`,
        attempts: 1,
        course: target.course,
        assignment: target.assignment,
        student: ''
      };
      const name = unitJobName(unit);
      const job = unitJob(config, unit, request, {
        op: 'test_source',
        mounts: testMounts(config, target)
      });
      try {
        await transport.request('POST', jobsPath, job);
      } catch (err) {
        const message = `could not create its Job ${name} in ${ns}: ${(err as Error).message}`;
        return { ok: false, code: 'kubernetes_error', message, log: '' };
      }
      try {
        return await follow(name);
      } finally {
        await transport
          .request('DELETE', `${jobsPath}/${name}?propagationPolicy=Background`)
          .catch(() => undefined); // left behind, it goes at ttlSecondsAfterFinished
      }
    },

    async resume(unit) {
      await ready();
      const name = unitJobName(unit);
      if (jobs.get(`${ns}/${name}`)) return { outcome: follow(name) };
      return {
        lost:
          `its Kubernetes Job ${name} is gone (deleted outside Hotstepper, or by ` +
          'ttlSecondsAfterFinished while the companion was down); retry it'
      };
    },

    async log(unit) {
      if (!started) return undefined;
      const name = unitJobName(unit);
      const pod = podByJob.get(name);
      if (!pod || pod.phase === 'Pending')
        return `(Job ${name} in ${ns}: waiting for its pod to start.)\n`;
      return podLog(name, pod);
    },

    async release(unit) {
      await transport
        .request('DELETE', `${jobsPath}/${unitJobName(unit)}?propagationPolicy=Background`)
        .catch(err => {
          // Left behind, it goes at ttlSecondsAfterFinished.
          if (!(err instanceof KubeHttpError && err.statusCode === 404))
            log.warn({ err, unit: unit.id }, 'could not delete an autograde unit Job');
        });
    },

    async close() {
      clearInterval(sweep);
      for (const wait of waiting.values()) wait.done('stopped');
      await Promise.all([jobs.stop(), pods.stop()]);
      transport.close();
    }
  };
}
