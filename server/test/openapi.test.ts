/**
 * The OpenAPI document the companion serves is assembled from schema/ (JSON Schema), so JSON
 * Schema spellings that the declared OpenAPI version does not have can slip into it. For 3.0.x:
 * exclusiveMinimum/exclusiveMaximum are booleans beside minimum/maximum (a number is JSON Schema
 * draft 6+), and `type` is one name, never a list or "null" (3.0 says `nullable`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { everyRouteConfig } from './fixtures/grader/course.js';
import { build, testConfig } from './helpers/build.js';

/** Where the document breaks the rules of the OpenAPI version it declares, as JSON pointers. */
function openapiViolations(doc: { openapi?: string }): string[] {
  const found: string[] = [];
  const is30 = /^3\.0\.\d+$/.test(doc.openapi ?? '');
  const walk = (node: unknown, pointer: string) => {
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${pointer}/${i}`));
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const bound of ['exclusiveMinimum', 'exclusiveMaximum']) {
      if (!(bound in o)) continue;
      // Inside `properties` a member may be named so; that is a property, not the keyword.
      if (pointer.endsWith('/properties')) continue;
      if (is30 && typeof o[bound] !== 'boolean') {
        found.push(`${pointer}/${bound}: ${JSON.stringify(o[bound])} is not a boolean (3.0)`);
      }
      if (!is30 && typeof o[bound] !== 'number') {
        found.push(`${pointer}/${bound}: ${JSON.stringify(o[bound])} is not a number (3.1)`);
      }
    }
    if (is30 && 'type' in o && !pointer.endsWith('/properties')) {
      if (typeof o.type !== 'string' || o.type === 'null') {
        found.push(`${pointer}/type: ${JSON.stringify(o.type)} is not one type name (3.0)`);
      }
    }
    for (const [k, v] of Object.entries(o))
      walk(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  };
  walk(doc, '');
  return found;
}

describe('the OpenAPI document', { timeout: 60_000 }, () => {
  it('flags what 3.0 does not have (the check itself)', () => {
    const bad = {
      openapi: '3.0.3',
      components: {
        schemas: {
          A: {
            type: 'object',
            properties: {
              n: { type: 'number', exclusiveMinimum: 0 },
              m: { type: ['string', 'null'] },
              exclusiveMaximum: { type: 'string' }
            }
          }
        }
      }
    };
    assert.deepEqual(openapiViolations(bad), [
      '/components/schemas/A/properties/n/exclusiveMinimum: 0 is not a boolean (3.0)',
      '/components/schemas/A/properties/m/type: ["string","null"] is not one type name (3.0)'
    ]);
    const good = {
      openapi: '3.0.3',
      components: { schemas: { B: { minimum: 0, exclusiveMinimum: true, type: 'number' } } }
    };
    assert.deepEqual(openapiViolations(good), []);
  });

  it('keeps to the OpenAPI version it declares, with every route registered', async t => {
    const app = await build(t, everyRouteConfig());
    const res = await app.inject({ url: '/api/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; paths: object; components: { schemas: object } };
    assert.match(doc.openapi, /^3\.[01]\.\d+$/);
    assert.ok(
      Object.keys(doc.paths).length > 50 && Object.keys(doc.components.schemas).length > 50
    );
    assert.deepEqual(openapiViolations(doc), [], `OpenAPI ${doc.openapi}`);
  });

  it('declares the CSV routes as text/csv, the media type they send', async t => {
    // Found by the schema fuzz run (test/fuzz.test.ts): the document said application/json.
    const app = await build(t, testConfig());
    const doc = (await app.inject({ url: '/api/docs/json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
    };
    const csv = Object.entries(doc.paths).filter(([path]) => path.endsWith('.csv'));
    assert.ok(csv.length >= 3, csv.map(([path]) => path).join(', '));
    for (const [path, methods] of csv) {
      const content = methods.get.responses['200'].content ?? {};
      assert.deepEqual(Object.keys(content), ['text/csv'], path);
    }
  });
});
