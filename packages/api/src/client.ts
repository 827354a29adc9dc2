import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { buildPath, operations } from '@hotstepper/schema';
import type { IOperationTypes, OperationId, Problem } from '@hotstepper/schema';
import { CompanionError } from './error.js';

/**
 * Where the Jupyter server extension listens, under the server's base URL. It forwards
 * `<base_url>/hotstepper/<path>` to the companion with the server's own hub token.
 */
export const PROXY_SEGMENT = 'hotstepper';

/** The parsed 2xx body of an operation. */
export type ResponseOf<K extends OperationId> = IOperationTypes[K]['response'];

/** A request part: required when the operation has it, absent when it does not. */
type Part<T, N extends string> = [T] extends [undefined]
  ? { [P in N]?: undefined }
  : { [P in N]: T };

/** Path parameters, query and body of one operation, typed from the schema. */
export type RequestOptions<K extends OperationId> = Part<IOperationTypes[K]['params'], 'params'> &
  Part<IOperationTypes[K]['body'], 'body'> & { query?: IOperationTypes[K]['query'] };

/** The arguments after the operation id; the options may be left out when nothing is required. */
export type RequestArgs<K extends OperationId> =
  Partial<RequestOptions<K>> extends RequestOptions<K>
    ? [options?: RequestOptions<K>, settings?: ServerConnection.ISettings]
    : [options: RequestOptions<K>, settings?: ServerConnection.ISettings];

/**
 * Call a companion operation through the Jupyter server, which adds Jupyter's token and XSRF.
 *
 * @returns the parsed JSON body; undefined for 204 No Content (a delete).
 * @throws {@link CompanionError} with code `network_error` when no answer came, the problem's
 * code for a non-2xx answer (`http_<status>` when it carried no problem+json body) and
 * `invalid_response` when a 2xx answer is not JSON.
 */
export function requestAPI<K extends OperationId>(
  id: K,
  ...args: RequestArgs<K>
): Promise<ResponseOf<K>>;
export async function requestAPI(
  id: OperationId,
  options: IParts = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<unknown> {
  const url = urlOf(id, options, settings);
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = {
    method: operations[id].method,
    headers,
    // Not `no-store`: for that, makeRequest appends a timestamp to the query string, which
    // the companion would see as an unknown query parameter.
    cache: 'no-cache'
  };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }

  let response: Response;
  let text: string;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
    text = await response.text();
  } catch (error) {
    throw networkError(error);
  }
  const json = parseJson(text, response.headers.get('Content-Type'));
  if (!response.ok) {
    throw responseError(response.status, json);
  }
  if (response.status === 204) return undefined;
  if (json === undefined) {
    throw new CompanionError({
      status: response.status,
      code: 'invalid_response',
      title: 'Unexpected answer',
      detail:
        `The companion answered ${id} with something other than JSON. ` +
        'Reload the page; if this persists, tell your platform administrator.'
    });
  }
  return json;
}

/**
 * The browser's URL of an operation through the Jupyter server, for what is not JSON (a CSV to
 * download): fetch it with `ServerConnection.makeRequest`, which adds Jupyter's token and XSRF.
 */
export function operationUrl<K extends OperationId>(
  id: K,
  options: Partial<RequestOptions<K>> = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  return urlOf(id, options as IParts, settings);
}

function urlOf(id: OperationId, { params, query }: IParts, settings: ServerConnection.ISettings) {
  return URLExt.join(settings.baseUrl, PROXY_SEGMENT, buildPath(id, params, query));
}

/**
 * Every operation as a method, e.g. `HotstepperAPI.getMe()`; derived from the schema's
 * operation table, so it never lists an operation by hand.
 */
export type HotstepperAPI = {
  readonly [K in OperationId]: (...args: RequestArgs<K>) => Promise<ResponseOf<K>>;
};

/** The companion's operations as methods; see {@link requestAPI}. */
export const HotstepperAPI = Object.freeze(
  Object.fromEntries(
    Object.keys(operations).map(id => [
      id,
      (options?: IParts, settings?: ServerConnection.ISettings) =>
        (requestAPI as LooseRequest)(id as OperationId, options, settings)
    ])
  )
) as unknown as HotstepperAPI;

/** The untyped shape of {@link RequestOptions}, as the implementation sees it. */
interface IParts {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

type LooseRequest = (
  id: OperationId,
  options?: IParts,
  settings?: ServerConnection.ISettings
) => Promise<unknown>;

/** The body as JSON when it says it is JSON (including problem+json), else undefined. */
function parseJson(text: string, contentType: string | null): unknown {
  if (!contentType || !/[/+]json\b/i.test(contentType)) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function networkError(error: unknown): CompanionError {
  const reason = error instanceof Error ? error.message : String(error);
  return new CompanionError({
    status: 0,
    code: 'network_error',
    title: 'Jupyter server unreachable',
    detail:
      `The browser could not reach your Jupyter server (${reason}). ` +
      'Check your network connection and that your server is still running, then retry.'
  });
}

/** Map a non-2xx answer: a problem+json body as is, anything else to `http_<status>`. */
function responseError(status: number, json: unknown): CompanionError {
  if (isProblem(json)) {
    return new CompanionError({ ...json, status, problem: json });
  }
  // jupyter_server's own errors (bad XSRF, expired session) carry `message`.
  const message =
    typeof json === 'object' && json !== null && 'message' in json ? json.message : undefined;
  return new CompanionError({
    status,
    code: `http_${status}`,
    title: `HTTP ${status}`,
    detail: typeof message === 'string' && message ? message : fallbackDetail(status)
  });
}

function isProblem(json: unknown): json is Problem {
  if (typeof json !== 'object' || json === null) {
    return false;
  }
  const { code, detail, title } = json as Record<string, unknown>;
  return typeof code === 'string' && typeof detail === 'string' && typeof title === 'string';
}

function fallbackDetail(status: number): string {
  switch (status) {
    case 401:
    case 403:
      return 'Your Jupyter session was not accepted. Reload the page and sign in again.';
    case 404:
      return (
        'This Jupyter server has no Hotstepper route. The hotstepper server extension ' +
        'may not be installed or enabled; tell your platform administrator.'
      );
    default:
      return (
        `The request failed with HTTP ${status}. Try again; if it keeps failing, ` +
        'tell your platform administrator.'
      );
  }
}
