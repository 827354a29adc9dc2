/** HTTP for Flare: thin handlers over the service, and the gateway's lifetime. */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { ConfigError } from '../../platform/config.js';
import { currentUser } from '../../platform/identity.js';
import { isKubernetesConfigured } from '../../platform/kubernetes/client.js';
import { route } from '../../platform/routes.js';
import { accessOf, cookieNames, createSigner, decide, mayUseCookie, sessionOf } from './access.js';
import { createFlareObjects } from './kubernetes.js';
import { HttpProblem } from '../../platform/problem.js';
import { createGateway, type FlareGateway } from './gateway.js';
import { createFlareHub } from './hub.js';
import { createFlareService, urlOf, type FlareService } from './service.js';

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    flare: { service: FlareService; gateway: FlareGateway };
  }
}

const flarePlugin: FastifyPluginAsync = async app => {
  const config = app.config.flare;
  if (config.gateway.target === 'pod' && !isKubernetesConfigured(app.config.kubernetes)) {
    // Without the cluster there is no pod to forward to, and falling back to an address would
    // undo what target pod is for: refuse to start rather than serve every app as offline.
    throw new ConfigError([
      'flare.gateway.target is "pod" (HOTSTEPPER_FLARE_GATEWAY_TARGET), but the companion has ' +
        'no Kubernetes (kubernetes.enabled / KUBECONFIG): configure Kubernetes, or set ' +
        'flare.gateway.target to "loopback" when users\' servers are local processes'
    ]);
  }
  const hub = createFlareHub({
    apiUrl: app.config.jupyterhub.apiUrl,
    hubUrl: config.hubUrl.replace(/\/+$/, ''),
    serviceToken: app.config.jupyterhub.apiToken,
    timeoutSeconds: app.config.jupyterhub.timeoutSeconds,
    redirectUri: `${urlOf(config, config.domain)}_flare/callback`
  });
  const objects =
    config.mode === 'kubernetes' ? createFlareObjects(app.tenancy, config) : undefined;
  const service = createFlareService({
    db: app.database.db,
    config,
    hub,
    reports: app.serverReports,
    pods: app.serverPods,
    namespaceOf: user => app.tenancy.namespaceOf(user),
    objects
  });
  const signer = createSigner(config.cookieSecret ?? randomBytes(32).toString('hex'));
  // In mode kubernetes too: the login host and the /_flare/ paths of app hosts are served here.
  const gateway = createGateway({
    config,
    service,
    hub,
    signer,
    log: app.log.child({ feature: 'flare' })
  });
  app.decorate('flare', { service, gateway });
  {
    app.addHook('onReady', async () => {
      try {
        await gateway.listen();
        app.log.info({ port: gateway.port(), domain: config.domain }, 'flare gateway listening');
      } catch (err) {
        // The API and every other feature still work; only Flare addresses do not answer.
        const { host, port } = config.gateway;
        app.log.error({ err, host, port }, 'flare gateway cannot listen; set flare.gateway.port');
      }
    });
  }
  app.addHook('onClose', async () => {
    await gateway.close();
    await service.close();
  });

  const owner = (request: Parameters<typeof currentUser>[0]) => currentUser(request).name;
  route(app, 'listFlareRoutes', async request => service.list(owner(request)));
  route(app, 'createFlareRoute', async (request, reply) => {
    const made = await service.create(owner(request), request.body);
    reply.code(201);
    return made;
  });
  route(app, 'getFlareRoute', async request => service.get(owner(request), request.params.name));
  route(app, 'updateFlareRoute', async request =>
    service.update(owner(request), request.params.name, request.body)
  );
  route(app, 'deleteFlareRoute', async request => {
    await service.remove(owner(request), request.params.name);
    return service.list(owner(request));
  });
  route(app, 'rotateFlareShareLink', async request =>
    service.rotate(owner(request), request.params.name)
  );
  route(app, 'listFlarePorts', async request => service.ports(owner(request)));

  // The ingress controller asks here before each request to a non-public route (mode kubernetes).
  route(app, 'checkFlareAccess', async request => {
    const row = await service.lookup(request.query.route);
    if (!row) {
      throw new HttpProblem(
        404,
        'route_not_found',
        `There is no Flare route "${request.query.route}".`
      );
    }
    // The ingress passes the original request's headers, and its method as X-Original-Method:
    // the same rule as the gateway's for requests from another origin.
    const method = request.headers['x-original-method'];
    const original = typeof method === 'string' ? method.toUpperCase() : 'GET';
    if (
      accessOf(row).mode !== 'public' &&
      !mayUseCookie(
        request.headers,
        original,
        new URL(urlOf(config, `${row.name}.${config.domain}`)).origin
      )
    ) {
      throw new HttpProblem(
        403,
        'cross_origin',
        `This request to ${row.name} did not come from a page of the app itself; it was refused.`
      );
    }
    const session = sessionOf(
      signer,
      request.headers.cookie,
      cookieNames(config.publicUrl.startsWith('https:')).session,
      row.name,
      `${row.name}.${config.domain}`
    );
    const decision = await decide(row, session, user => hub.groupsOf(user));
    if (decision === 'login') {
      throw new HttpProblem(401, 'visitor_unknown', 'Log in with JupyterHub to open this app.');
    }
    if (decision === 'forbidden') {
      throw new HttpProblem(
        403,
        'visitor_refused',
        `${row.owner} has not shared this app with you.`
      );
    }
    return undefined;
  });
};

/** Not encapsulated, so tests and main can reach app.flare (the gateway's port). */
export const flareRoutes = fp(flarePlugin, {
  name: 'flare',
  dependencies: ['config', 'identity', 'database', 'tenancy', 'server-pods']
});
