/**
 * The same-origin proxy (jupyter/hotstepper/proxy.py) in a real Jupyter server from the venv, run
 * from this checkout's source, in front of a small real HTTP server that plays the companion and
 * records every request it receives. The Jupyter server's authorizer (a real Jupyter config file)
 * makes the `hotstepper` resource read-only, so the proxy's authorization can be seen at work.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server
} from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startJupyter as startTestJupyter, type IJupyter } from './helpers/jupyter.js';
import { waitFor } from './helpers/ports.js';
const HUB_TOKEN = `hub-${randomBytes(16).toString('hex')}`;
const TIMEOUT = { timeout: 60_000 };

// The server's authorizer: everything is allowed except writing to the hotstepper resource.
const SERVER_CONFIG = `
from jupyter_server.auth.authorizer import Authorizer

class ReadOnlyHotstepper(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return not (resource == "hotstepper" and action == "write")

c = get_config()  # noqa: F821
c.ServerApp.authorizer_class = ReadOnlyHotstepper
c.ServerApp.jpserver_extensions = {"hotstepper": True}
`;

interface IRecorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** The companion's part: answers by path, records what reached it, notes closed streams. */
async function startCompanion() {
  const received: IRecorded[] = [];
  const streamsClosed: string[] = [];
  const server: Server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/api/v1/html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<script>alert(document.cookie)</script>');
    } else if (path === '/api/v1/csv') {
      res.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'inline; filename="usage.csv"'
      });
      res.end('day,hours\r\n2026-12-01,3\r\n');
    } else if (path === '/api/v1/empty') {
      res.writeHead(204);
      res.end();
    } else if (path === '/api/v1/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const tick = setInterval(() => res.write(`event: line\ndata: ${n++}\n\n`), 100);
      res.on('close', () => {
        clearInterval(tick);
        streamsClosed.push(req.url ?? '');
      });
    } else {
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'set-cookie': 'companion=evil; Path=/',
        'x-companion': 'internal'
      });
      res.end(JSON.stringify({ ok: true, path }));
    }
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    streamsClosed,
    stop: () =>
      new Promise<void>(r => {
        server.closeAllConnections();
        server.close(() => r());
      })
  };
}

/** A Jupyter server from the venv with this checkout's extension, our authorizer and hub token. */
const startJupyter = (companionUrl?: string) =>
  startTestJupyter({
    config: SERVER_CONFIG,
    hubToken: HUB_TOKEN,
    companionUrl,
    // The extension's own server report would land among the requests these tests count.
    env: { HOTSTEPPER_REPORT_SECONDS: '0' }
  });

/** A raw request: the path goes out exactly as written (fetch would resolve dot segments). */
function raw(url: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(`${url}${path}`, { headers, timeout: 10_000 }, res => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
      req.on('error', reject);
      req.end();
    }
  );
}

async function assertProblem(res: Response, status: number, code: string) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const body = JSON.parse(text) as { code: string; status: number; detail: string };
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  return { body, text };
}

let companion: Awaited<ReturnType<typeof startCompanion>>;
let jupyter: IJupyter;
let bare: IJupyter;

