import type { IFeature } from '../../platform/feature.js';
import { statusRoutes } from './routes.js';

/** GET /api/v1/status: the companion's state, for operators. */
export const status: IFeature = { name: 'status', routes: statusRoutes };
