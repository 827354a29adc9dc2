/** HTTP for the `status` feature: operators only. */
import type { FastifyPluginAsync } from 'fastify';
import { requireAdmin } from '../../platform/identity.js';
import { route } from '../../platform/routes.js';
import { version } from '../../platform/version.js';
import { createStatusService } from './service.js';

export const statusRoutes: FastifyPluginAsync = async app => {
  const service = createStatusService({
    version,
    startedAt: new Date(),
    database: app.database,
    connections: app.connections,
    identity: app.identity,
    kubernetesIndexes: () => app.clusterIndex?.informers() ?? []
  });

  route(app, 'getStatus', async () => service.status(), { preHandler: requireAdmin });
};
