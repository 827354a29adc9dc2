/**
 * A failed Kubernetes call as the Problem a user gets. client-node 1.4 throws ApiException with
 * the raw response text as `body` (a V1Status in JSON; nothing for a 401); transport.ts throws
 * errors with `statusCode` and `reason`; a network failure is a FetchError or a node error code.
 *
 * Status codes chosen here:
 * - quota_exceeded is 409: the request is allowed and valid, it conflicts with what the user's
 *   namespace already runs (freeing resources makes it succeed), and 403 would read as "you may
 *   not". The numbers are in the detail and, structured, in `quota`.
 * - Any other 401/403 is the companion's own permission problem (its RBAC or credentials), not the
 *   user's: 502 kubernetes_forbidden, with Kubernetes' message in the log only.
 * Details never carry a token: they are built from the V1Status message and error codes.
 */
import type { Problem } from '@hotstepper/schema';
import { HttpProblem } from '../problem.js';
import { describeFailure } from '../probes.js';

type QuotaLine = NonNullable<Problem['quota']>[number];

interface IStatus {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: { field?: string; message?: string }[] };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT'
]);

/** The HTTP status of an API server answer, or undefined for an error that had none. */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; name?: string } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  // ApiException's `code` is the HTTP status; a Node error's `code` is a string like ECONNREFUSED.
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** The V1Status the API server answered with, from whichever shape the error carries. */
function statusBody(err: unknown): IStatus {
  const e = err as { body?: unknown; reason?: string; message?: string };
  if (typeof e.body === 'string') {
    try {
      return JSON.parse(e.body) as IStatus;
    } catch {
      return { message: e.body.slice(0, 500) };
    }
  }
  if (e.body && typeof e.body === 'object') return e.body as IStatus;
  // transport.ts's KubeHttpError: message and reason of the V1Status.
  return { message: e.message, reason: e.reason };
}

function isNetworkError(err: unknown): boolean {
  const e = err as { name?: string; type?: string; code?: unknown; cause?: { code?: unknown } };
  if (e?.name === 'FetchError' || e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return true;
  }
  const code = typeof e?.code === 'string' ? e.code : e?.cause?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/**
 * "exceeded quota: hotstepper, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=0,
 * limited: requests.nvidia.com/gpu=1" (the ResourceQuota admission plugin's wording) as lines.
 */
export function parseQuotaMessage(message: string): QuotaLine[] {
  const match = /exceeded quota: [^,]+, requested: (.*), used: (.*), limited: (.*)$/.exec(message);
  if (!match) return [];
  const map = (list: string) =>
    new Map(
      list.split(',').map(pair => {
        const at = pair.lastIndexOf('=');
        return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()] as const;
      })
    );
  const [requested, used, limited] = [map(match[1]), map(match[2]), map(match[3])];
  return [...requested.keys()].map(resource => ({
    resource,
    requested: requested.get(resource) ?? '?',
    used: used.get(resource) ?? '?',
    limited: limited.get(resource) ?? '?'
  }));
}

const unreachable = (why: string, cause: unknown) =>
  new HttpProblem(
    503,
    'kubernetes_unreachable',
    `Kubernetes is not answering right now (${why}). Try again in a minute; if it lasts, tell ` +
      'the platform operators.',
    undefined,
    { cause }
  );

/** The Problem for a failed Kubernetes call; anything that is not one is returned as it is. */
export function kubernetesProblem(err: unknown): Error {
  if (err instanceof HttpProblem) return err;
  const status = statusOf(err);
  if (status === undefined) {
    if (isNetworkError(err)) return unreachable(describeFailure(err), err);
    return err instanceof Error ? err : new Error(String(err));
  }
  const body = statusBody(err);
  const message = body.message ?? `HTTP ${status}`;
  const what = body.details?.kind
    ? `The ${body.details.kind.replace(/s$/, '')} "${body.details.name ?? '?'}"`
    : 'The object';
  switch (status) {
    case 404:
      return new HttpProblem(404, 'not_found', `${what} does not exist in your namespace.`);
    case 409:
      return new HttpProblem(
        409,
        'conflict',
        body.reason === 'AlreadyExists'
          ? `${what} exists already in your namespace: pick another name, or delete it first.`
          : `${what} was changed by someone else meanwhile: read it again and retry.`
      );
    case 400:
    case 422: {
      const causes = body.details?.causes ?? [];
      const errors = causes.map(c => ({
        path: c.field ?? 'object',
        message: c.message ?? 'is not valid'
      }));
      return new HttpProblem(
        422,
        'validation_failed',
        `Kubernetes does not accept this: ${message}`,
        errors.length ? errors : undefined
      );
    }
    case 401:
    case 403:
      return forbidden(status, message, err);
    default:
      return unreachable(`it answered HTTP ${status}: ${body.reason ?? message}`, err);
  }
}

function forbidden(status: number, message: string, err: unknown): HttpProblem {
  if (message.includes('exceeded quota')) {
    const quota = parseQuotaMessage(message);
    const numbers = quota
      .map(q => `${q.resource}: requested ${q.requested}, used ${q.used}, limited ${q.limited}`)
      .join('; ');
    return new HttpProblem(
      409,
      'quota_exceeded',
      `This would exceed your namespace's quota (${numbers || message}). Stop or delete ` +
        'something you run, ask for less, or ask the platform operators for a larger quota.',
      undefined,
      { extensions: { quota } }
    );
  }
  if (message.includes('status unknown for quota')) {
    return new HttpProblem(
      503,
      'quota_pending',
      'Kubernetes is still counting what your namespace uses. Try again in a few seconds.'
    );
  }
  if (message.includes('because it is being terminated')) {
    return new HttpProblem(
      503,
      'namespace_terminating',
      'Your namespace is being deleted right now. Try again in a minute; it is created anew.'
    );
  }
  return new HttpProblem(
    502,
    'kubernetes_forbidden',
    'Kubernetes does not allow the companion to do this: the platform is set up wrongly, not ' +
      'your request. Tell the platform operators (the companion logged the details).',
    undefined,
    { cause: new Error(`Kubernetes answered HTTP ${status}: ${message}`, { cause: err }) }
  );
}
