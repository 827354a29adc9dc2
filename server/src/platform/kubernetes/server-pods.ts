/**
 * Users' notebook server pods (KubeSpawner's), kept in step by one informer across namespaces:
 * who runs which server, where it is reached and whether it is up. Flare's gateway asks it for
 * the address of an owner's server on every request, so an answer is a map lookup, never a list.
 */
import type { FastifyBaseLogger } from 'fastify';
import { createInformer, type IInformerStats, type IKubeObject } from './informer.js';
import type { IKubeTransport } from './transport.js';

/** KubeSpawner's component label on every single-user server pod. */
export const SERVER_POD_SELECTOR = 'component=singleuser-server';
const USERNAME = 'hub.jupyter.org/username';
const SERVERNAME = 'hub.jupyter.org/servername';

export interface IServerPodRecord {
  namespace: string;
  name: string;
  /** The hub user name: KubeSpawner's annotation (exact), else its label (escaped). */
  username: string;
  /** The server name, '' for the default server; the annotation, else the label, as above. */
  serverName: string;
  /** Unset for a pod on the node's network: its ports are the node's, not the server's. */
  podIP: string | undefined;
  phase: string | undefined;
  /** Condition Ready=True and not being deleted. */
  ready: boolean;
}

interface IServerPod extends IKubeObject {
  metadata?: IKubeObject['metadata'] & {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: { hostNetwork?: boolean };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type?: string; status?: string }[];
  };
}

export function trimServerPod(obj: IKubeObject): IServerPodRecord | undefined {
  const { metadata, spec, status } = obj as IServerPod;
  if (!metadata?.name || !metadata.namespace) return undefined;
  const labels = metadata.labels ?? {};
  const notes = metadata.annotations ?? {};
  // Labels hold escaped names (63 characters, a restricted alphabet); the annotations hold them
  // as the hub knows them, and KubeSpawner writes the servername one only for named servers.
  const username = notes[USERNAME] ?? labels[USERNAME] ?? '';
  const serverName = notes[SERVERNAME] ?? labels[SERVERNAME] ?? '';
  const ready =
    !metadata.deletionTimestamp &&
    (status?.conditions ?? []).some(c => c.type === 'Ready' && c.status === 'True');
  return {
    namespace: metadata.namespace,
    name: metadata.name,
    username,
    serverName,
    podIP: (!spec?.hostNetwork && status?.podIP) || undefined,
    phase: status?.phase,
    ready
  };
}

export interface IServerPodsOptions {
  relistSeconds?: number;
  staleSeconds?: number;
  watchTimeoutSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
  log?: FastifyBaseLogger;
}

export interface IServerPods {
  /** The informer has listed once. */
  readonly ready: Promise<void>;
  synced(): boolean;
  start(): void;
  stop(): Promise<void>;
  /** The IP of the Running, Ready pod of server `serverName` in `namespace`, else undefined. */
  addressOf(namespace: string, serverName: string): string | undefined;
  informers(): IInformerStats[];
}

export function createServerPods(
  transport: IKubeTransport,
  options: IServerPodsOptions = {}
): IServerPods {
  // namespace/server -> the keys of its pods: during a restart the old pod (terminating) and the
  // new one (starting) hold the same server name for a while.
  const byServer = new Map<string, Set<string>>();
  const serverKey = (pod: IServerPodRecord) => `${pod.namespace}/${pod.serverName}`;
  const unlink = (key: string, pod: IServerPodRecord) => {
    const keys = byServer.get(serverKey(pod));
    keys?.delete(key);
    if (keys?.size === 0) byServer.delete(serverKey(pod));
  };

  const pods = createInformer<IServerPodRecord>(transport, {
    ...options,
    name: 'server-pods',
    path: '/api/v1/pods',
    labelSelector: SERVER_POD_SELECTOR,
    trim: trimServerPod,
    handler: {
      upsert(key, pod, previous) {
        if (previous) unlink(key, previous);
        const keys = byServer.get(serverKey(pod)) ?? new Set<string>();
        byServer.set(serverKey(pod), keys.add(key));
      },
      remove: unlink
    }
  });

  return {
    ready: pods.ready,
    synced: () => pods.stats().synced,
    start: () => pods.start(),
    stop: () => pods.stop(),
    informers: () => [pods.stats()],
    addressOf(namespace, serverName) {
      for (const key of byServer.get(`${namespace}/${serverName}`) ?? []) {
        const pod = pods.get(key);
        if (pod?.ready && pod.phase === 'Running' && pod.podIP) return pod.podIP;
      }
      return undefined;
    }
  };
}
