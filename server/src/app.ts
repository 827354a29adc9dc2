/**
 * The companion as a fastify app: platform plugins first (what every feature stands on), then the
 * operational routes, then one encapsulated plugin per feature.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { cluster } from './features/cluster/index.js';
import { flare } from './features/flare/index.js';
import { grader } from './features/grader/index.js';
import { idle } from './features/idle/index.js';
import { jobs } from './features/jobs/index.js';
import { me } from './features/me/index.js';
import { spawn } from './features/spawn/index.js';
import { status } from './features/status/index.js';
import { usage } from './features/usage/index.js';
import { welcome } from './features/welcome/index.js';
import { configPlugin, type IConfig } from './platform/config.js';
import { connectionsPlugin } from './platform/connections.js';
import { databasePlugin } from './platform/database.js';
import { collectMigrations, type IFeature } from './platform/feature.js';
import { healthRoutes } from './platform/health.js';
import { identityPlugin } from './platform/identity.js';
import { clusterIndexPlugin } from './platform/kubernetes/cluster-plugin.js';
import { serverPodsPlugin } from './platform/kubernetes/server-pods-plugin.js';
import { tenancyPlugin } from './platform/kubernetes/tenancy.js';
import { loggerOptions, type ILogDestination } from './platform/logging.js';
import { mailPlugin } from './platform/mail.js';
import { metricsPlugin } from './platform/metrics.js';
import { openapiPlugin } from './platform/openapi.js';
import {
  clientErrorHandler,
  frameworkErrorHandler,
  MAX_PARAM_LENGTH,
  problemPlugin
} from './platform/problem.js';
import { prometheusPlugin } from './platform/prometheus.js';
import { schemaPlugin } from './platform/schemas.js';
import { serverReportMigrations, serverReportsPlugin } from './platform/server-reports.js';

/** Every feature of the companion. A feature never imports another feature's folder. */
export const features: IFeature[] = [
  me,
  status,
  cluster,
  flare,
  grader,
  jobs,
  spawn,
  usage,
  welcome,
  idle
];

export interface IAppOptions {
  config: IConfig;
  features?: IFeature[];
}

/** The whole companion as one plugin, so tests and main.ts build it the same way. */
export const hotstepper: FastifyPluginAsync<IAppOptions> = async (app, options) => {
  const list = options.features ?? features;
  await app.register(configPlugin, { config: options.config });
  await app.register(problemPlugin);
  await app.register(schemaPlugin);
  await app.register(openapiPlugin);
  await app.register(metricsPlugin);
  await app.register(identityPlugin);
  await app.register(databasePlugin, {
    migrations: { ...serverReportMigrations, ...collectMigrations(list) }
  });
  await app.register(serverReportsPlugin);
  await app.register(connectionsPlugin);
  await app.register(prometheusPlugin);
  await app.register(mailPlugin);
  await app.register(clusterIndexPlugin);
  await app.register(serverPodsPlugin);
  await app.register(tenancyPlugin);
  await app.register(healthRoutes);
  for (const feature of list) await app.register(feature.routes);
};

export interface IBuildOptions {
  features?: IFeature[];
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: ILogDestination;
}

export async function buildApp(
  config: IConfig,
  options: IBuildOptions = {}
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.log.level, options.logStream),
    bodyLimit: 1024 * 1024,
    // Above the usual 60 s idle timeout of proxies in front, so they close first, not we.
    keepAliveTimeout: 72_000,
    requestTimeout: 30_000,
    // Migrations on a remote PostgreSQL can take longer than fastify's 10 s plugin default.
    pluginTimeout: 60_000,
    // What fastify and Node reject before any route runs answers problem+json too.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler
  });
  // JSON only: a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  // Jupyter's ServerConnection labels every request application/json, bodiless POSTs and DELETEs
  // included: an empty JSON body is no body, not malformed JSON. The rest keeps fastify's parser
  // (it refuses __proto__ and constructor.prototype keys).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') done(null, undefined);
    else json(request, String(body), done);
  });
  // A request in flight at shutdown keeps its keep-alive socket afterwards, which would hold
  // close() for the whole keepAliveTimeout: tell its client we are closing the connection.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  // fp: the app's decorators (identity, database...) stay visible on the instance we return.
  await app.register(fp(hotstepper), { config, features: options.features });
  return app;
}
