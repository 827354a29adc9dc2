/** The companion's own state for operators. Never includes configuration: it holds secrets. */
import type { Status } from '@hotstepper/schema';
import type { IConnections } from '../../platform/connections.js';
import type { IDatabase } from '../../platform/database.js';
import type { IIdentity } from '../../platform/identity.js';

export interface IStatusServiceDeps {
  version: string;
  startedAt: Date;
  database: IDatabase;
  connections: IConnections;
  identity: IIdentity;
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
        identityCache: deps.identity.stats()
      };
    }
  };
}
