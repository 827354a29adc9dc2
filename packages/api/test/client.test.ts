import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ServerConnection } from '@jupyterlab/services';
import type { Me } from '@hotstepper/schema';
import { CompanionError, HotstepperAPI, requestAPI } from '../src/index.js';

/** What the fake Jupyter server saw of the last request. */
interface ISeen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const me: Me = {
  user: { name: 'alice', groups: ['students'], admin: false },
  connections: [{ name: 'jupyterhub', state: 'connected', detail: 'Hub answered.' }]
};

describe('requestAPI', () => {
  const server = createServer((req, res) => void handle(req, res));
  let reply: (res: ServerResponse) => void = () => undefined;
  let seen: ISeen;
  let settings: ServerConnection.ISettings;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen = { method: req.method, url: req.url, headers: req.headers, body };
    reply(res);
  }

  function answer(status: number, type: string, body: string): void {
    reply = res => res.writeHead(status, { 'Content-Type': type }).end(body);
  }

  async function rejection(promise: Promise<unknown>): Promise<CompanionError> {
    const error = await promise.then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e
    );
    assert.ok(error instanceof CompanionError);
    return error;
  }

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    settings = ServerConnection.makeSettings({
      baseUrl: `http://127.0.0.1:${port}/user/alice/`,
      token: 'jupyter-token'
    });
  });

  after(() => {
    server.close();
  });

  beforeEach(() => {
    answer(200, 'application/json', JSON.stringify(me));
  });

  it('should GET through the proxy route under the base URL with Jupyter auth', async () => {
    const result = await requestAPI('getMe', {}, settings);
    assert.deepEqual(result, me);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/user/alice/hotstepper/api/v1/me');
    assert.equal(seen.headers.authorization, 'token jupyter-token');
    assert.equal(seen.body, '');
  });

  it('should PUT the JSON body with the method from the operation table', async () => {
    const prefs = { welcomeBack: false, idleMail: true };
    answer(200, 'application/json; charset=utf-8', JSON.stringify(prefs));
    const result = await requestAPI('putPreferences', { body: prefs }, settings);
    assert.deepEqual(result, prefs);
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.url, '/user/alice/hotstepper/api/v1/me/preferences');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen.body), prefs);
  });

  it('should offer every operation as a method of HotstepperAPI', async () => {
    assert.deepEqual(await HotstepperAPI.getMe({}, settings), me);
    assert.equal(seen.url, '/user/alice/hotstepper/api/v1/me');
    await HotstepperAPI.getPreferences({}, settings);
    assert.equal(seen.url, '/user/alice/hotstepper/api/v1/me/preferences');
  });

  it('should map a problem+json answer to its status, code and detail', async () => {
    const problem = {
      type: 'about:blank',
      title: 'Companion unreachable',
      status: 502,
      code: 'companion_unreachable',
      detail: 'Could not reach http://127.0.0.1:9100/api/v1/me.'
    };
    answer(502, 'application/problem+json', JSON.stringify(problem));
    const error = await rejection(requestAPI('getMe', {}, settings));
    assert.equal(error.status, 502);
    assert.equal(error.code, 'companion_unreachable');
    assert.equal(error.detail, problem.detail);
    assert.equal(error.message, problem.detail);
    assert.deepEqual(error.problem, problem);
  });

  it('should fall back to http_<status> when the error body is not problem+json', async () => {
    answer(404, 'text/html', '<html>404: Not Found</html>');
    const error = await rejection(requestAPI('getMe', {}, settings));
    assert.equal(error.status, 404);
    assert.equal(error.code, 'http_404');
    assert.equal(error.problem, null);
    assert.match(error.detail, /server extension/);
  });

  it("should keep jupyter_server's own error message", async () => {
    answer(403, 'application/json', JSON.stringify({ message: "'_xsrf' argument missing" }));
    const body = { welcomeBack: true, idleMail: false };
    const error = await rejection(requestAPI('putPreferences', { body }, settings));
    assert.equal(error.code, 'http_403');
    assert.equal(error.detail, "'_xsrf' argument missing");
  });

  it('should refuse a 2xx answer that is not JSON', async () => {
    answer(200, 'text/html', '<html>login</html>');
    const error = await rejection(requestAPI('getMe', {}, settings));
    assert.equal(error.status, 200);
    assert.equal(error.code, 'invalid_response');
  });

  it('should answer undefined for 204 No Content (a delete), and still refuse 200 without JSON', async () => {
    answer(204, 'text/plain', '');
    assert.equal(await requestAPI('deleteJob', { params: { id: 'j1' } }, settings), undefined);
    answer(200, 'text/plain', '');
    assert.equal(
      (await rejection(requestAPI('deleteJob', { params: { id: 'j1' } }, settings))).code,
      'invalid_response'
    );
  });

  it('should report network_error when nothing answers', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, 'close');
    const offline = ServerConnection.makeSettings({ baseUrl: `http://127.0.0.1:${port}/` });
    const error = await rejection(requestAPI('getMe', {}, offline));
    assert.equal(error.status, 0);
    assert.equal(error.code, 'network_error');
  });
});
