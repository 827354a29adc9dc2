import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { meRoutes } from './routes.js';

/** GET /api/v1/me and the caller's preferences. */
export const me: IFeature = { name: 'me', routes: meRoutes, migrations };
