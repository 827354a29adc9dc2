/** HTTP for the `welcome` feature: thin handlers over the service, always the caller's own data. */
import type { FastifyPluginAsync } from 'fastify';
import { currentUser, requireAdmin } from '../../platform/identity.js';
import { createLlm } from '../../platform/llm.js';
import { route } from '../../platform/routes.js';
import { createWelcomeService } from './service.js';

/** The extension sends the notebook's cells (sources, error outputs only): a 5,000-cell one fits. */
const NOTEBOOK_BODY_LIMIT = 16 * 1024 * 1024;
const SWEEP_MS = 3_600_000;

export const welcomeRoutes: FastifyPluginAsync = async app => {
  const llm = createLlm(app.config.llm, app.log);
  const service = createWelcomeService({
    db: app.database.db,
    llm,
    llmTimeoutSeconds: app.config.llm.timeoutSeconds,
    log: app.log,
    config: app.config.welcome
  });
  // Retention: a sweep at start and every hour (every replica; deleting twice is harmless).
  const sweep = () =>
    service
      .sweep()
      .then(n => n && app.log.info({ rows: n }, 'welcome: journal rows past retention deleted'))
      .catch(err => app.log.warn({ err }, 'welcome: the retention sweep failed'));
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await sweep();
    sweeper = setInterval(() => void sweep(), SWEEP_MS);
    sweeper.unref();
  });
  app.addHook('onClose', async () => clearInterval(sweeper));
  if (llm.configured) {
    // Logged once at start so an operator sees when summaries come from the scripted server.
    app.addHook('onReady', async () => {
      const scripted = await llm.scripted().catch(() => undefined);
      if (scripted)
        app.log.warn(
          'welcome: the LLM endpoint is the scripted test server (dev/llm), not a model'
        );
    });
  }
  const me = (request: Parameters<typeof currentUser>[0]) => currentUser(request).name;

  route(app, 'postWelcomeJournal', async request =>
    service.record(me(request), request.body.events)
  );
  route(app, 'postWelcomeJournalMove', async (request, reply) => {
    await service.move(me(request), request.body);
    reply.code(204);
    return undefined;
  });
  route(app, 'getWelcomeNotebook', async request =>
    service.notebook(me(request), request.query.path)
  );
  route(app, 'putWelcomeNotebook', async request =>
    service.setHidden(me(request), request.body.path, request.body.hidden)
  );
  route(app, 'postWelcomeVisit', async request => service.visit(me(request), request.body));
  route(app, 'postWelcomeDigest', async request => service.digest(me(request), request.body), {
    bodyLimit: NOTEBOOK_BODY_LIMIT
  });
  route(
    app,
    'postWelcomeSummary',
    async (request, reply) => {
      // The client going away cancels the LLM call.
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      return service.summary(me(request), request.body, gone.signal);
    },
    { bodyLimit: NOTEBOOK_BODY_LIMIT }
  );
  route(app, 'getWelcomeUsage', async () => service.usage(), { preHandler: requireAdmin });
};
