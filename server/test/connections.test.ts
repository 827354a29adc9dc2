/**
 * The probes and their registry. Prometheus, an LLM endpoint and a Kubernetes API server are not
 * part of this suite's environment, so small HTTP(S) servers on loopback answer the one request
 * each probe makes, the way the real ones do. JupyterHub's probe runs against the real hub in
 * integration.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createConnections } from '../src/platform/connections.js';
import { kubernetesProbe } from '../src/platform/kubernetes.js';
import { llmProbe, prometheusProbe, type IProbe } from '../src/platform/probes.js';
import { scratchDir } from './helpers/build.js';
import { freePort } from './helpers/ports.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
});

/** Serve `handler` on a loopback port; the URL says http even for a TLS server. */
async function serve(handler: Handler, server: Server = createServer()): Promise<string> {
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function check(probe: IProbe, timeoutSeconds = 2) {
  const [result] = await createConnections({
    probes: [probe],
    refreshSeconds: 15,
    timeoutSeconds
  }).list();
  return result;
}

function kubeconfig(server: string, extra: { ca?: string; token?: string } = {}): string {
  const path = join(scratchDir(), 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: test',
      'contexts: [{name: test, context: {cluster: local, user: tester}}]',
      `clusters: [{name: local, cluster: {server: "${server}"${extra.ca ? `, certificate-authority-data: ${extra.ca}` : ''}}}]`,
      `users: [{name: tester, user: {${extra.token ? `token: ${extra.token}` : ''}}}]`
    ].join('\n')
  );
  return path;
}

describe('probes', () => {
  it('report what is not configured and how to configure it', async () => {
    const off = [kubernetesProbe({ enabled: false }), prometheusProbe({}), llmProbe({})];
    const results = await createConnections({
      probes: off,
      refreshSeconds: 15,
      timeoutSeconds: 2
    }).list();
    assert.deepEqual(
      results.map(r => r.state),
      ['not_configured', 'not_configured', 'not_configured']
    );
    assert.match(results[0].detail, /KUBECONFIG/);
    assert.match(results[1].detail, /HOTSTEPPER_PROMETHEUS_URL/);
    assert.match(results[2].detail, /HOTSTEPPER_LLM_BASE_URL/);
  });

  it('ask Kubernetes for its version with the kubeconfig credentials, over verified TLS', async () => {
    const dir = scratchDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem')
      ],
      { stdio: 'ignore' }
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const tls = createTlsServer({
      key: readFileSync(join(dir, 'key.pem')),
      cert
    }) as unknown as Server;
    const url = await serve((req, res) => {
      if (req.url !== '/version') return json(res, 404, {});
      if (req.headers.authorization !== 'Bearer kube-token') return json(res, 401, {});
      json(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0' });
    }, tls);
    const https = url.replace('http:', 'https:');

    const file = kubeconfig(https, { ca: cert.toString('base64'), token: 'kube-token' });
    const up = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.equal(up.state, 'connected', up.detail);
    assert.equal(up.detail, `Kubernetes v1.31.0 at ${https} (from ${file})`);

    const noToken = await check(
      kubernetesProbe({
        enabled: false,
        kubeconfig: kubeconfig(https, { ca: cert.toString('base64') })
      })
    );
    assert.equal(noToken.state, 'down');
    assert.match(noToken.detail, /did not answer: answered HTTP 401 to GET \/version/);

    // Without the cluster's CA the certificate is not trusted.
    const untrusted = await check(
      kubernetesProbe({ enabled: false, kubeconfig: kubeconfig(https, { token: 'kube-token' }) })
    );
    assert.equal(untrusted.state, 'down');
    assert.match(untrusted.detail, /SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i);
  });

  it('say what is wrong with a kubeconfig', async () => {
    const missing = await check(
      kubernetesProbe({ enabled: false, kubeconfig: '/nonexistent/kubeconfig' })
    );
    assert.equal(missing.state, 'down');
    assert.match(missing.detail, /cannot read the kubeconfig \/nonexistent\/kubeconfig: ENOENT/);
    const file = join(scratchDir(), 'kubeconfig');
    writeFileSync(file, 'current-context: gone\ncontexts: []\n');
    const broken = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.match(broken.detail, /has no context "gone"/);
  });

  it('check Prometheus is ready', async () => {
    let ready = true;
    const url = await serve((req, res) => {
      if (req.url !== '/-/ready') return json(res, 404, {});
      res.writeHead(ready ? 200 : 503).end(ready ? 'Prometheus Server is Ready.\n' : 'not ready');
    });
    const probe = prometheusProbe({ url: `${url}/` });
    assert.deepEqual(
      { ...(await check(probe)), checkedAt: null, latencyMs: null },
      {
        name: 'prometheus',
        state: 'connected',
        detail: `Prometheus at ${url} is ready`,
        checkedAt: null,
        latencyMs: null
      }
    );
    ready = false;
    const down = await check(probe);
    assert.equal(down.detail, `Prometheus at ${url} answered HTTP 503 to GET /-/ready`);
  });

  it('list the LLM endpoint models with the key, and want the configured model', async () => {
    const url = await serve((req, res) => {
      if (req.headers.authorization !== 'Bearer llm-key')
        return json(res, 401, { error: 'no key' });
      json(res, 200, {
        object: 'list',
        data: [
          { id: 'small', object: 'model' },
          { id: 'large', object: 'model' }
        ]
      });
    });
    const base = `${url}/v1`;
    const ok = await check(llmProbe({ baseUrl: base, apiKey: 'llm-key', model: 'small' }));
    assert.equal(ok.state, 'connected', ok.detail);
    assert.equal(ok.detail, `LLM endpoint at ${base} serves 2 models, including small`);
    const wrongModel = await check(llmProbe({ baseUrl: base, apiKey: 'llm-key', model: 'huge' }));
    assert.match(
      wrongModel.detail,
      /does not serve the configured model "huge" \(it serves: small, large\)/
    );
    const wrongKey = await check(llmProbe({ baseUrl: base, apiKey: 'nope' }));
    assert.equal(wrongKey.detail, `The LLM endpoint at ${base} answered HTTP 401 to GET /models`);
    assert.ok(!wrongKey.detail.includes('nope'));
  });

  it('give up after the timeout and say how long they waited', async () => {
    const url = await serve(() => {
      // never answers
    });
    const started = Date.now();
    const result = await check(prometheusProbe({ url }), 0.3);
    assert.ok(Date.now() - started < 1000, 'the caller did not wait much longer than the timeout');
    assert.equal(result.state, 'down');
    assert.equal(result.detail, `Prometheus at ${url} did not answer: no answer within 0.3 s`);
  });

  it('name the refused connection', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await check(prometheusProbe({ url }));
    assert.equal(result.detail, `Prometheus at ${url} did not answer: ECONNREFUSED`);
  });
});

