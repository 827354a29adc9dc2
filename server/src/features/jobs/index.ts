import { dirname, join, resolve } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { IFeature } from '../../platform/feature.js';
import { createKubernetesExecutor } from './executors/kubernetes.js';
import { createLocalExecutor } from './executors/local.js';
import type { IExecutorContext, IJobExecutor } from './executors/types.js';
import { migrations } from './migrations.js';
import { jobsRoutes } from './routes.js';
import { createJobsService, type JobsService } from './service.js';

/**
 * Background jobs: a command or a notebook run by the configured executor (local processes or
 * Kubernetes Jobs), recorded in the database, with live logs.
 */
const plugin: FastifyPluginAsync = async app => {
  const config = app.config.jobs;
  // The executor reports to the service, which needs the executor: tied once both exist.
  const ref: { service?: JobsService } = {};
  const ctx: IExecutorContext = {
    update: async (id, patch) => ref.service?.update(id, patch),
    owner: async id => ref.service?.owner(id),
    log: app.log.child({ feature: 'jobs' })
  };
  const executor: IJobExecutor =
    config.executor === 'kubernetes'
      ? createKubernetesExecutor(app, config, ctx)
      : createLocalExecutor(
          config,
          resolve(config.local.logDir ?? join(dirname(app.config.database.path), 'jobs')),
          dirname(resolve(app.config.database.path)),
          ctx
        );
  const service = createJobsService({
    db: app.database.db,
    config,
    executor,
    clusterIndex: app.clusterIndex,
    log: ctx.log
  });
  await app.register(jobsRoutes(service, config.caps.logStreamsPerUser));
  ref.service = service;
  app.addHook('onReady', async () => service.resume());
  app.addHook('onClose', async () => executor.close());
};

export const jobs: IFeature = { name: 'jobs', routes: plugin, migrations };
