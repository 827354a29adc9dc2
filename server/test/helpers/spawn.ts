/** Starting a user's server through a test hub's REST API, as a spawn page's form would. */
import assert from 'node:assert/strict';
import type { IHub } from './hub.js';

/** A call to the hub's API with the companion's service token. */
export function hubRequest(hub: IHub, method: string, path: string, body?: unknown) {
  return fetch(`${hub.apiUrl}${path}`, {
    method,
    headers: { Authorization: `token ${hub.serviceToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  });
}

export interface ISpawnOutcome {
  failed: boolean;
  status: number;
  /** The hub's refusal, or why the spawn ended without a server; '' once ready. */
  message: string;
}

/** Starts `user`'s default server with `options` and waits until it is ready or has failed. */
export async function spawnServer(
  hub: IHub,
  user: string,
  options: unknown,
  seconds = 90
): Promise<ISpawnOutcome> {
  const res = await hubRequest(hub, 'POST', `/users/${user}/server`, options);
  if (res.status !== 201 && res.status !== 202) {
    const { message } = (await res.json()) as { message: string };
    return { failed: true, status: res.status, message };
  }
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const model = (await (await hubRequest(hub, 'GET', `/users/${user}`)).json()) as {
      servers?: Record<string, { ready: boolean }>;
      pending?: string | null;
    };
    if (model.servers?.['']?.ready) return { failed: false, status: res.status, message: '' };
    if (!model.pending && !model.servers?.['']) {
      return {
        failed: true,
        status: res.status,
        message: 'the spawn failed after it was accepted'
      };
    }
    assert.ok(Date.now() < until, `${user}'s server not ready within ${seconds} s`);
    await new Promise(r => setTimeout(r, 500));
  }
}

/** Stops `user`'s default server and waits until the hub has no server or pending action left. */
export async function stopServer(hub: IHub, user: string, seconds = 90): Promise<void> {
  const res = await hubRequest(hub, 'DELETE', `/users/${user}/server`);
  assert.ok([202, 204, 400].includes(res.status), `stopping ${user}: ${res.status}`);
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const model = (await (await hubRequest(hub, 'GET', `/users/${user}`)).json()) as {
      servers?: Record<string, unknown>;
      pending?: string | null;
    };
    if (!model.servers?.[''] && !model.pending) return;
    assert.ok(Date.now() < until, `${user}'s server not stopped within ${seconds} s`);
    await new Promise(r => setTimeout(r, 500));
  }
}