before(async () => {
  companion = await startCompanion();
  const started = await Promise.allSettled([startJupyter(companion.url), startJupyter()]);
  const failed = started.find(s => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map(s => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  [jupyter, bare] = started.map(s => (s as PromiseFulfilledResult<IJupyter>).value);
});

after(async () => {
  await Promise.all([jupyter?.stop(), bare?.stop(), companion?.stop()]);
});

describe('the Jupyter server proxy', () => {
  const auth = (server: IJupyter) => ({ Authorization: `token ${server.token}` });
  const get = (server: IJupyter, path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { ...auth(server), ...(init.headers as Record<string, string>) },
      signal: init.signal ?? AbortSignal.timeout(15_000)
    });

  it(
    'answers 503 companion_not_configured when the server has no HOTSTEPPER_URL',
    TIMEOUT,
    async () => {
      const res = await get(bare, '/hotstepper/api/v1/me');
      const { body } = await assertProblem(res, 503, 'companion_not_configured');
      assert.match(body.detail, /HOTSTEPPER_URL/);
    }
  );

  it(
    'strips the browser credentials and query tokens, adds the hub token, passes no Set-Cookie',
    TIMEOUT,
    async () => {
      const before = companion.received.length;
      const res = await get(
        jupyter,
        `/hotstepper/api/v1/echo?token=${jupyter.token}&_xsrf=xsrf-value&keep=1`,
        {
          headers: {
            Cookie: `_xsrf=xsrf-value; username-127-0-0-1=session-value`,
            'X-XSRFToken': 'xsrf-value'
          }
        }
      );
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(await res.json(), { ok: true, path: '/api/v1/echo' });
      assert.equal(res.headers.get('content-type'), 'application/json; charset=UTF-8');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-companion'), null);
      assert.deepEqual(
        res.headers.getSetCookie().filter(c => c.includes('companion')),
        [],
        'the companion cookie stays off this origin'
      );

      assert.equal(companion.received.length, before + 1);
      const seen = companion.received[before];
      assert.equal(seen.url, '/api/v1/echo?keep=1');
      assert.equal(seen.headers.authorization, `token ${HUB_TOKEN}`);
      assert.equal(seen.headers.cookie, undefined);
      assert.equal(seen.headers['x-xsrftoken'], undefined);
      const everything = JSON.stringify(seen);
      for (const secret of [jupyter.token, 'xsrf-value', 'session-value']) {
        assert.ok(!everything.includes(secret), `${secret} reached the companion`);
      }
    }
  );

  it(
    'forwards only /api/v1: other paths answer 404 and never reach the companion',
    TIMEOUT,
    async () => {
      const before = companion.received.length;
      for (const path of [
        '/hotstepper/api/docs',
        '/hotstepper/api/docs/static/index.html',
        '/hotstepper/metrics',
        '/hotstepper/api/v1',
        '/hotstepper/api/v10/me',
        '/hotstepper/%61pi/docs',
        '/hotstepper/%61pi/v1/me',
        '/hotstepper/api%2Fv1/me',
        '/hotstepper/api/v1/../docs',
        '/hotstepper/api/v1/%2e%2e/docs',
        '/hotstepper/api/v1/%2E%2E%2Fdocs',
        '/hotstepper/api/v1/./../../docs'
      ]) {
        const res = await raw(jupyter.url, path, auth(jupyter));
        assert.equal(res.status, 404, `${path}: ${res.body}`);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
      }
      assert.deepEqual(companion.received.slice(before), []);
    }
  );

  it(
    'turns an HTML answer of the companion into a 502 problem and CSV into a download',
    TIMEOUT,
    async () => {
      const html = await get(jupyter, '/hotstepper/api/v1/html');
      const { text } = await assertProblem(html, 502, 'companion_bad_response');
      assert.doesNotMatch(text, /<script/);

      const csv = await get(jupyter, '/hotstepper/api/v1/csv');
      assert.equal(csv.status, 200);
      assert.equal(csv.headers.get('content-type'), 'text/csv; charset=UTF-8');
      assert.match(csv.headers.get('content-disposition') ?? '', /^attachment/);
      assert.equal(csv.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(await csv.text(), 'day,hours\r\n2026-12-01,3\r\n');

      const empty = await get(jupyter, '/hotstepper/api/v1/empty');
      assert.equal(empty.status, 204);
    }
  );

  it(
    "asks Jupyter's authorizer about the hotstepper resource before forwarding",
    TIMEOUT,
    async () => {
      const before = companion.received.length;
      const refused = await get(jupyter, '/hotstepper/api/v1/echo', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}'
      });
      assert.equal(refused.status, 403, await refused.text());
      assert.deepEqual(companion.received.slice(before), []);
      // The same authorizer lets writes to other resources through: it was asked about "hotstepper".
      const made = await get(jupyter, '/api/contents', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'notebook' })
      });
      assert.equal(made.status, 201, await made.text());
    }
  );

  it('closes the event stream toward the companion when the browser leaves', TIMEOUT, async () => {
    const leave = new AbortController();
    const res = await get(jupyter, '/hotstepper/api/v1/stream', {
      headers: { Accept: 'text/event-stream' },
      signal: leave.signal
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=UTF-8');
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /event: line\ndata: 0\n/);
    assert.deepEqual(companion.streamsClosed, [], 'the stream is open while the browser reads');
    leave.abort();
    await waitFor('the companion to see its stream closed', 10, async () =>
      companion.streamsClosed.includes('/api/v1/stream')
    );
  });

  it('does not count proxied calls as activity of the server', TIMEOUT, async () => {
    const lastActivity = async () => {
      const res = await get(jupyter, '/api/status');
      assert.equal(res.status, 200);
      return Date.parse(((await res.json()) as { last_activity: string }).last_activity);
    };
    const start = await lastActivity();
    await new Promise(r => setTimeout(r, 50));
    const calls = [
      get(jupyter, '/hotstepper/api/v1/echo'),
      get(jupyter, '/hotstepper/api/v1/html'),
      get(jupyter, '/hotstepper/api/docs'),
      get(jupyter, '/hotstepper/api/v1/echo', { method: 'POST', body: '{}' })
    ];
    for (const res of await Promise.all(calls)) await res.arrayBuffer();
    assert.equal(await lastActivity(), start, 'proxied calls moved last_activity');
    // What does count shows up, so the check above could have seen it.
    const listed = await get(jupyter, '/api/contents');
    assert.equal(listed.status, 200);
    assert.ok((await lastActivity()) > start, 'a contents call is activity');
  });
});
