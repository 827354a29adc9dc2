/**
 * The contract's JSON Schemas, shared by the validator (requests and responses), the serializer and
 * the OpenAPI document. Each resource is added once under its $id; routes point at it with $ref.
 */
import { resources } from '@hotstepper/schema/json';
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import fp from 'fastify-plugin';

// RFC 3339, the only string format the contract uses so far. A schema with another format makes
// ajv (strict) refuse to start, which is the moment to add it here.
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    // fastify's defaults remove unknown properties silently (removeAdditional: true); the contract
    // says additionalProperties: false, and a client sending a misspelt key should hear about it.
    removeAdditional: false,
    useDefaults: true,
    // Every failing field in one answer; request bodies are capped by bodyLimit.
    allErrors: true,
    allowUnionTypes: true,
    ...options
  });
  ajv.addFormat('date-time', {
    validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s))
  });
  for (const schema of resources) ajv.addSchema(schema);
  return ajv;
}

// A JSON body must already have the right types ("true" is not true); path and query strings are
// all text on the wire, so there types are coerced.
const bodyAjv = makeAjv({ coerceTypes: false });
const textAjv = makeAjv({ coerceTypes: 'array' });
const responseAjv = makeAjv({ coerceTypes: false, useDefaults: false });

/** `{ $ref: 'User#' }` for a resource $id. */
export const ref = (id: string) => ({ $ref: `${id}#` });

// Every app instance builds the same route schemas afresh; compile each distinct one only once.
const compiled = new Map<string, ValidateFunction>();
function compile(ajv: Ajv, kind: string, schema: object): ValidateFunction {
  const key = `${kind}:${JSON.stringify(schema)}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

/** A validator for what a route answers, compiled once per route and status code. */
export function compileResponseValidator(schema: object): ValidateFunction {
  return compile(responseAjv, 'response', schema);
}

export const schemaPlugin = fp(
  async app => {
    for (const schema of resources) app.addSchema(schema);
    app.setValidatorCompiler(({ schema, httpPart }) =>
      httpPart === 'body' ? compile(bodyAjv, 'body', schema) : compile(textAjv, 'text', schema)
    );
  },
  { name: 'schemas' }
);
