/**
 * A hub token is accepted only if it carries access to the companion's service: the hub's own
 * answer to GET /hub/api/user lists the token's scopes. Against a real JupyterHub configured by
 * the local platform's dev/jupyterhub_config.py, spawning a real server for alice whose own token
 * (JUPYTERHUB_API_TOKEN) reaches the companion through the Hotstepper proxy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort, waitFor } from './helpers/ports.js';

const CONFIG = fileURLToPath(new URL('./fixtures/identity/jupyterhub_config.py', import.meta.url));
const devToken = randomBytes(24).toString('hex');
const SCOPE = 'access:services!service=hotstepper';

let hub: IHub;
let app: FastifyInstance;
let companionUrl: string;

/** The hub API with the platform's dev tooling token (may mint tokens and start servers). */
async function hubApi(method: string, path: string, body?: unknown) {
  const res = await fetch(`${hub.apiUrl}${path}`, {
    method,
    headers: { Authorization: `token ${devToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000)
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`hub ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as Record<string, unknown>;
}

const mint = async (scopes?: string[]) =>
  String((await hubApi('POST', '/users/alice/tokens', { expires_in: 600, scopes })).token);

before(async () => {
  const port = await freePort();
  companionUrl = `http://127.0.0.1:${port}`;
  process.env.HS_TEST_DEV_TOKEN = devToken;
  process.env.HS_TEST_COMPANION_URL = companionUrl;
  hub = await startHub({ config: CONFIG });
  app = await buildApp(
    testConfig({ jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken } })
  );
  await app.listen({ host: '127.0.0.1', port });
});

after(async () => {
  await app?.close();
  await hub?.stop();
});

describe('hub token scopes', () => {
  it(
    'refuses a resolving token without access to the companion: 403 token_scope_missing',
    { timeout: 30_000 },
    async () => {
      const narrow = await mint(['read:users:name!user=alice']);
      const res = await fetch(`${companionUrl}/api/v1/me`, {
        headers: { Authorization: `token ${narrow}` },
        signal: AbortSignal.timeout(10_000)
      });
      const text = await res.text();
      assert.equal(res.status, 403, text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const body = JSON.parse(text) as { code: string; detail: string };
      assert.equal(body.code, 'token_scope_missing');
      assert.ok(body.detail.includes(SCOPE), body.detail);
    }
  );

  it(
    "lets the token of alice's real server through, as the proxy forwards it",
    { timeout: 150_000 },
    async t => {
      await hubApi('POST', '/users/alice/server');
      t.after(() => hubApi('DELETE', '/users/alice/server'));
      await waitFor("alice's server", 120, async () => {
        const user = await hubApi('GET', '/users/alice');
        const servers = user.servers as Record<string, { ready: boolean }> | undefined;
        return servers?.['']?.ready === true;
      });
      // The browser's side: a token for alice's server, as her Lab page would hold.
      const browser = await mint();
      const res = await fetch(`${hub.url}/user/alice/hotstepper/api/v1/me`, {
        headers: { Authorization: `token ${browser}` },
        signal: AbortSignal.timeout(15_000)
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const me = JSON.parse(text) as { user: { name: string } };
      assert.equal(me.user.name, 'alice');
    }
  );
});
