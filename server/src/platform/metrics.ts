/**
 * Prometheus metrics at GET /metrics: Node's default metrics, request durations by route template,
 * and whatever other platform pieces register on `app.metrics.registry`.
 */
import fp from 'fastify-plugin';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface IMetrics {
  /** One registry per app instance, so several apps in one process (tests) do not collide. */
  registry: Registry;
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    metrics: IMetrics;
  }
}

export const metricsPlugin = fp(
  async app => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const duration = new Histogram({
      name: 'hotstepper_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template, method and status code.',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry]
    });
    app.decorate('metrics', { registry });

    app.addHook('onResponse', async (request, reply) => {
      // The template (/api/v1/jobs/:id), never the raw URL: bounded label values, no ids or tokens.
      const route = request.routeOptions.url ?? '(unmatched)';
      duration.observe(
        { route, method: request.method, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000
      );
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics' }
);
