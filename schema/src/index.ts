/**
 * The Hotstepper API contract, typed. Everything here is derived from schema/*.json.
 * This entry carries no JSON Schema documents, so browser bundles stay small.
 */
export * from './generated.js';
import { operations } from './generated.js';
import type { IOperationTypes } from './generated.js';

export type OperationId = keyof IOperationTypes;

/** Fill a path template such as /api/v1/jobs/{id} with URL-encoded parameters. */
export function buildPath(
  id: OperationId,
  params?: Record<string, string | number>,
  query?: Record<string, string | number | boolean | undefined>
): string {
  const path = operations[id].path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${id}: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) search.set(k, String(v));
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}
