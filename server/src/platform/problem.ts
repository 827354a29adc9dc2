/**
 * Every error leaves the companion as an application/problem+json body (the Problem resource)
 * with a stable `code` clients may branch on. 5xx answers never carry internals; the log does.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Problem } from '@hotstepper/schema';
import { operationParts } from '@hotstepper/schema/json';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export const PROBLEM_TYPE = 'application/problem+json';

type FieldError = NonNullable<Problem['errors']>[number];

export interface IProblemOptions {
  /** Members the Problem schema names beyond the standard ones, e.g. `quota`. */
  extensions?: Partial<Problem>;
  /** What operators need to know and the client must not see; logged with the problem. */
  cause?: unknown;
  /** Response headers that go with the problem, e.g. `retry-after` on a 429. */
  headers?: Record<string, string>;
}

/** An error we mean to answer with: its status, code and detail reach the client as they are. */
export class HttpProblem extends Error {
  readonly extensions?: Partial<Problem>;
  readonly headers?: Record<string, string>;

  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    options: IProblemOptions = {}
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpProblem';
    this.extensions = options.extensions;
    this.headers = options.headers;
  }
}

/** The problems the platform itself raises, so their wording lives in one place. */
export const problems = {
  tokenMissing: () =>
    new HttpProblem(
      401,
      'token_missing',
      'This request carries no JupyterHub token. The Hotstepper extensions send it through your ' +
        'Jupyter server; to call the API yourself, send "Authorization: token <JupyterHub API token>".'
    ),
  tokenInvalid: () =>
    new HttpProblem(
      401,
      'token_invalid',
      'JupyterHub does not accept this token (it has expired or was revoked). Log in to JupyterHub ' +
        'again, or restart your server from the Hub Control Panel (File > Hub Control Panel).'
    ),
  tokenScopeMissing: (scope: string) =>
    new HttpProblem(
      403,
      'token_scope_missing',
      `This JupyterHub token does not carry the scope "${scope}", which the Hotstepper companion ` +
        "requires. Your Jupyter server's own token has it when the hub grants it (the server role " +
        'or Spawner.server_token_scopes); if it is missing, tell the platform operators.'
    ),
  notAUser: (kind: string, name: string) =>
    new HttpProblem(
      403,
      'not_a_user',
      `This token belongs to the JupyterHub ${kind} "${name}", not to a user; use a user's token.`
    ),
  hubUnreachable: (apiUrl: string, reason: string) =>
    new HttpProblem(
      503,
      'hub_unreachable',
      `JupyterHub is not reachable at ${apiUrl} (${reason}). Try again in a minute; if it ` +
        'persists, tell the platform operators.'
    ),
  forbidden: (detail: string) => new HttpProblem(403, 'forbidden', detail)
};

