/**
 * The Kubernetes objects of a job, built from its resolved spec and the user's notebook pod:
 * no client here, so what we send can be read (and tested) as plain data.
 */
import type { JobSpec } from '@hotstepper/schema';
import type { V1Container, V1Job, V1Pod, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import { placement, type IToleration } from '../../../platform/kubernetes/placement.js';
import type { IJobsConfig } from '../config.js';
import { gpuResource } from '../spec.js';
import { timestamp } from './local.js';

export const JOB_LABEL = 'hotstepper.io/job';
/** The KubeSpawner labels of a user's notebook server pod. */
export const NOTEBOOK_SELECTOR = 'component=singleuser-server';
export const NOTEBOOK_USER_LABEL = 'hub.jupyter.org/username';

/** What a job takes over from the user's notebook server pod. */
export interface INotebookPod {
  name: string;
  namespace: string;
  user: string;
  image?: string;
  workingDir?: string;
  env: Record<string, string>;
  volumes: V1Volume[];
  mounts: NonNullable<V1Container['volumeMounts']>;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  /** Where the notebook pod was placed: a job goes to the same kind of node (and its volumes). */
  nodeSelector?: Record<string, string>;
  tolerations?: IToleration[];
}

// Names that hold credentials even when their value is written inline in the pod spec.
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|PRIVATE/i;
// Volumes a job may share: data, not credentials or the node's own files.
const SHAREABLE: (keyof V1Volume)[] = ['persistentVolumeClaim', 'configMap', 'emptyDir', 'nfs'];

/** The notebook pod as the index keeps it; undefined for a pod that is not one. */
export function trimNotebookPod(pod: V1Pod): INotebookPod | undefined {
  const user = pod.metadata?.labels?.[NOTEBOOK_USER_LABEL];
  const spec = pod.spec;
  if (!user || !spec || pod.metadata?.deletionTimestamp) return undefined;
  const container = spec.containers.find(c => c.name === 'notebook') ?? spec.containers[0];
  const volumes = (spec.volumes ?? []).filter(v => SHAREABLE.some(k => v[k] !== undefined));
  const names = new Set(volumes.map(v => v.name));
  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) {
    // Only inline values: valueFrom points at Secrets and the pod's own fields.
    if (e.value === undefined || SECRET_NAME.test(e.name) || /^(JUPYTERHUB|JPY)_/.test(e.name))
      continue;
    env[e.name] = e.value;
  }
  return {
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    user,
    image: container?.image,
    workingDir: container?.workingDir,
    env,
    volumes,
    mounts: (container?.volumeMounts ?? []).filter(m => names.has(m.name)),
    runAsUser: container?.securityContext?.runAsUser ?? spec.securityContext?.runAsUser,
    runAsGroup: container?.securityContext?.runAsGroup ?? spec.securityContext?.runAsGroup,
    fsGroup: spec.securityContext?.fsGroup,
    nodeSelector: spec.nodeSelector,
    tolerations: spec.tolerations as IToleration[] | undefined
  };
}

export interface IJobObjects {
  job: V1Job;
  /** The executed notebook, relative to the working directory. */
  output?: string;
}

function argv(spec: JobSpec, workingDir: string): { command: string[]; output?: string } {
  if (spec.notebook) {
    const path = spec.notebook.path;
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.';
    const stem = path.slice(path.lastIndexOf('/') + 1).replace(/\.ipynb$/, '');
    const output = `${dir === '.' ? '' : `${dir}/`}${stem}-${timestamp()}.ipynb`;
    return {
      command: [
        'papermill',
        path,
        output,
        '-y',
        JSON.stringify(spec.notebook.parameters ?? {})
      ].concat(['--cwd', `${workingDir}/${dir}`, '--log-output', '--no-progress-bar']),
      output
    };
  }
  const command = spec.command ?? [];
  return { command: spec.shell ? ['/bin/sh', '-c', command[0] ?? ''] : command };
}

export function jobObjects(
  config: IJobsConfig,
  id: string,
  spec: JobSpec,
  pod: INotebookPod | undefined,
  secretName: string | undefined
): IJobObjects {
  const workingDir = pod?.workingDir ?? config.kubernetes.workingDir;
  const { command, output } = argv(spec, workingDir);
  const memory = `${spec.memoryMiB ?? config.defaults.memoryMiB}Mi`;
  const cpu = String(spec.cpu ?? config.defaults.cpu);
  const gpu = spec.gpu ? { [gpuResource(spec.gpu)]: String(spec.gpu.count ?? 1) } : {};
  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...placement(
      // A GPU model is a node label (as the GPU operator sets it): the job goes only where it is.
      {
        ...(pod?.nodeSelector ?? config.kubernetes.nodeSelector),
        ...(spec.gpu?.model ? { 'nvidia.com/gpu.product': spec.gpu.model } : {})
      },
      pod?.tolerations ?? config.kubernetes.tolerations
    ),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: pod?.runAsUser ?? 1000,
      ...(pod?.runAsGroup !== undefined ? { runAsGroup: pod.runAsGroup } : {}),
      ...(pod?.fsGroup !== undefined ? { fsGroup: pod.fsGroup } : {}),
      seccompProfile: { type: 'RuntimeDefault' }
    },
    containers: [
      {
        name: 'job',
        image: spec.image,
        command,
        workingDir,
        env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
        ...(secretName ? { envFrom: [{ secretRef: { name: secretName } }] } : {}),
        resources: {
          requests: { cpu, memory, ...gpu },
          limits: { cpu, memory, ...gpu }
        },
        securityContext: {
          allowPrivilegeEscalation: false,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] }
        },
        volumeMounts: pod?.mounts ?? []
      }
    ],
    volumes: pod?.volumes ?? []
  };
  const labels = { [JOB_LABEL]: id };
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName(id), labels },
    spec: {
      backoffLimit: config.kubernetes.backoffLimit,
      activeDeadlineSeconds: spec.timeLimitSeconds ?? config.defaults.timeLimitSeconds,
      ttlSecondsAfterFinished: config.kubernetes.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { ...config.kubernetes.podAnnotations } },
        spec: podSpec
      }
    }
  };
  return { job, output };
}

export const jobName = (id: string) => `job-${id}`;
