/** HTTP for the `cluster` feature: any logged-in user may see what the cluster offers. */
import type { FastifyPluginAsync } from 'fastify';
import { HttpProblem } from '../../platform/problem.js';
import { route } from '../../platform/routes.js';

export const clusterRoutes: FastifyPluginAsync = async app => {
  route(app, 'getClusterGpus', async () => {
    const index = app.clusterIndex;
    if (!index) {
      throw new HttpProblem(
        503,
        'kubernetes_not_configured',
        'This companion is not connected to a Kubernetes cluster, so it cannot say which GPUs ' +
          'there are. Ask the platform operators to configure kubernetes in the companion.'
      );
    }
    if (!index.synced()) {
      throw new HttpProblem(
        503,
        'kubernetes_syncing',
        'The companion is still reading the cluster (or cannot reach its API server yet). Try ' +
          'again in a few seconds; if it persists, tell the platform operators.'
      );
    }
    return index.gpus();
  });
};
