import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { usageRoutes } from './routes.js';

/** Usage and cost: live usage, the meter's daily rollups, history, the rate card. */
export const usage: IFeature = { name: 'usage', routes: usageRoutes, migrations };
