/**
 * Who is calling: every /api request carries the user's JupyterHub token, which we resolve with
 * the hub's GET /user. That token is as strong as the user's own server, so it goes to that one
 * endpoint only, is never stored (the cache is keyed by its sha256) and never logged.
 * A token must also carry access to this service (`access:services!service=<name>`), as the
 * hub grants it to users' server tokens: a narrow token made for something else is no key here.
 */
import { createHash } from 'node:crypto';
import type { User } from '@hotstepper/schema';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { DOCS_PREFIX } from './openapi.js';
import { HttpProblem, problems } from './problem.js';
import { describeFailure } from './probes.js';

export interface IIdentityCacheStats {
  entries: number;
  hits: number;
  misses: number;
  ttlSeconds: number;
}

export interface IIdentity {
  /** The user a hub token belongs to; throws an HttpProblem (401, 403, 503) otherwise. */
  resolve(token: string): Promise<User>;
  stats(): IIdentityCacheStats;
}

export interface IIdentityOptions {
  apiUrl: string;
  cacheSeconds: number;
  adminGroups: string[];
  timeoutSeconds: number;
  /** The companion's JupyterHub service name: tokens must carry access to it. */
  serviceName: string;
  onHit?: () => void;
  onMiss?: () => void;
}

interface IHubModel {
  kind?: string;
  name?: string;
  admin?: boolean;
  groups?: string[];
  scopes?: string[];
}

// Bounds memory if many distinct tokens show up within one TTL.
const MAX_ENTRIES = 10_000;

export function createIdentity(options: IIdentityOptions): IIdentity {
  const ttlMs = options.cacheSeconds * 1000;
  const cache = new Map<string, { user: User; expires: number }>();
  const inflight = new Map<string, Promise<User>>();
  let hits = 0;
  let misses = 0;
  const accessScope = `access:services!service=${options.serviceName}`;

  async function ask(token: string): Promise<User> {
    const url = `${options.apiUrl}/user`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { Authorization: `token ${token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000)
      });
    } catch (err) {
      throw problems.hubUnreachable(options.apiUrl, describeFailure(err, options.timeoutSeconds));
    }
    if (res.status === 401 || res.status === 403) throw problems.tokenInvalid();
    if (!res.ok) throw problems.hubUnreachable(options.apiUrl, `it answered HTTP ${res.status}`);
    const model = (await res.json()) as IHubModel;
    if (model.kind !== 'user' || !model.name) {
      throw problems.notAUser(model.kind ?? 'client', model.name ?? '?');
    }
    const scopes = model.scopes ?? [];
    if (!scopes.includes(accessScope) && !scopes.includes('access:services')) {
      throw problems.tokenScopeMissing(accessScope);
    }
    const groups = model.groups ?? [];
    return {
      name: model.name,
      groups,
      // The hub's flag only covers direct members of its admin role, hence the groups as well.
      admin: model.admin === true || groups.some(g => options.adminGroups.includes(g))
    };
  }

  function remember(key: string, user: User) {
    if (ttlMs <= 0) return;
    if (cache.size >= MAX_ENTRIES) {
      const now = Date.now();
      for (const [k, v] of cache) if (v.expires <= now) cache.delete(k);
      // Still full: drop the oldest entry (Map keeps insertion order).
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    }
    cache.set(key, { user, expires: Date.now() + ttlMs });
  }

  return {
    async resolve(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const cached = cache.get(key);
      if (cached && cached.expires > Date.now()) {
        hits++;
        options.onHit?.();
        return cached.user;
      }
      misses++;
      options.onMiss?.();
      // Concurrent requests with the same token share one hub round trip.
      let pending = inflight.get(key);
      if (!pending) {
        pending = ask(token)
          .then(user => {
            remember(key, user);
            return user;
          })
          .catch((err: unknown) => {
            // A revoked or expired token must not outlive the hub's answer in our cache.
            if (err instanceof HttpProblem && err.code === 'token_invalid') {
              cache.delete(key);
            }
            throw err;
          })
          .finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      return pending;
    },
    stats() {
      return { entries: cache.size, hits, misses, ttlSeconds: options.cacheSeconds };
    }
  };
}

const AUTHORIZATION = /^(?:token|bearer)\s+(\S+)\s*$/i;

/** The token of `Authorization: token <t>` or `Authorization: Bearer <t>`. */
export function tokenOf(request: FastifyRequest): string | undefined {
  return AUTHORIZATION.exec(request.headers.authorization ?? '')?.[1];
}

/**
 * Whether the route a request was routed to takes a hub token: every /api route but the docs.
 * Decided from the route's own pattern, never from the URL as sent: the router decodes %61pi,
 * strips an absolute-form origin and so on, and whatever it routes to an /api route is an /api
 * request. A request that routes nowhere gets the not-found answer and no identity.
 */
export function needsIdentity(request: FastifyRequest): boolean {
  const pattern = request.is404 ? undefined : request.routeOptions.url;
  if (pattern === undefined) return false;
  if (pattern === DOCS_PREFIX || pattern.startsWith(`${DOCS_PREFIX}/`)) return false;
  return pattern === '/api' || pattern.startsWith('/api/');
}

/** The caller of an /api route. Identity has always run by the time a handler does. */
export function currentUser(request: FastifyRequest): User {
  if (!request.user)
    throw new Error(`no identity on ${request.method} ${request.routeOptions.url}`);
  return request.user;
}

/** preHandler for operator-only routes. */
export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (!currentUser(request).admin) {
    throw problems.forbidden(
      'Only Hotstepper operators may do this: JupyterHub admins and members of the admin ' +
        'groups the companion is configured with.'
    );
  }
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    identity: IIdentity;
  }
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyRequest {
    user?: User;
  }
}

export const identityPlugin = fp(
  async app => {
    const counter = (name: string, help: string) =>
      new Counter({ name, help, registers: [app.metrics.registry] });
    const hitCounter = counter(
      'hotstepper_identity_cache_hits_total',
      'Hub tokens resolved from the identity cache.'
    );
    const missCounter = counter(
      'hotstepper_identity_cache_misses_total',
      'Hub tokens resolved by asking JupyterHub.'
    );
    const { jupyterhub, identity } = app.config;
    const resolver = createIdentity({
      apiUrl: jupyterhub.apiUrl,
      timeoutSeconds: jupyterhub.timeoutSeconds,
      cacheSeconds: identity.cacheSeconds,
      adminGroups: identity.adminGroups,
      serviceName: jupyterhub.serviceName,
      onHit: () => hitCounter.inc(),
      onMiss: () => missCounter.inc()
    });
    app.decorate('identity', resolver);
    app.decorateRequest('user', undefined);
    app.addHook('onRequest', async request => {
      if (!needsIdentity(request)) return;
      const token = tokenOf(request);
      if (!token) throw problems.tokenMissing();
      request.user = await resolver.resolve(token);
    });
  },
  { name: 'identity', dependencies: ['config', 'metrics', 'problems'] }
);
