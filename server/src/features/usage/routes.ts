/** HTTP for the `usage` feature: my live usage, history and the rate card; operators' table. */
import type { FastifyPluginAsync } from 'fastify';
import { currentUser, requireAdmin } from '../../platform/identity.js';
import { namespaceName } from '../../platform/kubernetes/namespaces.js';
import { route } from '../../platform/routes.js';
import { startUsageController } from './controller.js';
import { createLiveUsage } from './live.js';
import { createUsageService } from './service.js';

export const usageRoutes: FastifyPluginAsync = async app => {
  const { usage, kubernetes } = app.config;
  const service = createUsageService({ db: app.database.db, rateCard: usage.rateCard });
  const controller = startUsageController(app);
  const live = createLiveUsage({
    prometheus: app.prometheus,
    namespacePrefix: kubernetes.tenancy.namespacePrefix,
    cacheSeconds: usage.liveCacheSeconds
  });

  route(app, 'getUsageRateCard', async () => service.rateCard());
  route(app, 'getUsageHistory', async request =>
    service.history(currentUser(request).name, request.query.days ?? 90)
  );
  route(app, 'getUsageLive', async request => {
    const index = controller?.index;
    // The namespace is derived from the caller, never chosen by the client.
    const namespace = namespaceName(kubernetes.tenancy.namespacePrefix, currentUser(request).name);
    const state = !index ? 'not_configured' : index.synced() ? 'connected' : 'syncing';
    return live.live(namespace, index?.podsIn(namespace) ?? [], state);
  });
  route(app, 'listUsageUsers', async request => service.users(request.query.days ?? 90), {
    preHandler: requireAdmin
  });
};
