// The scripted OpenAI-compatible server: the real wire format (Chat Completions as JSON and as SSE,
// GET /v1/models, response_format json_schema) with scripted replies and faults, for tests and the
// local platform. It is not a model: replies are built from the request so they stay deterministic.
//
//   node dev/llm/server.mjs [--port 9300] [--host 127.0.0.1] [--log requests.jsonl]
//
// A fault is chosen per request, either by a marker anywhere in the messages, `[[scripted:<fault>]]`,
// or queued with POST /control/faults {"faults": ["rate_limit", ...]} (each used by one request).
// Faults: rate_limit (429 + retry-after), slow_rate_limit (429 asking for 3600 s), server_error (500),
// stall (headers, then a body that never ends), malformed (200 with broken JSON), schema_break
// (valid JSON that breaks the requested schema), injection (a schema-valid reply carrying HTML and
// instructions). GET /control/requests returns the request log; DELETE clears it.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { scriptedContent } from './replies.mjs';

export const SCRIPTED_OWNER = 'hotstepper-scripted';
export const SCRIPTED_MODEL = 'hotstepper-scripted';
export const FAULTS = [
  'rate_limit',
  'slow_rate_limit',
  'server_error',
  'stall',
  'malformed',
  'schema_break',
  'injection'
];

/** Start the server; resolves to { url, port, requests, faults, close }. */
export function startScriptedLlm({ port = 0, host = '127.0.0.1', log } = {}) {
  const requests = [];
  const queued = [];
  const stalled = new Set();

  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/v1/models') return models(res);
      if (path === '/control/requests') {
        if (req.method === 'DELETE') requests.length = 0;
        return json(res, 200, { requests });
      }
      if (req.method === 'POST' && path === '/control/faults') {
        const { faults = [] } = JSON.parse(body || '{}');
        const unknown = faults.filter(f => !FAULTS.includes(f));
        if (unknown.length) return json(res, 400, { error: `unknown faults: ${unknown}` });
        queued.push(...faults);
        return json(res, 200, { queued });
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        return await completions(req, res, body);
      }
      return error(res, 404, 'not_found', `No ${req.method} ${path} here.`);
    } catch (err) {
      return error(res, 400, 'invalid_request_error', String(err?.message ?? err));
    }
  });

  async function completions(req, res, raw) {
    let request;
    try {
      request = JSON.parse(raw);
    } catch {
      return error(res, 400, 'invalid_request_error', 'The body is not valid JSON.');
    }
    const text = (request.messages ?? []).map(m => contentText(m.content)).join('\n');
    const marker = /\[\[scripted:([a-z_]+)\]\]/.exec(text)?.[1];
    const fault = FAULTS.includes(marker) ? marker : queued.shift();
    const entry = {
      at: new Date().toISOString(),
      fault: fault ?? null,
      // Which key came, by its last four characters only: the log is a file on disk.
      authorization: req.headers.authorization
        ? req.headers.authorization.replace(/^(\S+\s+).*(.{4})$/, '$1…$2')
        : null,
      body: request
    };
    requests.push(entry);
    if (log) appendFileSync(log, JSON.stringify(entry) + '\n');

    switch (fault) {
      case 'rate_limit':
        res.setHeader('retry-after', '1');
        return error(res, 429, 'rate_limit_exceeded', 'Rate limit reached (scripted).');
      case 'slow_rate_limit':
        res.setHeader('retry-after', '3600');
        return error(res, 429, 'rate_limit_exceeded', 'Rate limit reached (scripted).');
      case 'server_error':
        return error(res, 500, 'server_error', 'The server had an error (scripted).');
      case 'stall':
        // Headers and half a body, then nothing: the client's own deadline must end it.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"chatcmpl-stall","object":"chat.completion","choices":[');
        stalled.add(res);
        res.on('close', () => stalled.delete(res));
        // Longer than any client deadline (llm.timeoutSeconds is at most 25 s), then let go.
        setTimeout(() => res.destroy(), 30_000).unref();
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"id":"chatcmpl-bad","object":"chat.completion","choices":[{"index":0,');
    }
    const content = scriptedContent(request, fault);
    const usage = {
      prompt_tokens: Math.ceil(text.length / 4),
      completion_tokens: Math.ceil(content.length / 4)
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-scripted-${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const model = request.model ?? SCRIPTED_MODEL;
    if (request.stream) return stream(res, { id, created, model, content, usage, request });
    return json(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: 'scripted',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          logprobs: null,
          finish_reason: 'stop'
        }
      ],
      usage
    });
  }

  function stream(res, { id, created, model, content, usage, request }) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive'
    });
    const chunk = (delta, finish = null, extra = {}) =>
      res.write(
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
          ...extra
        })}\n\n`
      );
    chunk({ role: 'assistant', content: '' });
    for (let i = 0; i < content.length; i += 24) chunk({ content: content.slice(i, i + 24) });
    chunk({}, 'stop');
    if (request.stream_options?.include_usage) {
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`
      );
    }
    res.end('data: [DONE]\n\n');
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolve({
        url: `http://${host}:${actual}/v1`,
        port: actual,
        requests,
        faults: queued,
        close: () =>
          new Promise(done => {
            for (const res of stalled) res.destroy();
            server.closeAllConnections();
            server.close(() => done());
          })
      });
    });
  });
}

function models(res) {
  return json(res, 200, {
    object: 'list',
    data: [{ id: SCRIPTED_MODEL, object: 'model', created: 1764028800, owned_by: SCRIPTED_OWNER }]
  });
}

function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(p => p?.text ?? '').join('\n');
  return '';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', d => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function error(res, status, code, message) {
  return json(res, status, { error: { message, type: code, param: null, code } });
}

// Run as a program (dev/start.sh): listen until SIGTERM.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.HOTSTEPPER_LLM_PORT ?? '9300' },
      host: { type: 'string', default: '127.0.0.1' },
      log: { type: 'string' }
    }
  });
  const llm = await startScriptedLlm({
    port: Number(values.port),
    host: values.host,
    log: values.log
  });
  console.log(
    `scripted OpenAI-compatible server (not a model) at ${llm.url}` +
      (values.log ? `, request log ${values.log}` : '')
  );
  process.on('SIGTERM', () => llm.close().then(() => process.exit(0)));
  process.on('SIGINT', () => llm.close().then(() => process.exit(0)));
}
