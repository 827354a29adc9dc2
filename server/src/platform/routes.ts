/**
 * The one way a route comes into being: from an operation id of schema/api.json. Method, URL,
 * OpenAPI text and every schema come from the contract, so nothing about the wire is written twice.
 */
import { operations, type IOperationTypes, type OperationId } from '@hotstepper/schema';
import { api, operationParts, resources } from '@hotstepper/schema/json';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  RouteGenericInterface
} from 'fastify';
import { PROBLEM_TYPE } from './problem.js';
import { compileResponseValidator, ref } from './schemas.js';

type Part<T> = [T] extends [undefined] ? unknown : T;

export interface IOperationRoute<K extends OperationId> extends RouteGenericInterface {
  Params: Part<IOperationTypes[K]['params']>;
  Querystring: Part<IOperationTypes[K]['query']>;
  Body: Part<IOperationTypes[K]['body']>;
  // Reply stays open here: OperationHandler's return type is what holds handlers to the contract.
}

export type OperationRequest<K extends OperationId> = FastifyRequest<IOperationRoute<K>>;

export type OperationHandler<K extends OperationId> = (
  request: OperationRequest<K>,
  reply: FastifyReply<IOperationRoute<K>>
) => Promise<IOperationTypes[K]['response']>;

export interface IRouteOptions {
  /** Runs after identity, before the handler: e.g. requireAdmin. */
  preHandler?: (request: FastifyRequest) => Promise<void>;
  /** Bytes, when an operation takes larger bodies than the app's 1 MiB (e.g. a whole notebook). */
  bodyLimit?: number;
}

interface IOperationDoc {
  summary?: string;
  description?: string;
  tags?: string[];
  /** Who may call it (public, user, owner-object, operator, instructor, student): see
   * test/access-matrix.test.ts, which calls every operation as each kind of caller. */
  'x-hotstepper-access'?: string;
}

/** The media type a resource is sent as, when it is not JSON (its contentMediaType). */
function mediaTypeOf(resource: string): string | undefined {
  const schema = (resources as { $id: string; contentMediaType?: string }[]).find(
    r => r.$id === resource
  );
  return schema?.contentMediaType;
}

/** `{id}` in the contract, `:id` in fastify. */
export const toFastifyPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

/** The fastify schema of an operation: request parts, and a response schema per status code. */
export function operationSchema(id: OperationId): FastifySchema {
  const op = operations[id];
  const doc = (api.operations as Record<string, IOperationDoc>)[id];
  const parts = operationParts[id] ?? {};
  const schemaOf = (s: unknown) => (typeof s === 'string' ? ref(s) : (s as object));
  const problem = {
    description: 'A problem: what went wrong and what to do, with a stable code',
    content: { [PROBLEM_TYPE]: { schema: ref('Problem') } }
  };
  const response: Record<string, unknown> = { '4xx': problem, '5xx': problem };
  for (const [code, resource] of Object.entries(op.responses as Record<string, string | null>)) {
    // A resource that is a document of another media type (UsageCsv: text/csv) is declared as
    // that type, which is what the route sends; the rest is JSON.
    const media = resource === null ? undefined : mediaTypeOf(resource);
    response[code] =
      resource === null
        ? { type: 'null' }
        : media
          ? { content: { [media]: { schema: ref(resource) } } }
          : ref(resource);
  }
  return {
    operationId: id,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: doc.tags,
    // An OpenAPI extension: the served document says who may call each operation.
    ...(doc['x-hotstepper-access'] ? { 'x-hotstepper-access': doc['x-hotstepper-access'] } : {}),
    ...(op.path.startsWith('/api/') ? { security: [{ hubToken: [] }] } : {}),
    ...(parts.params ? { params: schemaOf(parts.params) } : {}),
    ...(parts.query ? { querystring: schemaOf(parts.query) } : {}),
    ...(parts.body ? { body: schemaOf(parts.body) } : {}),
    response
  } as FastifySchema;
}

/** Register the handler of one operation, with request and response validation. */
export function route<K extends OperationId>(
  app: FastifyInstance,
  id: K,
  handler: OperationHandler<K>,
  options: IRouteOptions = {}
): void {
  const op = operations[id];
  const responses = op.responses as Record<string, string | null>;
  const validators = new Map(
    Object.entries(responses).map(([code, resource]) => [
      Number(code),
      compileResponseValidator(resource === null ? { type: 'null' } : ref(resource))
    ])
  );
  app.route<IOperationRoute<K>>({
    method: op.method,
    url: toFastifyPath(op.path),
    schema: operationSchema(id),
    preHandler: options.preHandler,
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    // The serializer drops what the schema does not name; this catches what it cannot: a missing
    // field, a wrong type or enum value. Error bodies are built by the error handler, not here.
    preSerialization: async (request, reply, payload) => {
      const validate = validators.get(reply.statusCode);
      if (!validate) {
        if (reply.statusCode < 400) {
          throw new Error(
            `${id} answered ${reply.statusCode}, which schema/api.json does not list`
          );
        }
        return payload;
      }
      if (!validate(payload)) {
        const why = (validate.errors ?? []).map(e => `${e.instancePath || '/'} ${e.message}`);
        throw new Error(`${id} answered a body that breaks its schema: ${why.join('; ')}`);
      }
      return payload;
    },
    handler
  });
}
