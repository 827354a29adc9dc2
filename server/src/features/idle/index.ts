import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { idleRoutes } from './routes.js';

/** The idle guard: warns owners of idle servers, allows a bounded snooze, then stops them. */
export const idle: IFeature = { name: 'idle', routes: idleRoutes, migrations };
