/**
 * The OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, LiteLLM, or dev/llm's scripted server),
 * through the `openai` SDK's Chat Completions with json_schema structured output. Every failure
 * becomes an LlmError with a kind and one sentence any user may read: it never names the endpoint
 * (an internal address is for operators; `endpoint` carries it to the log). The key is never logged.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyBaseLogger } from 'fastify';
import OpenAI from 'openai';
import type { ILlmConfig } from './config.js';
import { sleep } from './sleep.js';

/** What dev/llm/server.mjs says it is in GET /models (owned_by). */
export const SCRIPTED_OWNER = 'hotstepper-scripted';

export type LlmFailure =
  | 'not_configured'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'unreachable'
  | 'rejected'
  | 'malformed'
  | 'schema_mismatch';

export class LlmError extends Error {
  /** The endpoint, for the operators' log only: never put it in a message. */
  readonly endpoint?: string;

  constructor(
    readonly kind: LlmFailure,
    message: string,
    options?: { cause?: unknown; endpoint?: string }
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LlmError';
    this.endpoint = options?.endpoint;
  }
}

/** The endpoint as the log may show it: without any user:password in the URL. */
export function endpointForLog(base: string): string {
  try {
    const url = new URL(base);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

export interface ILlmUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface IStructuredRequest {
  /** json_schema name, e.g. welcome_summary. */
  name: string;
  /** Strict-mode JSON schema (every property required, additionalProperties false). */
  schema: Record<string, unknown>;
  system: string;
  user: string;
  /** The hub user's name: sent as `user` so a gateway (LiteLLM) can book the spend. */
  endUser: string;
  signal?: AbortSignal;
}

export interface IStructuredAnswer<T> {
  value: T;
  model: string;
  usage: ILlmUsage;
}

export interface ILlm {
  readonly configured: boolean;
  /** The model in use: configured, or the first the endpoint lists (asked once). */
  model(signal?: AbortSignal): Promise<string>;
  /** Whether the endpoint is dev/llm's scripted server (asked once, from GET /models). */
  scripted(signal?: AbortSignal): Promise<boolean>;
  structured<T>(request: IStructuredRequest): Promise<IStructuredAnswer<T>>;
}

/** The key from the key file (a mounted secret) or the configuration; none for local servers. */
export function llmApiKey(config: ILlmConfig): string | undefined {
  if (config.apiKeyFile) {
    try {
      return readFileSync(config.apiKeyFile, 'utf8').trim() || undefined;
    } catch (err) {
      throw new Error(
        `cannot read llm.apiKeyFile ${config.apiKeyFile}: ${(err as NodeJS.ErrnoException).code ?? err}`
      );
    }
  }
  return config.apiKey;
}

export function createLlm(config: ILlmConfig, log?: FastifyBaseLogger): ILlm {
  const baseURL = config.baseUrl?.replace(/\/+$/, '');
  const endpoint = baseURL ? endpointForLog(baseURL) : undefined;
  const apiKey = baseURL ? llmApiKey(config) : undefined;
  // Our own loop retries (to cap retry-after); the SDK's would wait as long as the server says.
  const client = baseURL
    ? new OpenAI({
        baseURL,
        // The SDK refuses to run without a key; local servers (Ollama, vLLM) take any.
        apiKey: apiKey ?? 'no-key',
        maxRetries: 0,
        timeout: config.timeoutSeconds * 1000,
        logLevel: 'off'
      })
    : undefined;
  const validators = new Map<string, ValidateFunction>();
  const ajv = new Ajv({ allErrors: true, strict: false });
  let listed: Promise<{ id: string; ownedBy: string }[]> | undefined;

  function models(signal?: AbortSignal) {
    if (!client) throw new LlmError('not_configured', 'No LLM endpoint is configured.');
    listed ??= (async () => {
      const page = await client.models.list({ signal, timeout: config.timeoutSeconds * 1000 });
      return page.data.map(m => ({ id: m.id, ownedBy: m.owned_by }));
    })().catch(err => {
      listed = undefined;
      throw toLlmError(err, baseURL!);
    });
    return listed;
  }

  async function model(signal?: AbortSignal) {
    if (config.model) return config.model;
    const all = await models(signal);
    if (!all[0]) {
      throw new LlmError(
        'rejected',
        'The LLM endpoint serves no model; tell the platform operators (llm.model).',
        { endpoint }
      );
    }
    return all[0].id;
  }

  async function once<T>(request: IStructuredRequest, modelId: string) {
    const completion = await client!.chat.completions.create(
      {
        model: modelId,
        messages: [
          { role: 'system', content: request.system },
          { role: 'user', content: request.user }
        ],
        response_format: {
          type: 'json_schema',
          json_schema: { name: request.name, schema: request.schema, strict: true }
        },
        user: request.endUser,
        temperature: 0.2
      },
      { signal: request.signal }
    );
    const content = completion.choices[0]?.message?.content;
    if (typeof content !== 'string') {
      throw new LlmError('malformed', 'The LLM answered without any content.');
    }
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch {
      throw new LlmError('malformed', 'The LLM answered with text that is not JSON.');
    }
    let validate = validators.get(request.name);
    if (!validate) {
      validate = ajv.compile(request.schema);
      validators.set(request.name, validate);
    }
    if (!validate(value)) {
      const why = (validate.errors ?? [])
        .slice(0, 3)
        .map(e => `${e.instancePath || '/'} ${e.message}`);
      throw new LlmError(
        'schema_mismatch',
        `The LLM's answer breaks the schema: ${why.join('; ')}.`
      );
    }
    return {
      value: value as T,
      model: completion.model || modelId,
      usage: {
        promptTokens: completion.usage?.prompt_tokens ?? 0,
        completionTokens: completion.usage?.completion_tokens ?? 0
      }
    };
  }

  return {
    configured: Boolean(client),
    model,
    async scripted(signal) {
      if (!client) return false;
      return (await models(signal)).some(m => m.ownedBy === SCRIPTED_OWNER);
    },
    async structured<T>(request: IStructuredRequest): Promise<IStructuredAnswer<T>> {
      if (!client) throw new LlmError('not_configured', 'No LLM endpoint is configured.');
      const modelId = await model(request.signal);
      for (let attempt = 0; ; attempt++) {
        try {
          return await once<T>(request, modelId);
        } catch (raw) {
          const err = raw instanceof LlmError ? raw : toLlmError(raw, baseURL!);
          const wait = retryDelay(raw, err, attempt, config);
          if (wait === undefined || request.signal?.aborted) throw err;
          log?.warn({ llm: endpoint, kind: err.kind, attempt, waitMs: wait }, 'LLM call retried');
          await sleep(wait, request.signal ?? new AbortController().signal);
          if (request.signal?.aborted) throw toLlmError(request.signal.reason, baseURL!);
        }
      }
    }
  };
}

/** How long to wait before the next try, or undefined to give up. */
function retryDelay(
  raw: unknown,
  err: LlmError,
  attempt: number,
  config: ILlmConfig
): number | undefined {
  if (attempt >= config.maxRetries) return undefined;
  if (err.kind === 'rate_limited') {
    const header = (raw as { headers?: Headers }).headers?.get?.('retry-after');
    const seconds = header === null || header === undefined ? 1 : Number(header);
    if (!Number.isFinite(seconds) || seconds > config.maxRetryAfterSeconds) return undefined;
    return Math.max(0, seconds) * 1000;
  }
  if (err.kind === 'server_error' || err.kind === 'unreachable') return 500 * 2 ** attempt;
  return undefined;
}

/**
 * The SDK's errors (and our deadline) as an LlmError with a sentence any user may read: no
 * address and no text of the underlying error (it may name hosts); those go to the log.
 */
export function toLlmError(err: unknown, base: string): LlmError {
  if (err instanceof LlmError) return err;
  const options = { cause: err, endpoint: endpointForLog(base) };
  if (err instanceof OpenAI.RateLimitError) {
    const after = err.headers?.get('retry-after');
    return new LlmError(
      'rate_limited',
      `The LLM endpoint is rate limiting us${after ? ` (it asks to wait ${after} s)` : ''}.`,
      options
    );
  }
  if (err instanceof OpenAI.APIConnectionTimeoutError || isTimeout(err)) {
    return new LlmError('timeout', 'The LLM endpoint did not answer in time.', options);
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new LlmError(
      'unreachable',
      'The LLM endpoint is not reachable right now; try again in a few minutes, and tell the ' +
        'platform operators if it persists.',
      options
    );
  }
  if (err instanceof OpenAI.APIError && (err.status ?? 0) >= 500) {
    return new LlmError('server_error', `The LLM endpoint failed (HTTP ${err.status}).`, options);
  }
  if (err instanceof OpenAI.APIError) {
    return new LlmError(
      'rejected',
      `The LLM endpoint refused the request (HTTP ${err.status}).`,
      options
    );
  }
  if (err instanceof SyntaxError) {
    return new LlmError('malformed', 'The LLM answered with a body that is not JSON.', options);
  }
  return new LlmError(
    'unreachable',
    'The LLM call failed; try again in a few minutes, and tell the platform operators if it ' +
      'persists.',
    options
  );
}

function isTimeout(err: unknown) {
  const e = err as { name?: string; cause?: { name?: string } };
  return (
    e?.name === 'TimeoutError' ||
    e?.name === 'AbortError' ||
    e?.cause?.name === 'TimeoutError' ||
    // Our deadline aborts the SDK's request; the SDK reports that as a user abort.
    e instanceof OpenAI.APIUserAbortError
  );
}
