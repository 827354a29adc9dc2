/** HTTP for the `jobs` feature: thin handlers over the service, and the log event stream. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { currentUser } from '../../platform/identity.js';
import { HttpProblem } from '../../platform/problem.js';
import { route } from '../../platform/routes.js';
import type { ILogEvent } from './executors/types.js';
import type { JobsService } from './service.js';

/** Room for a notebook's parameters beyond the platform's 1 MiB, so the size check can name the field. */
const SPEC_BODY_LIMIT = 16 * 1024 * 1024;

/** One Server-Sent Event; data with newlines becomes several data: lines, as the format wants. */
function sse(reply: FastifyReply, event: string, data: string, id?: string) {
  const lines = data
    .split(/\r?\n|\r/)
    .map(l => `data: ${l}`)
    .join('\n');
  reply.raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\n${lines}\n\n`);
}

/** A user's log streams open on this replica, held to `cap`: one more answers 429. */
function streamCounter(cap: number) {
  const open = new Map<string, number>();
  return {
    /** Counts one more stream of `user`, or throws the 429; call the returned release once. */
    acquire(user: string): () => void {
      const n = open.get(user) ?? 0;
      if (n >= cap) {
        throw new HttpProblem(
          429,
          'too_many_log_streams',
          `You have ${n} job log streams open, the most one user may have at once. Close a log ` +
            'view (another tab or window) and try again.',
          undefined,
          { headers: { 'retry-after': '10' } }
        );
      }
      open.set(user, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(user) ?? 1) - 1;
        if (left > 0) open.set(user, left);
        else open.delete(user);
      };
    }
  };
}

export function jobsRoutes(service: JobsService, maxStreamsPerUser: number): FastifyPluginAsync {
  return async app => {
    const streams = streamCounter(maxStreamsPerUser);
    app.addHook('onRoute', options => {
      if (options.method === 'POST' && /^\/api\/v1\/jobs(\/preview)?$/.test(options.url)) {
        options.bodyLimit = SPEC_BODY_LIMIT;
      }
    });
    const user = (request: FastifyRequest) => currentUser(request).name;

    route(app, 'getJobOptions', async () => service.options());
    route(app, 'previewJob', async request => service.preview(user(request), request.body));
    route(app, 'createJob', async (request, reply) => {
      const job = await service.create(user(request), request.body);
      reply.code(201);
      return job;
    });
    route(app, 'listJobs', async request => service.list(user(request), request.query));
    route(app, 'markJobsSeen', async request => ({
      ids: await service.markSeen(user(request), request.body.ids)
    }));
    route(app, 'getJob', async request => service.get(user(request), request.params.id));
    route(app, 'cancelJob', async request => service.cancel(user(request), request.params.id));
    route(app, 'rerunJob', async (request, reply) => {
      const job = await service.rerun(user(request), request.params.id);
      reply.code(201);
      return job;
    });
    route(app, 'deleteJob', async (request, reply) => {
      await service.remove(user(request), request.params.id);
      reply.code(204);
      return undefined;
    });

    route(app, 'streamJobLogs', async (request, reply) => {
      const run = await service.run(user(request), request.params.id);
      const release = streams.acquire(user(request));
      const header = request.headers['last-event-id'];
      const lastId = typeof header === 'string' && /^\d{1,15}$/.test(header) ? header : undefined;
      const after = lastId ?? request.query.after;
      const abort = new AbortController();
      request.raw.on('close', () => {
        release();
        abort.abort();
      });
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // Proxies (nginx) must pass each event on at once.
        'x-accel-buffering': 'no'
      });
      reply.raw.write(': hotstepper job log\n\n');
      const emit = (e: ILogEvent) => sse(reply, e.event, e.data, e.id);
      // Comments keep idle connections (and proxies in between) from timing out.
      const keepAlive = setInterval(() => reply.raw.write(': keep-alive\n\n'), 15_000);
      try {
        await service.logs(
          run,
          {
            after,
            tail: after === undefined ? request.query.tail : undefined,
            follow: request.query.follow ?? true,
            signal: abort.signal,
            finished: () => service.finished(run.id)
          },
          emit
        );
        // A container's log closes as it exits, a moment before the job's watch records how it
        // ended: the end event waits for that (briefly), so it never says "running".
        const deadline = Date.now() + 30_000;
        while (
          (request.query.follow ?? true) &&
          !abort.signal.aborted &&
          Date.now() < deadline &&
          !(await service.finished(run.id))
        ) {
          await new Promise(r => setTimeout(r, 200));
        }
        if (!abort.signal.aborted) {
          const end = (await service.state(run.id)) ?? { state: 'cancelled', exitCode: null };
          sse(reply, 'end', JSON.stringify(end));
        }
      } catch (err) {
        request.log.warn({ err, job: run.id }, 'job log stream failed');
        sse(reply, 'notice', 'The log stream broke off on the companion; reconnect to continue.');
      } finally {
        clearInterval(keepAlive);
        release();
        reply.raw.end();
      }
      // Hijacked: fastify sends nothing more; the contract's 200 documents the stream.
      return undefined as never;
    });
  };
}
