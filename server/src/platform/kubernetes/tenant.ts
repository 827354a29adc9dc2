/**
 * One user's view of Kubernetes: objects in their own namespace and nothing else. A reference to
 * any other namespace answers 404 exactly as a missing object does, so nobody learns what another
 * user has. Features (jobs, flare) build on this instead of calling the clients themselves.
 */
import type {
  CoreV1Api,
  KubernetesObject,
  KubernetesObjectApi,
  V1ResourceQuota
} from '@kubernetes/client-node';
import type { UserNamespace } from '@hotstepper/schema';
import { HttpProblem } from '../problem.js';
import { kubernetesProblem } from './errors.js';

/** The name of the ResourceQuota and the LimitRange in each user's namespace. */
export const TENANCY_OBJECT = 'hotstepper';

export interface IObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Only ever the tenant's own; anything else is answered as not found. */
  namespace?: string;
}

export interface ITenant {
  readonly user: string;
  readonly namespace: string;
  /** managed-by and the user label, which everything created for the user carries. */
  readonly labels: Readonly<Record<string, string>>;
  /** Create `object` in the tenant's namespace, labelled as the user's. */
  create<T extends KubernetesObject>(object: T): Promise<T>;
  read<T extends KubernetesObject>(ref: IObjectRef): Promise<T>;
  /** Delete with Background propagation, so what it owns goes too (Jobs default to orphaning). */
  delete(ref: IObjectRef): Promise<void>;
  /** The namespace's quota as Kubernetes counts it; empty maps when there is none. */
  quota(): Promise<UserNamespace['quota']>;
}

export interface ITenantOptions {
  user: string;
  namespace: string;
  labels: Record<string, string>;
  fieldManager: string;
  clients: { core: CoreV1Api; objects: KubernetesObjectApi };
}

export function createTenant(options: ITenantOptions): ITenant {
  const { namespace, labels, fieldManager, clients } = options;

  const notFound = (kind: string, name: string) =>
    new HttpProblem(
      404,
      'not_found',
      `The ${kind.toLowerCase()} "${name}" does not exist in your namespace.`
    );

  /** The ref in the tenant's namespace, or a 404 when it names another one. */
  function own(ref: IObjectRef): KubernetesObject & { metadata: { name: string } } {
    if (ref.namespace !== undefined && ref.namespace !== namespace) {
      throw notFound(ref.kind, ref.name);
    }
    return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } };
  }

  async function call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw kubernetesProblem(err);
    }
  }

  return {
    user: options.user,
    namespace,
    labels,

    async create(object) {
      const meta = object.metadata ?? {};
      if (meta.namespace !== undefined && meta.namespace !== namespace) {
        throw notFound(object.kind ?? 'object', meta.name ?? '');
      }
      const body = {
        ...object,
        metadata: { ...meta, namespace, labels: { ...meta.labels, ...labels } }
      };
      return call(() => clients.objects.create(body, undefined, undefined, fieldManager));
    },

    async read<T extends KubernetesObject>(ref: IObjectRef) {
      const target = own(ref);
      return call(() => clients.objects.read<T>(target as T & { metadata: { name: string } }));
    },

    async delete(ref) {
      const target = own(ref);
      await call(() =>
        clients.objects.delete(target, undefined, undefined, undefined, undefined, 'Background')
      );
    },

    async quota() {
      let quota: V1ResourceQuota;
      try {
        quota = await clients.core.readNamespacedResourceQuota({ name: TENANCY_OBJECT, namespace });
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return { hard: {}, used: {} };
        throw kubernetesProblem(err);
      }
      return { hard: quota.status?.hard ?? quota.spec?.hard ?? {}, used: quota.status?.used ?? {} };
    }
  };
}