/** Turn anything thrown in a request into the Problem we answer with. */
export function toProblem(
  err: FastifyError | HttpProblem | Error,
  request: FastifyRequest
): Problem {
  const instance = request.url.split('?')[0];
  const make = (status: number, code: string, detail: string, errors?: FieldError[]): Problem => ({
    type: `urn:hotstepper:problem:${code}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    code,
    detail,
    instance,
    ...(errors ? { errors } : {})
  });
  if (err instanceof HttpProblem) {
    return { ...err.extensions, ...make(err.statusCode, err.code, err.detail, err.errors) };
  }

  const fe = err as FastifyError;
  if (fe.validation) {
    const errors = fe.validation.map(v => ({
      path: fieldPath(fe.validationContext, v.instancePath, v.params),
      message: v.message ?? 'is not valid'
    }));
    const list = errors.map(e => `${e.path} ${e.message}`).join('; ');
    return make(400, 'validation_failed', `The request is not valid: ${list}.`, errors);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return make(
        400,
        'malformed_json',
        'The request body is not valid JSON; send a JSON document.'
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return make(
        415,
        'unsupported_media_type',
        `The companion does not read "${request.headers['content-type'] ?? ''}" bodies; send ` +
          'application/json.'
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make(
        413,
        'body_too_large',
        `The request body is larger than the ${request.routeOptions.bodyLimit} bytes allowed.`
      );
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return make(
        414,
        'uri_too_long',
        `A part of the path is longer than the ${MAX_PARAM_LENGTH} characters (percent-escapes ` +
          'included) the companion reads; no name or id is that long: check the URL.'
      );
    case 'FST_ERR_BAD_URL':
      return make(
        400,
        'bad_url',
        'The path has a malformed percent-escape; encode each part of it with ' +
          'encodeURIComponent (a literal % is %25).'
      );
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return make(status, codeOf(status), fe.message);
  }
  return make(
    500,
    'internal_error',
    'Something went wrong inside the companion. It has been logged with request id ' +
      `${request.id}; try again, and tell the platform operators if it keeps happening.`
  );
}

function fieldPath(
  context: string | undefined,
  instancePath: string,
  params: Record<string, unknown>
) {
  const extra = params.missingProperty ?? params.additionalProperty;
  const parts = [context ?? 'body', ...instancePath.split('/').slice(1)];
  if (typeof extra === 'string') parts.push(extra);
  return parts.join('.');
}

/** "Method Not Allowed" -> method_not_allowed */
function codeOf(status: number) {
  return (STATUS_CODES[status] ?? 'error')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

export function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply.code(problem.status).type(PROBLEM_TYPE).send(problem);
}

/**
 * The router's limit on one path parameter, as sent: percent-escapes included, so up to 12
 * characters a code point (four UTF-8 bytes, %XX each). Derived from the contract's longest
 * path parameter, so every name the schemas allow reaches validation; was fastify's default of
 * 100, which refused names of 101..200 characters the contract allows (found by the schema
 * fuzz run, test/fuzz.test.ts).
 */
export const MAX_PARAM_LENGTH = Math.max(
  100,
  12 *
    Math.max(
      0,
      ...Object.values(operationParts).flatMap(parts => {
        const params = parts.params as { properties?: Record<string, { maxLength?: number }> };
        return Object.values(params?.properties ?? {}).map(p => p.maxLength ?? 0);
      })
    )
);

/**
 * For fastify's `frameworkErrors`: what the router rejects before any route or hook runs (a path
 * parameter over the limit, a malformed escape). The request has no route here, so the body goes
 * out already serialised.
 */
export function frameworkErrorHandler(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply
) {
  const problem = toProblem(err, request);
  request.log.info({ code: problem.code, status: problem.status }, problem.detail);
  return reply.code(problem.status).type(PROBLEM_TYPE).send(JSON.stringify(problem));
}

/**
 * For fastify's `clientErrorHandler`: requests Node cannot parse (headers over the size limit,
 * a malformed request line) never reach fastify; the answer is written on the socket as Node
 * would, as a problem.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  err: NodeJS.ErrnoException,
  socket: Socket
) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'The request did not arrive in time; send it again.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'request_header_fields_too_large',
            'The request line and headers are larger than the companion accepts (16 KiB); ' +
              'send a shorter URL or fewer headers.'
          ]
        : [400, 'bad_request', 'The request is not valid HTTP/1.1 and cannot be read.'];
  const title = STATUS_CODES[status] ?? 'Error';
  const body = JSON.stringify({
    type: `urn:hotstepper:problem:${code}`,
    title,
    status,
    code,
    detail
  } satisfies Problem);
  this.log.debug({ err: err.code, status }, 'client error');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nConnection: close\r\nContent-Type: ${PROBLEM_TYPE}; ` +
        `charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  }
  socket.destroy(err);
}

/** The segments of a route pattern: literal text, or null where a parameter or `*` stands. */
type Pattern = { segments: (string | null)[]; rest: boolean };

function toPattern(url: string): Pattern {
  const parts = url.split('/').slice(1);
  const rest = parts.at(-1) === '*';
  const segments = (rest ? parts.slice(0, -1) : parts).map(p => (p.includes(':') ? null : p));
  return { segments, rest };
}

/** A request target's path segments as the router reads them, or undefined if it cannot. */
function segmentsOf(url: string): string[] | undefined {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split('?')[0];
  if (!path.startsWith('/')) return undefined;
  try {
    return path
      .split('/')
      .slice(1)
      .map(s => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function matches(pattern: Pattern, segments: string[]) {
  if (
    pattern.rest
      ? segments.length < pattern.segments.length
      : segments.length !== pattern.segments.length
  ) {
    return false;
  }
  return pattern.segments.every((p, i) =>
    p === null ? segments[i] !== '' && !segments[i].includes('/') : p === segments[i]
  );
}

/**
 * One error handler and one not-found handler for the whole app. A path that is served, asked
 * with a method it does not take, answers 405 with the methods it does take in `Allow`.
 */
export const problemPlugin = fp(
  async app => {
    // Every route of the app, features' included: they register after this plugin.
    const served = new Map<string, { pattern: Pattern; methods: Set<string> }>();
    app.addHook('onRoute', options => {
      let entry = served.get(options.url);
      if (!entry) {
        entry = { pattern: toPattern(options.url), methods: new Set() };
        served.set(options.url, entry);
      }
      for (const m of [options.method].flat()) entry.methods.add(m.toUpperCase());
    });
    const allowed = (url: string) => {
      const segments = segmentsOf(url);
      const methods = new Set<string>();
      if (!segments) return methods;
      for (const { pattern, methods: taken } of served.values()) {
        if (matches(pattern, segments)) for (const m of taken) methods.add(m);
      }
      if (methods.has('GET')) methods.add('HEAD');
      return methods;
    };

    /** 405 with Allow for a served path and a method it does not take; 404 for the rest. */
    const notServed = (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0];
      const methods = [...allowed(request.url)].sort();
      if (methods.length > 0 && !methods.includes(request.method)) {
        reply.header('allow', methods.join(', '));
        return sendProblem(
          reply,
          toProblem(
            new HttpProblem(
              405,
              'method_not_allowed',
              `${path} does not take ${request.method}; it takes ${methods.join(', ')}.`
            ),
            request
          )
        );
      }
      const problem = toProblem(
        new HttpProblem(404, 'not_found', `There is no ${request.method} ${path} here.`),
        request
      );
      return sendProblem(reply, problem);
    };

    app.setErrorHandler((err: FastifyError | HttpProblem, request, reply) => {
      // A request that routes nowhere whose body fastify refused before the not-found handler
      // (QUERY without a Content-Type, say): the path and method decide, not the body.
      const status = (err as FastifyError).statusCode ?? 500;
      if (request.is404 && !(err instanceof HttpProblem) && status >= 400 && status < 500) {
        return notServed(request, reply);
      }
      const problem = toProblem(err, request);
      if (problem.status >= 500 && !(err instanceof HttpProblem)) {
        request.log.error({ err }, 'request failed');
      }
      // What the client must not see (our RBAC, another user's name) is for the operators' log.
      const cause = err.cause instanceof Error ? err.cause.message : err.cause;
      if (problem.status >= 500 && err instanceof HttpProblem) {
        request.log.warn({ code: problem.code, status: problem.status, cause }, problem.detail);
      } else if (problem.status < 500) {
        request.log.info({ code: problem.code, status: problem.status, cause }, problem.detail);
      }
      if (err instanceof HttpProblem && err.headers) reply.headers(err.headers);
      return sendProblem(reply, problem);
    });
    app.setNotFoundHandler(notServed);
  },
  { name: 'problems' }
);
