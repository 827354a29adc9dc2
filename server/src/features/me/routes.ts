/** HTTP for the `me` feature: thin handlers over the service. */
import type { FastifyPluginAsync } from 'fastify';
import { currentUser } from '../../platform/identity.js';
import { route } from '../../platform/routes.js';
import { createMeService } from './service.js';

export const meRoutes: FastifyPluginAsync = async app => {
  const service = createMeService({ db: app.database.db, connections: app.connections });

  route(app, 'getMe', async request => service.me(currentUser(request)));
  route(app, 'getPreferences', async request => service.preferences(currentUser(request).name));
  route(app, 'putPreferences', async request =>
    service.setPreferences(currentUser(request).name, request.body)
  );
  // Pushed by the extension in each of my servers with that server's token (server-reports.ts).
  route(app, 'putServerReport', async (request, reply) => {
    await app.serverReports.put(currentUser(request).name, request.body);
    reply.code(204);
    return undefined;
  });
  // No parameter: the namespace is always the caller's own (platform/kubernetes/tenancy.ts).
  route(app, 'getMyNamespace', async request => app.tenancy.describe(currentUser(request).name));
};
