/**
 * The Kubernetes executor: a batch/v1 Job in the user's namespace (platform tenancy), followed
 * with watches (informers over the jobs' Jobs and pods, and over notebook pods for defaults),
 * never by listing per request.
 *
 * Quota: Kubernetes admits a Job without looking at its pod's resources (the job controller's
 * pod creation fails later, out of the user's sight), so the companion refuses a job whose
 * CPU, memory or GPUs would not fit the namespace's ResourceQuota before creating it. What
 * Kubernetes counts for the Job itself (count/jobs.batch) it refuses on its own, and that
 * answer becomes the same 409 quota_exceeded (platform/kubernetes/errors.ts).
 */
import { Writable } from 'node:stream';
import { Log, type V1Job, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import type { JobPreview, JobSpec } from '@hotstepper/schema';
import { loadKubeConfig, isKubernetesConfigured } from '../../../platform/kubernetes/client.js';
import { parseQuantity } from '../../../platform/kubernetes/gpus.js';
import { createInformer, type IInformer } from '../../../platform/kubernetes/informer.js';
import { createTransport, type IKubeTransport } from '../../../platform/kubernetes/transport.js';
import { HttpProblem } from '../../../platform/problem.js';
import { sleep } from '../../../platform/sleep.js';
import type { IJobsConfig } from '../config.js';
import { gpuResource } from '../spec.js';
import {
  JOB_LABEL,
  jobName,
  jobObjects,
  NOTEBOOK_SELECTOR,
  trimNotebookPod,
  type INotebookPod
} from './kubernetes-objects.js';
import type { IExecutorContext, IJobExecutor, IJobRun, IJobUpdate } from './types.js';

interface IJobRecord {
  id: string;
  namespace: string;
  active: number;
  failed: number;
  succeeded: number;
  condition?: { type: string; reason?: string; message?: string };
  startTime?: string;
  completionTime?: string;
}

interface IPodRecord {
  id: string;
  name: string;
  namespace: string;
  phase: string;
  startedAt?: string;
  exitCode?: number;
  reason?: string;
  /** Why it has not started: the scheduler's or the kubelet's words (no room, image not pulled). */
  waiting?: string;
}

function waitingOf(pod: V1Pod): string | undefined {
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  // ContainerCreating is the normal way to start, not something to wait out.
  if (waiting?.reason && waiting.reason !== 'ContainerCreating') {
    return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
  }
  const scheduled = pod.status?.conditions?.find(c => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.message) {
    return `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message}`;
  }
  return undefined;
}

function trimJob(obj: unknown): IJobRecord | undefined {
  const job = obj as V1Job;
  const id = job.metadata?.labels?.[JOB_LABEL];
  if (!id) return undefined;
  const end = (job.status?.conditions ?? []).find(
    c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'
  );
  return {
    id,
    namespace: job.metadata?.namespace ?? '',
    active: job.status?.active ?? 0,
    failed: job.status?.failed ?? 0,
    succeeded: job.status?.succeeded ?? 0,
    condition: end ? { type: end.type, reason: end.reason, message: end.message } : undefined,
    startTime: job.status?.startTime ? new Date(job.status.startTime).toISOString() : undefined,
    completionTime: job.status?.completionTime
      ? new Date(job.status.completionTime).toISOString()
      : undefined
  };
}

function trimPod(obj: unknown): IPodRecord | undefined {
  const pod = obj as V1Pod;
  const id = pod.metadata?.labels?.[JOB_LABEL];
  if (!id) return undefined;
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  const running = pod.status?.containerStatuses?.[0]?.state?.running;
  const started = running?.startedAt ?? terminated?.startedAt ?? pod.status?.startTime;
  return {
    id,
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    phase: pod.status?.phase ?? 'Pending',
    startedAt: started ? new Date(started).toISOString() : undefined,
    exitCode: terminated?.exitCode,
    reason: terminated?.reason,
    waiting: pod.status?.phase === 'Pending' ? waitingOf(pod) : undefined
  };
}

/** The job's state as Kubernetes sees it, from its Job and (newest) pod. */
function observe(job: IJobRecord | undefined, pod: IPodRecord | undefined): IJobUpdate | undefined {
  if (!job) return undefined;
  const exitCode = pod?.exitCode ?? null;
  if (job.condition?.type === 'Complete') {
    return {
      state: 'succeeded',
      startedAt: pod?.startedAt ?? job.startTime ?? null,
      finishedAt: job.completionTime ?? new Date().toISOString(),
      exitCode: exitCode ?? 0,
      message: null
    };
  }
  if (job.condition?.type === 'Failed') {
    const reason = job.condition.reason;
    return {
      state: 'failed',
      startedAt: pod?.startedAt ?? job.startTime ?? null,
      finishedAt: new Date().toISOString(),
      exitCode,
      message:
        reason === 'DeadlineExceeded'
          ? 'Stopped at its time limit (activeDeadlineSeconds).'
          : pod?.reason === 'OOMKilled'
            ? 'Killed by the kernel for using more memory than its limit (OOMKilled): run it again with more memory.'
            : exitCode !== null
              ? `Exited with code ${exitCode}.`
              : `Kubernetes marked it failed: ${job.condition.message ?? reason ?? 'no reason given'}.`
    };
  }
  // A pod that has ended while its Job has no condition yet is still "running" to the user.
  if (pod && pod.phase !== 'Pending') {
    return { state: 'running', startedAt: pod.startedAt ?? null, message: null };
  }
  return { state: 'pending', message: pod?.waiting ? `Waiting: ${pod.waiting}` : null };
}

/** What the job's pod requests, which Kubernetes checks only when the pod is made. */
const POD_RESOURCES = /^(requests\.)?(cpu|memory|nvidia\.com\/.+)$/;

function overQuota(lines: JobPreview['quota']): HttpProblem {
  const quota = lines.map(q => ({
    resource: q.resource,
    requested: q.requested,
    used: q.used,
    limited: q.hard
  }));
  const numbers = quota
    .map(q => `${q.resource}: requested ${q.requested}, used ${q.used}, limited ${q.limited}`)
    .join('; ');
  return new HttpProblem(
    409,
    'quota_exceeded',
    `This would exceed your namespace's quota (${numbers}). Stop or delete something you run, ` +
      'ask for less, or ask the platform operators for a larger quota.',
    undefined,
    { extensions: { quota } }
  );
}

const QUOTA_NAMES: Record<string, string[]> = {
  cpu: ['requests.cpu', 'cpu'],
  memory: ['requests.memory', 'memory'],
  pods: ['pods'],
  jobs: ['count/jobs.batch']
};

export function createKubernetesExecutor(
  app: FastifyInstance,
  config: IJobsConfig,
  ctx: IExecutorContext
): IJobExecutor {
  const kube = app.config.kubernetes;
  if (!isKubernetesConfigured(kube)) {
    throw new Error(
      'jobs.executor is kubernetes, but the companion has no Kubernetes (kubernetes.enabled / KUBECONFIG); ' +
        'on a single-machine hub whose users are Unix accounts, jobs.executor local runs them as those accounts'
    );
  }
  const kc = loadKubeConfig(kube);
  const transport: IKubeTransport = createTransport(kc);
  const common = {
    relistSeconds: kube.relistSeconds,
    staleSeconds: kube.staleSeconds,
    log: ctx.log
  };
  /** Last state written per job, so a watch event that changes nothing writes nothing. */
  const written = new Map<string, string>();
  /** Pods by namespace/job id: the label alone does not say whose a pod is (see homeOf). */
  const podsByJob = new Map<string, IPodRecord>();
  const podKey = (namespace: string, id: string) => `${namespace}/${id}`;
  /** Job id -> its owner's namespace. */
  const homes = new Map<string, string>();

  /**
   * The namespace a job's Job and pod must be in: its owner's. The watches cover every namespace
   * and match by the job label, which anyone who may create a Job in their own namespace can set
   * to another user's job id; only objects in the owner's namespace speak for the job.
   */
  async function homeOf(id: string): Promise<string | undefined> {
    let home = homes.get(id);
    if (home === undefined) {
      const user = await ctx.owner(id);
      if (!user) return undefined;
      home = app.tenancy.namespaceOf(user);
      homes.set(id, home);
    }
    return home;
  }

  async function reconcile(id: string) {
    const home = await homeOf(id);
    if (!home) return;
    const job = [...jobs.values()].find(j => j.id === id && j.namespace === home);
    const patch = observe(job, podsByJob.get(podKey(home, id)));
    if (!patch) return;
    const key = JSON.stringify([patch.state, patch.startedAt ?? null, patch.message ?? null]);
    if (written.get(id) === key) return;
    written.set(id, key);
    await ctx
      .update(id, patch)
      .catch(err => ctx.log.warn({ err, job: id }, 'could not record a job state'));
  }

  const jobs: IInformer<IJobRecord> = createInformer(transport, {
    ...common,
    name: 'jobs',
    path: '/apis/batch/v1/jobs',
    labelSelector: JOB_LABEL,
    trim: trimJob,
    handler: {
      upsert: (_key, job) => void reconcile(job.id),
      remove: () => undefined
    }
  });
  const pods: IInformer<IPodRecord> = createInformer(transport, {
    ...common,
    name: 'job-pods',
    path: '/api/v1/pods',
    labelSelector: JOB_LABEL,
    trim: trimPod,
    handler: {
      upsert: (_key, pod) => {
        podsByJob.set(podKey(pod.namespace, pod.id), pod);
        void reconcile(pod.id);
      },
      remove: (_key, pod) => {
        const key = podKey(pod.namespace, pod.id);
        if (podsByJob.get(key)?.name === pod.name) podsByJob.delete(key);
      }
    }
  });
  const notebookByUser = new Map<string, INotebookPod>();
  const notebooks: IInformer<INotebookPod> = createInformer(transport, {
    ...common,
    name: 'notebook-pods',
    path: '/api/v1/pods',
    labelSelector: NOTEBOOK_SELECTOR,
    trim: obj => trimNotebookPod(obj as V1Pod),
    handler: {
      upsert: (_key, pod) => notebookByUser.set(pod.user, pod),
      remove: (_key, pod) => {
        if (notebookByUser.get(pod.user)?.name === pod.name) notebookByUser.delete(pod.user);
      }
    }
  });
  const informers = [jobs, pods, notebooks];
  let started = false;

  /** The user's notebook pod, only when it runs in their own namespace (its volumes are there). */
  function notebookOf(user: string): INotebookPod | undefined {
    const pod = notebookByUser.get(user);
    return pod && pod.namespace === app.tenancy.namespaceOf(user) ? pod : undefined;
  }

  async function quotaLines(user: string, spec: JobSpec): Promise<JobPreview['quota']> {
    const tenant = await app.tenancy.tenant(user);
    const { hard, used } = await tenant.quota();
    const want: Record<string, number> = {
      cpu: spec.cpu ?? config.defaults.cpu,
      memory: (spec.memoryMiB ?? config.defaults.memoryMiB) * 2 ** 20,
      pods: 1,
      jobs: 1
    };
    const requested: [string, number, string][] = [];
    for (const [kind, names] of Object.entries(QUOTA_NAMES)) {
      for (const name of names) {
        if (hard[name] !== undefined) {
          requested.push([
            name,
            want[kind],
            kind === 'memory'
              ? `${spec.memoryMiB ?? config.defaults.memoryMiB}Mi`
              : String(want[kind])
          ]);
        }
      }
    }
    if (spec.gpu) {
      const name = `requests.${gpuResource(spec.gpu)}`;
      if (hard[name] !== undefined)
        requested.push([name, spec.gpu.count ?? 1, String(spec.gpu.count ?? 1)]);
    }
    return requested.map(([resource, amount, text]) => ({
      resource,
      hard: hard[resource] ?? '',
      used: used[resource] ?? '0',
      requested: text,
      // A little slack for float rounding of milli-quantities.
      fits: parseQuantity(used[resource] ?? '0') + amount <= parseQuantity(hard[resource]) + 1e-9
    }));
  }

  return {
    kind: 'kubernetes',

    async defaults(user) {
      const pod = notebookOf(user);
      if (!pod) return { spec: {} };
      return {
        spec: { ...(pod.image ? { image: pod.image } : {}), env: pod.env },
        from: `notebook-server:${pod.name}`
      };
    },

    async check() {
      // The notebook path is checked as text (spec.ts): its files are in the pod's volumes.
    },

    quota: quotaLines,

    async start(job) {
      homes.set(job.id, app.tenancy.namespaceOf(job.user));
      const tenant = await app.tenancy.tenant(job.user);
      const over = (await quotaLines(job.user, job.spec)).filter(
        q => !q.fits && POD_RESOURCES.test(q.resource)
      );
      if (over.length) throw overQuota(over);
      const secrets = Object.keys(job.secretEnv ?? {}).length
        ? `${jobName(job.id)}-env`
        : undefined;
      const { job: body, output } = jobObjects(
        config,
        job.id,
        job.spec,
        notebookOf(job.user),
        secrets
      );
      const template = body.spec?.template;
      if (template?.metadata)
        template.metadata.labels = { ...template.metadata.labels, ...tenant.labels };
      const created = await tenant.create<V1Job>(body);
      if (secrets) {
        const secret: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: secrets,
            labels: { [JOB_LABEL]: job.id },
            // Owned by the Job: deleting the Job (or its TTL) deletes the Secret.
            ownerReferences: [
              {
                apiVersion: 'batch/v1',
                kind: 'Job',
                name: jobName(job.id),
                uid: created.metadata?.uid ?? '',
                blockOwnerDeletion: false
              }
            ]
          },
          stringData: job.secretEnv
        };
        try {
          await tenant.create(secret);
        } catch (err) {
          await tenant
            .delete({ apiVersion: 'batch/v1', kind: 'Job', name: jobName(job.id) })
            .catch(() => undefined);
          throw err;
        }
      }
      return {
        state: 'pending',
        output: output ?? null,
        runtime: {
          namespace: tenant.namespace,
          jobName: jobName(job.id),
          ...(secrets ? { secretName: secrets } : {})
        }
      };
    },

    async cancel(job) {
      await this.remove(job);
      await ctx.update(job.id, {
        state: 'cancelled',
        finishedAt: new Date().toISOString(),
        message: 'Cancelled: its Kubernetes Job was deleted.'
      });
    },

    async remove(job) {
      homes.delete(job.id);
      if (typeof job.runtime.jobName !== 'string') return;
      const tenant = await app.tenancy.tenant(job.user);
      await tenant
        .delete({ apiVersion: 'batch/v1', kind: 'Job', name: job.runtime.jobName })
        .catch(err => {
          if ((err as HttpProblem).statusCode !== 404) throw err;
        });
    },

    async logs(job, options, emit) {
      // Wait for a pod that has started (or for the job to end without one), in the owner's namespace.
      const key = podKey(app.tenancy.namespaceOf(job.user), job.id);
      let pod = podsByJob.get(key);
      while (options.follow && (!pod || pod.phase === 'Pending') && !options.signal.aborted) {
        if (await options.finished()) break;
        await sleep(250, options.signal);
        pod = podsByJob.get(key);
      }
      if (!pod || options.signal.aborted) {
        if (!pod)
          emit({
            event: 'notice',
            data: 'This job has no pod (any more), so there is no log to show.'
          });
        return;
      }
      const skip = options.after !== undefined ? Number(options.after) : 0;
      let count = 0;
      let carry = '';
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          const text = carry + chunk.toString('utf8');
          const lines = text.split('\n');
          carry = lines.pop() ?? '';
          for (const line of lines) {
            count++;
            if (count > skip) emit({ event: 'line', id: String(count), data: line });
          }
          done();
        }
      });
      try {
        const request = await new Log(kc).log(pod.namespace, pod.name, 'job', sink, {
          follow: options.follow,
          ...(options.tail !== undefined && options.after === undefined
            ? { tailLines: options.tail }
            : {})
        });
        options.signal.addEventListener('abort', () => request.abort(), { once: true });
        await new Promise<void>(resolve => {
          sink.on('finish', resolve);
          sink.on('close', resolve);
          options.signal.addEventListener('abort', () => resolve(), { once: true });
          // A kubelet may hold a followed log open after the container ended: once the job has
          // ended, give the last lines a moment and stop.
          const check = setInterval(() => {
            void options.finished().then(done => {
              if (!done) return;
              clearInterval(check);
              setTimeout(() => {
                request.abort();
                resolve();
              }, 1000);
            });
          }, 500);
          sink.on('close', () => clearInterval(check));
          sink.on('finish', () => clearInterval(check));
          options.signal.addEventListener('abort', () => clearInterval(check), { once: true });
        });
        if (carry) emit({ event: 'line', id: String(count + 1), data: carry });
      } catch (err) {
        emit({
          event: 'notice',
          data: `Kubernetes did not serve this pod's log (${(err as Error).message.slice(0, 200)}). Its state is still followed here.`
        });
        while (options.follow && !options.signal.aborted && !(await options.finished())) {
          await sleep(500, options.signal);
        }
      }
    },

    async resume(runs) {
      if (!started) {
        started = true;
        informers.forEach(i => i.start());
      }
      await Promise.all(informers.map(i => i.ready));
      for (const run of runs) {
        if (!run.runtime.jobName) continue;
        const home = app.tenancy.namespaceOf(run.user);
        homes.set(run.id, home);
        if ([...jobs.values()].some(j => j.id === run.id && j.namespace === home)) {
          await reconcile(run.id);
        } else {
          await ctx.update(run.id, {
            state: 'failed',
            finishedAt: new Date().toISOString(),
            message:
              'Its Kubernetes Job is gone (deleted outside Hotstepper, or cleaned up before the companion saw it end).'
          });
        }
      }
    },

    async close() {
      await Promise.all(informers.map(i => i.stop()));
      transport.close();
    }
  };
}

export type { IJobRun };
