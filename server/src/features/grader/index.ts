import type { IFeature } from '../../platform/feature.js';
import { migrations } from './migrations.js';
import { graderRoutes } from './routes.js';

/** Grader: nbgrader courses from the hub's groups, run from JupyterLab, autograded in parallel. */
export const grader: IFeature = { name: 'grader', routes: graderRoutes, migrations };