describe('connection registry', () => {
  function counting() {
    let calls = 0;
    const probe: IProbe = {
      name: 'prometheus',
      async check() {
        calls++;
        return `checked ${calls}`;
      }
    };
    return { probe, calls: () => calls };
  }

  it('serves cached results until they are older than the refresh interval', async () => {
    const { probe, calls } = counting();
    const connections = createConnections({
      probes: [probe],
      refreshSeconds: 0.2,
      timeoutSeconds: 1
    });
    assert.equal((await connections.list())[0].detail, 'checked 1');
    assert.equal((await connections.list())[0].detail, 'checked 1');
    assert.equal(calls(), 1);
    await new Promise(r => setTimeout(r, 250));
    assert.equal((await connections.list())[0].detail, 'checked 2');
  });

  it('shares one check between concurrent readers', async () => {
    const { probe, calls } = counting();
    const connections = createConnections({
      probes: [probe],
      refreshSeconds: 15,
      timeoutSeconds: 1
    });
    await Promise.all([connections.list(), connections.list(), connections.list()]);
    assert.equal(calls(), 1);
  });

  it('checks in the background once started, until stopped', async () => {
    const { probe, calls } = counting();
    const connections = createConnections({
      probes: [probe],
      refreshSeconds: 1,
      timeoutSeconds: 1
    });
    connections.start();
    await new Promise(r => setTimeout(r, 50));
    assert.equal(calls(), 1, 'start() checks at once');
    await new Promise(r => setTimeout(r, 1050));
    assert.equal(calls(), 2, 'and again after the interval');
    connections.stop();
    await new Promise(r => setTimeout(r, 1050));
    assert.equal(calls(), 2, 'not after stop()');
  });

  it('does not let a check that ignores the signal hold a reader', async () => {
    const stuck: IProbe = { name: 'database', check: () => new Promise(() => {}) };
    const started = Date.now();
    const [result] = await createConnections({
      probes: [stuck],
      refreshSeconds: 15,
      timeoutSeconds: 0.2
    }).list();
    assert.ok(Date.now() - started < 1000);
    assert.equal(result.state, 'down');
    assert.equal(result.detail, 'The database check gave no answer within 0.2 s');
  });
});
