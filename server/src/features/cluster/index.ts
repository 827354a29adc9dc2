import type { IFeature } from '../../platform/feature.js';
import { clusterRoutes } from './routes.js';

/** GET /api/v1/cluster/gpus: what GPUs the cluster has and how many are free, from the index. */
export const cluster: IFeature = { name: 'cluster', routes: clusterRoutes };
