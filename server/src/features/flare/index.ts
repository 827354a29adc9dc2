import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { flareRoutes } from './routes.js';

/** Flare: a web app in the notebook server at https://<name>.<flare domain>, with access control. */
export const flare: IFeature = { name: 'flare', routes: flareRoutes, migrations };
