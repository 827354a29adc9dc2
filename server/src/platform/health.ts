/**
 * Liveness and readiness for Kubernetes and for people. Readiness lists the checks that decide it:
 * the database (answers, migrations applied) and JupyterHub (without it nobody can be identified).
 * Kubernetes, when configured, is listed but does not decide: a cluster outage would otherwise take
 * every replica out of its Service at once, and with them usage, welcome-back and /me, which say
 * that Kubernetes is down. The probe keeps checking, so the state recovers by itself.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ConnectionName } from './connections.js';
import { isKubernetesConfigured } from './kubernetes/client.js';
import { route } from './routes.js';

const READINESS: ConnectionName[] = ['database', 'jupyterhub'];

export const healthRoutes: FastifyPluginAsync = async app => {
  route(app, 'getLiveness', async () => ({ status: 'ok' }));

  const listed: ConnectionName[] = isKubernetesConfigured(app.config.kubernetes)
    ? [...READINESS, 'kubernetes']
    : READINESS;
  route(app, 'getReadiness', async (_request, reply) => {
    const checks = await app.connections.list(listed);
    const ready = checks.every(c => c.state === 'connected' || !READINESS.includes(c.name));
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks, decidedBy: READINESS };
  });
};
