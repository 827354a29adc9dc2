/** HTTP for the `usage` feature: my live usage, history and the rate card; operators' tables; CSV. */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { currentUser, requireAdmin } from '../../platform/identity.js';
import { namespaceName } from '../../platform/kubernetes/namespaces.js';
import { route } from '../../platform/routes.js';
import { startUsageController } from './controller.js';
import { groupsCsv, historyCsv, usersCsv } from './csv.js';
import { createUsageHub } from './hub.js';
import { createLiveUsage } from './live.js';
import { createUsageService } from './service.js';

/**
 * A CSV answer, as a download. Like the jobs log stream, the contract documents the body
 * (UsageCsv) and the route sets its own content type; strings skip the JSON serializer.
 */
function asCsv(reply: FastifyReply, name: string, body: string): string {
  const file = `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.csv`;
  reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${file}"`)
    .header('cache-control', 'no-store');
  return body;
}

export const usageRoutes: FastifyPluginAsync = async app => {
  const { usage, kubernetes } = app.config;
  const service = createUsageService({ db: app.database.db, rateCard: usage.rateCard });
  const controller = startUsageController(app);
  const hub = createUsageHub({
    apiUrl: app.config.jupyterhub.apiUrl,
    serviceToken: app.config.jupyterhub.apiToken,
    timeoutSeconds: app.config.jupyterhub.timeoutSeconds
  });
  const days = (query: { days?: number }) => query.days ?? 90;
  const operators = { preHandler: requireAdmin };
  const live = createLiveUsage({
    prometheus: app.prometheus,
    namespacePrefix: kubernetes.tenancy.namespacePrefix,
    cacheSeconds: usage.liveCacheSeconds
  });

  route(app, 'getUsageRateCard', async () => service.rateCard());
  route(app, 'getUsageHistory', async request =>
    service.history(currentUser(request).name, days(request.query))
  );
  route(app, 'getUsageLive', async request => {
    const index = controller?.index;
    // The namespace is derived from the caller, never chosen by the client.
    const namespace = namespaceName(kubernetes.tenancy.namespacePrefix, currentUser(request).name);
    const state = !index ? 'not_configured' : index.synced() ? 'connected' : 'syncing';
    return live.live(namespace, index?.podsIn(namespace) ?? [], state);
  });
  route(app, 'listUsageUsers', async request => service.users(days(request.query)), operators);
  route(
    app,
    'listUsageGroups',
    async request => service.groups(days(request.query), await hub.groups()),
    operators
  );

  route(app, 'getUsageHistoryCsv', async (request, reply) => {
    const history = await service.history(currentUser(request).name, days(request.query));
    const name = `usage-${history.user}-${history.from}-${history.to}`;
    return asCsv(reply, name, historyCsv(history, service.rateCard()));
  });
  route(
    app,
    'listUsageUsersCsv',
    async (request, reply) => {
      const list = await service.users(days(request.query));
      return asCsv(reply, `usage-users-${list.from}-${list.to}`, usersCsv(list));
    },
    operators
  );
  route(
    app,
    'listUsageGroupsCsv',
    async (request, reply) => {
      const list = await service.groups(days(request.query), await hub.groups());
      return asCsv(reply, `usage-groups-${list.from}-${list.to}`, groupsCsv(list));
    },
    operators
  );
};
