/**
 * Requests for every operation of the contract (schema/api), built from each operation's own
 * schemas: a small valid instance of its path parameters, query and body, with the given path
 * parameters where a test names real objects. The same generator as access-matrix.test.ts's,
 * shared here for tests that walk the whole API.
 */
import assert from 'node:assert/strict';
import { operations, type OperationId } from '@hotstepper/schema';
import { operationParts, resources } from '@hotstepper/schema/json';

/**
 * Request bodies the schema alone cannot make valid (a rule across fields, a real file): by
 * resource, so a new operation taking the same resource needs nothing here.
 */
export const BODIES: Record<string, unknown> = {
  JobSpec: { command: ['true'] },
  FlareRouteCreate: { name: 'matrix', port: 8050 },
  // A new port needs the owner's running server to report it; a new access mode does not.
  FlareRouteUpdate: { access: { mode: 'hub' } },
  GraderNotebookPut: {
    content: JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 })
  },
  GraderRosterImport: { csv: 'id,first_name\ns01,Sam\n' },
  // The path's student, which the body must repeat.
  GraderStudent: { id: 's01' }
};

/** Strings for the schemas' patterns that a plain 'a' does not match. */
const PATTERN_SAMPLES: Record<string, string> = {
  '^[0-9]{1,15}$': '1',
  '^[0-9a-f]{64}$': '0'.repeat(64),
  '^j[a-z0-9]+$': 'j0'
};

export type Json = Record<string, unknown>;
const byId = new Map((resources as Json[]).map(r => [r.$id as string, r]));

/** A small valid instance of a schema: required properties only, the first of each choice. */
export function sample(schema: unknown, where: string): unknown {
  if (typeof schema === 'string') {
    if (schema in BODIES) return BODIES[schema];
    return sample(byId.get(schema), schema);
  }
  const s = schema as Json | undefined;
  if (!s) throw new Error(`${where}: no schema`);
  if (typeof s.$ref === 'string') return sample(s.$ref, s.$ref);
  if ('const' in s) return s.const;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (Array.isArray(s.enum)) return s.enum[0];
  const choice = (s.oneOf ?? s.anyOf) as unknown[] | undefined;
  if (choice) return sample(choice[0], where);
  if (Array.isArray(s.allOf)) {
    return Object.assign({}, ...s.allOf.map(part => sample(part, where) as Json), sampleOf(s));
  }
  return sampleOf(s, where);
}

function sampleOf(s: Json, where = ''): unknown {
  const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string | undefined];
  // null where allowed: the smallest valid value (no date to be in the future, say).
  const type = types.includes('null')
    ? 'null'
    : (types[0] ?? (s.properties ? 'object' : undefined));
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Json;
      const out: Json = {};
      // The required properties, then optional ones in order until minProperties is met.
      const keys = [...((s.required ?? []) as string[])];
      for (const key of Object.keys(props)) {
        if (keys.length >= Number(s.minProperties ?? 0)) break;
        if (!keys.includes(key)) keys.push(key);
      }
      for (const key of keys) out[key] = sample(props[key] ?? {}, `${where}.${key}`);
      return out;
    }
    case 'array':
      return Array.from({ length: Number(s.minItems ?? 0) }, (_, i) =>
        sample(s.items, `${where}[${i}]`)
      );
    case 'string': {
      if (s.format === 'date-time') return new Date(Date.now() + 7 * 86_400_000).toISOString();
      if (s.format === 'date') return new Date().toISOString().slice(0, 10);
      const pattern = s.pattern as string | undefined;
      const value = (pattern && PATTERN_SAMPLES[pattern]) ?? 'a'.repeat(Number(s.minLength ?? 1));
      if (pattern && !new RegExp(pattern).test(value)) {
        throw new Error(`${where}: no sample for pattern ${pattern}; add one to PATTERN_SAMPLES`);
      }
      return value;
    }
    case 'integer':
    case 'number':
      if (typeof s.minimum === 'number') return s.minimum;
      if (typeof s.exclusiveMinimum === 'number') return s.exclusiveMinimum + 1;
      return 1;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return {};
  }
}

export interface IRequest {
  method: string;
  path: string;
  query: Json;
  body: unknown;
}

/** The request of an operation, from its schemas and the given path parameters. */
export function requestOf(id: OperationId, params: Json): IRequest {
  const op = operations[id];
  const parts = operationParts[id] ?? {};
  const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map(m => m[1]);
  const generated = parts.params ? (sample(parts.params, `${id}.params`) as Json) : {};
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    encodeURIComponent(String(params[name] ?? generated[name] ?? 'a'))
  );
  assert.ok(
    names.every(n => n in params || n in generated),
    `${id}: unnamed path parameter`
  );
  const query = parts.query ? (sample(parts.query, `${id}.query`) as Json) : {};
  const body = parts.body ? sample(parts.body, `${id}.body`) : undefined;
  return { method: op.method, path, query, body };
}

export const urlOf = (r: IRequest, path = r.path) => {
  const q = new URLSearchParams(
    Object.entries(r.query).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])
  ).toString();
  return q ? `${path}?${q}` : path;
};

/** Every operation id, destructive ones last so they do not take away what the others name. */
export const operationIds = (): OperationId[] =>
  (Object.keys(operations) as OperationId[]).sort(
    (a, b) => Number(operations[a].method === 'DELETE') - Number(operations[b].method === 'DELETE')
  );
