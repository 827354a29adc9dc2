/**
 * When the LLM endpoint is down, a student's welcome summary says so and what to do, and never
 * shows where the endpoint lives (an internal address is for operators): the address goes to the
 * companion's log. Real JupyterHub for identity; the endpoint is a loopback port nobody serves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WelcomeSummary } from '@hotstepper/schema';
import OpenAI from 'openai';
import { toLlmError } from '../src/platform/llm.js';
import { analysis } from './fixtures/welcome/notebooks.js';
import { build, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';

let hub: IHub;
const tokens: Record<string, string> = {};

before(async () => {
  hub = await startHub();
  for (const user of ['alice', 'admin']) tokens[user] = (await hub.createToken(user)).token;
});
after(async () => {
  await hub?.stop();
});

/** Anything that names a place on the network: a URL, an IPv4 address, host:port, localhost. */
const ADDRESS = /https?:\/\/|\b\d{1,3}(\.\d{1,3}){3}\b|\blocalhost\b|\[::1?\]|:\d{2,5}\b/i;

describe('welcome summary with the LLM endpoint down', { timeout: 90_000 }, () => {
  it('tells a student what happened and what to do, without the address; logs it', async t => {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}/v1`;
    const lines: string[] = [];
    const app = await build(
      t,
      testConfig({
        log: { level: 'info' },
        jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
        llm: { baseUrl, timeoutSeconds: 3, maxRetries: 1, maxRetryAfterSeconds: 1 }
      }),
      { logStream: { write: line => void lines.push(line) } }
    );
    for (const user of ['alice', 'admin']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/welcome/summary',
        headers: { authorization: `token ${tokens[user]}` },
        payload: { path: 'work/rain.ipynb', cells: analysis() }
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as WelcomeSummary;
      assert.equal(body.source, 'none');
      assert.equal(body.summary, null);
      t.diagnostic(`${user}: ${body.note}`);
      assert.match(body.note!, /not reachable/);
      assert.match(body.note!, /try again/i);
      assert.match(body.note!, /operators/);
      assert.doesNotMatch(body.note!, ADDRESS);
      assert.ok(!res.body.includes(String(port)), `the port reached ${user}: ${res.body}`);
      assert.ok(!res.body.includes('127.0.0.1'), `the host reached ${user}`);
    }
    // Operators find the address where they look: the log.
    const logged = lines.filter(l => l.includes('welcome summary failed'));
    assert.ok(logged.length >= 2, lines.join(''));
    assert.ok(
      logged.every(l => l.includes(`127.0.0.1:${port}`)),
      logged.join('')
    );
  });

  it('keeps addresses out of every LLM failure sentence', () => {
    const base = 'http://10.1.2.3:9300/v1';
    const failures = [
      new OpenAI.APIConnectionError({ cause: new Error('connect ECONNREFUSED 10.1.2.3:9300') }),
      new Error('getaddrinfo ENOTFOUND llm.internal.example:9300'),
      new TypeError('fetch failed: connect ECONNREFUSED http://10.1.2.3:9300/v1/models')
    ];
    for (const failure of failures) {
      const err = toLlmError(failure, base);
      assert.doesNotMatch(err.message, ADDRESS, err.message);
      assert.ok(!err.message.includes('llm.internal'), err.message);
      assert.equal(err.endpoint, base);
    }
  });
});
