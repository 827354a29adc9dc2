import type { FastifyPluginAsync } from 'fastify';
import type { IFeature } from '../../platform/feature.js';
import { isKubernetesConfigured } from '../../platform/kubernetes/client.js';
import { createActiveServers } from './hub.js';
import { migrations } from './migrations.js';
import { spawnRoutes } from './routes.js';
import { createSpawnService } from './service.js';

/**
 * Spawn options: the one options schema for starting a server, owned here and enforced by the
 * hub's spawner (jupyter/hotstepper/spawner.py calls POST /api/v1/spawn/check before any start).
 */
const plugin: FastifyPluginAsync = async app => {
  const { jupyterhub, kubernetes, spawn } = app.config;
  const service = createSpawnService({
    db: app.database.db,
    config: spawn,
    // a kubeconfig is enough (the local platform's); `enabled` alone means in-cluster
    tenancy: isKubernetesConfigured(kubernetes) ? app.tenancy : undefined,
    activeServers: createActiveServers({
      apiUrl: jupyterhub.apiUrl,
      token: jupyterhub.apiToken,
      timeoutSeconds: jupyterhub.timeoutSeconds
    }),
    log: app.log.child({ feature: 'spawn' })
  });
  await app.register(spawnRoutes(service));
};

export const spawn: IFeature = { name: 'spawn', routes: plugin, migrations };
