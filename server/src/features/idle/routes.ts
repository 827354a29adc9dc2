/** HTTP for the `idle` feature: my countdown, "Keep running", my stop explanation; operators' view. */
import type { FastifyPluginAsync } from 'fastify';
import { currentUser, requireAdmin } from '../../platform/identity.js';
import { route } from '../../platform/routes.js';
import { startIdleController } from './controller.js';
import { createIdleService } from './service.js';
import { createIdleStore } from './store.js';

export const idleRoutes: FastifyPluginAsync = async app => {
  const store = createIdleStore(app.database.db);
  const service = createIdleService(app.config.idle, store);
  startIdleController(app, store);

  route(app, 'getIdleMine', async request => service.mine(currentUser(request).name));
  route(app, 'snoozeIdle', async request =>
    service.snooze(currentUser(request).name, request.body.server)
  );
  route(app, 'acknowledgeIdleStop', async (request, reply) => {
    await service.acknowledge(currentUser(request).name, request.params.id);
    reply.code(204);
    return undefined;
  });
  route(app, 'listIdle', async () => service.overview(), { preHandler: requireAdmin });
};
