/** HTTP for the `spawn` feature: thin handlers over the service; identity decides whose options. */
import type { FastifyPluginAsync } from 'fastify';
import { currentUser } from '../../platform/identity.js';
import { route } from '../../platform/routes.js';
import type { SpawnService } from './service.js';

export function spawnRoutes(service: SpawnService): FastifyPluginAsync {
  return async app => {
    route(app, 'getSpawnOptions', async request => service.options(currentUser(request)));
    route(app, 'checkSpawn', async request =>
      service.check(currentUser(request), request.body ?? {})
    );
    // Only the caller's own servers: another user's server name simply has no row (404).
    route(app, 'getLastSpawn', async request =>
      service.last(currentUser(request).name, request.params.name)
    );
  };
}
