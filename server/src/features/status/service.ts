/** The companion's own state for operators. Never includes configuration: it holds secrets. */
import type { Status } from '@hotstepper/schema';
import type { IConnections } from '../../platform/connections.js';
import type { IDatabase } from '../../platform/database.js';
import type { IIdentity } from '../../platform/identity.js';
import type { IInformerStats } from '../../platform/kubernetes/informer.js';

export interface IStatusServiceDeps {
  version: string;
  startedAt: Date;
  database: IDatabase;
  connections: IConnections;
  identity: IIdentity;
  kubernetesIndexes: () => IInformerStats[];
}

export function createStatusService(deps: IStatusServiceDeps) {
  return {
    async status(): Promise<Status> {
      const { applied } = await deps.database.migrations();
      return {
        version: deps.version,
        startedAt: deps.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 100) / 10,
        node: process.version,
        database: { dialect: deps.database.dialect, migrations: applied },
        connections: await deps.connections.list(),
        kubernetesIndexes: deps.kubernetesIndexes().map(i => ({
          name: i.name,
          objects: i.objects,
          synced: i.synced,
          connected: i.connected,
          stale: i.stale,
          lastContactAt: i.lastContactAt?.toISOString() ?? null,
          lastError: i.lastError,
          lists: i.lists,
          relistsGone: i.relistsGone,
          failures: i.failures
        })),
        identityCache: deps.identity.stats()
      };
    }
  };
}
