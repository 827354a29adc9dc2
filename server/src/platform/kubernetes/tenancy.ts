/**
 * Every user has one Kubernetes namespace, derived here from their hub name (never chosen by a
 * client) and created on first use with what the platform gives each user: a RoleBinding of the
 * user ClusterRole, a ResourceQuota and a LimitRange (kubernetes.tenancy in the configuration).
 *
 * The RoleBinding's subject is the Kubernetes user named like the hub user. That only means
 * something on clusters whose authentication maps hub users to Kubernetes users of the same name
 * (e.g. OIDC against the same identity provider); elsewhere nobody authenticates as that user and
 * the binding grants nothing. The companion itself acts with its own service account.
 */
import {
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Namespace
} from '@kubernetes/client-node';
import type { UserNamespace } from '@hotstepper/schema';
import type { FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import type { IConfig, ITenancyConfig } from '../config.js';
import { HttpProblem } from '../problem.js';
import { isKubernetesConfigured, loadKubeConfig } from './client.js';
import { kubernetesProblem } from './errors.js';
import {
  FIELD_MANAGER,
  MANAGED_BY,
  namespaceName,
  USER_ANNOTATION,
  USER_LABEL,
  userLabel
} from './namespaces.js';
import { ensureSharedClaim, type ISharedClaim } from './shared-claims.js';
import { createTenant, TENANCY_OBJECT, type ITenant } from './tenant.js';

export interface ITenancy {
  /** The user's namespace name; no API call. */
  namespaceOf(user: string): string;
  /** The user's namespace, set up on first use; every operation addresses only it. */
  tenant(user: string): Promise<ITenant>;
  /** GET /api/v1/me/namespace: the namespace and its quota. */
  describe(user: string): Promise<UserNamespace>;
  /** A volume shared by all namespaces, as a claim bound in the user's namespace. */
  sharedClaim(user: string, claim: ISharedClaim): Promise<void>;
}

export interface ITenancyOptions {
  kubernetes: IConfig['kubernetes'];
  log?: FastifyBaseLogger;
  /** How long a user's namespace is trusted to exist before it is looked at again. */
  recheckSeconds?: number;
}

interface IClients {
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  objects: KubernetesObjectApi;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export function createTenancy(options: ITenancyOptions): ITenancy {
  const config: ITenancyConfig = options.kubernetes.tenancy;
  const recheckMs = (options.recheckSeconds ?? 300) * 1000;
  const checked = new Map<string, number>();
  const inflight = new Map<string, Promise<void>>();
  // The per-user objects are applied once per process, so a changed configuration reaches every
  // namespace as its user comes back after a restart.
  const applied = new Set<string>();
  let clients: IClients | undefined;

  /** Loaded on first use, not at start: a missing cluster must not stop the companion. */
  function connect(): IClients {
    if (clients) return clients;
    if (!isKubernetesConfigured(options.kubernetes)) {
      throw new HttpProblem(
        503,
        'kubernetes_not_configured',
        'This platform runs no Kubernetes for Hotstepper, so there is no namespace for you.'
      );
    }
    let kc: KubeConfig;
    try {
      kc = loadKubeConfig(options.kubernetes);
    } catch (err) {
      throw new HttpProblem(
        503,
        'kubernetes_unreachable',
        'The companion cannot reach Kubernetes (its configuration is broken). Tell the platform operators.',
        undefined,
        { cause: err }
      );
    }
    clients = {
      core: kc.makeApiClient(CoreV1Api),
      rbac: kc.makeApiClient(RbacAuthorizationV1Api),
      objects: KubernetesObjectApi.makeApiClient(kc)
    };
    return clients;
  }

  const labelsOf = (namespace: string) => ({
    [MANAGED_BY]: 'hotstepper',
    [USER_LABEL]: userLabel(config.namespacePrefix, namespace)
  });

  async function readNamespace(name: string): Promise<V1Namespace | undefined> {
    return connect()
      .core.readNamespace({ name })
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw err;
      });
  }

  /** Create the namespace unless it exists; either way it must be this user's. */
  async function ensureNamespace(user: string, name: string): Promise<boolean> {
    let ns = await readNamespace(name);
    let created = false;
    if (!ns) {
      const body: V1Namespace = {
        metadata: { name, labels: labelsOf(name), annotations: { [USER_ANNOTATION]: user } }
      };
      try {
        ns = await connect().core.createNamespace({ body });
        created = true;
        options.log?.info({ namespace: name, user }, 'created the namespace of a user');
      } catch (err) {
        // Another replica (or request) created it first.
        if ((err as { code?: unknown }).code !== 409) throw err;
        ns = await readNamespace(name);
      }
    }
    const owner = ns?.metadata?.annotations?.[USER_ANNOTATION];
    if (!ns || ns.metadata?.labels?.[MANAGED_BY] !== 'hotstepper' || owner !== user) {
      throw new HttpProblem(
        409,
        'namespace_taken',
        `Your Kubernetes namespace "${name}" is held by something that is not yours, so the ` +
          'companion will not use it. Tell the platform operators (the companion logged the details).',
        undefined,
        {
          cause:
            `namespace ${name} of user "${user}" exists with owner annotation ` +
            `${owner === undefined ? 'missing' : `"${owner}"`} and ${MANAGED_BY}=` +
            `${ns?.metadata?.labels?.[MANAGED_BY] ?? '(none)'}`
        }
      );
    }
    if (ns.status?.phase === 'Terminating') {
      throw new HttpProblem(
        503,
        'namespace_terminating',
        'Your namespace is being deleted right now. Try again in a minute; it is created anew.'
      );
    }
    return created;
  }

  /** Server-side apply of the RoleBinding, ResourceQuota and LimitRange. */
  async function applyObjects(user: string, namespace: string): Promise<void> {
    const { core, rbac } = connect();
    const metadata = (name: string) => ({ name, namespace, labels: labelsOf(namespace) });
    const apply = { namespace, fieldManager: FIELD_MANAGER, force: true };
    const role = config.userClusterRole;
    const work: Promise<unknown>[] = [
      rbac.patchNamespacedRoleBinding(
        {
          ...apply,
          name: role,
          body: {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: metadata(role),
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }]
          }
        },
        APPLY
      )
    ];
    if (Object.keys(config.quota).length) {
      work.push(
        core.patchNamespacedResourceQuota(
          {
            ...apply,
            name: TENANCY_OBJECT,
            body: {
              apiVersion: 'v1',
              kind: 'ResourceQuota',
              metadata: metadata(TENANCY_OBJECT),
              spec: { hard: config.quota }
            }
          },
          APPLY
        )
      );
    }
    const { default: limits, defaultRequest } = config.limitRange;
    if (Object.keys(limits).length || Object.keys(defaultRequest).length) {
      work.push(
        core.patchNamespacedLimitRange(
          {
            ...apply,
            name: TENANCY_OBJECT,
            body: {
              apiVersion: 'v1',
              kind: 'LimitRange',
              metadata: metadata(TENANCY_OBJECT),
              spec: { limits: [{ type: 'Container', default: limits, defaultRequest }] }
            }
          },
          APPLY
        )
      );
    }
    await Promise.all(work);
  }

  /**
   * Until the quota controller has counted a new quota, Kubernetes refuses every pod in the
   * namespace ("status unknown for quota"): wait for it briefly, so a first request succeeds.
   */
  async function quotaCounted(namespace: string): Promise<void> {
    if (!Object.keys(config.quota).length) return;
    const { core } = connect();
    for (let i = 0, delay = 50; i < 20; i++, delay = Math.min(delay * 2, 250)) {
      const quota = await core.readNamespacedResourceQuota({ name: TENANCY_OBJECT, namespace });
      const hard = quota.spec?.hard ?? {};
      if (Object.keys(hard).every(k => quota.status?.hard?.[k] === hard[k])) return;
      await new Promise(r => setTimeout(r, delay));
    }
    options.log?.warn({ namespace }, 'the quota of a new namespace is not counted yet');
  }

  async function setUp(user: string, namespace: string): Promise<void> {
    const created = await ensureNamespace(user, namespace);
    if (created || !applied.has(user)) {
      await applyObjects(user, namespace);
      applied.add(user);
      await quotaCounted(namespace);
    }
    checked.set(user, Date.now() + recheckMs);
  }

  /** Single flight per user: concurrent first requests share one set-up. */
  async function ensure(user: string): Promise<string> {
    const namespace = namespaceName(config.namespacePrefix, user);
    if ((checked.get(user) ?? 0) > Date.now()) return namespace;
    let pending = inflight.get(user);
    if (!pending) {
      pending = setUp(user, namespace).finally(() => inflight.delete(user));
      inflight.set(user, pending);
    }
    try {
      await pending;
    } catch (err) {
      throw kubernetesProblem(err);
    }
    return namespace;
  }

  async function tenant(user: string): Promise<ITenant> {
    const namespace = await ensure(user);
    return createTenant({
      user,
      namespace,
      labels: labelsOf(namespace),
      fieldManager: FIELD_MANAGER,
      clients: connect()
    });
  }

  return {
    namespaceOf: user => namespaceName(config.namespacePrefix, user),
    tenant,
    async describe(user) {
      const mine = await tenant(user);
      return { namespace: mine.namespace, quota: await mine.quota() };
    },
    async sharedClaim(user, claim) {
      const namespace = await ensure(user);
      try {
        await ensureSharedClaim(connect().core, namespace, labelsOf(namespace), claim);
      } catch (err) {
        throw kubernetesProblem(err);
      }
    }
  };
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    tenancy: ITenancy;
  }
}

/** `app.tenancy`: no Kubernetes call at start, so a cluster that is down cannot stop the companion. */
export const tenancyPlugin = fp(
  async app => {
    app.decorate('tenancy', createTenancy({ kubernetes: app.config.kubernetes, log: app.log }));
  },
  { name: 'tenancy', dependencies: ['config'] }
);
