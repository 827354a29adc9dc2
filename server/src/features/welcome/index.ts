import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { welcomeRoutes } from './routes.js';

/** Welcome back: the execution journal, the digest of a notebook and the LLM's summary of it. */
export const welcome: IFeature = { name: 'welcome', routes: welcomeRoutes, migrations };
