import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { namespaceName } from '../../platform/kubernetes/namespaces.js';
import { createRegistryIndex } from '../../platform/registry.js';
import type { ISpawnConfig, ISpawnImageConfig } from './config.js';
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
  const ownImages = userImages(app, spawn, kubernetes.tenancy.namespacePrefix);
  const service = createSpawnService({
    ownImages,
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

/**
 * Each user's own images: the repositories under spawn.userImages.repository in the registry
 * (the image builder pushes there), as a "My images" category of the catalogue.
 */
function userImages(
  app: FastifyInstance,
  config: ISpawnConfig,
  namespacePrefix: string
): ((user: string) => ISpawnImageConfig[]) | undefined {
  const { registry, repository, refreshSeconds } = config.userImages;
  if (!registry) return undefined;
  const index = createRegistryIndex({
    url: registry,
    prefix: repository.slice(0, repository.indexOf('{namespace}')),
    refreshSeconds,
    log: app.log.child({ feature: 'spawn' })
  });
  app.addHook('onClose', async () => index.close());
  return user => {
    const mine = `${repository.replace('{namespace}', namespaceName(namespacePrefix, user))}/`;
    return index.under(mine).map(r => ({
      name: `${index.host}/${r.name}`,
      description: 'Your own image',
      category: 'My images',
      keywords: [r.name.slice(mine.length)],
      tags: r.tags
    }));
  };
}

export const spawn: IFeature = { name: 'spawn', routes: plugin, migrations };
