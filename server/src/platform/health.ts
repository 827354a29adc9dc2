/**
 * Liveness and readiness for Kubernetes and for people. Readiness lists the checks that decide it:
 * the database (answers, migrations applied) and JupyterHub (without it nobody can be identified).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ConnectionName } from './connections.js';
import { route } from './routes.js';

const READINESS: ConnectionName[] = ['database', 'jupyterhub'];

export const healthRoutes: FastifyPluginAsync = async app => {
  route(app, 'getLiveness', async () => ({ status: 'ok' }));

  route(app, 'getReadiness', async (_request, reply) => {
    const checks = await app.connections.list(READINESS);
    const ready = checks.every(c => c.state === 'connected');
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks };
  });
};
