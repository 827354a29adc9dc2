/**
 * The probes and their registry. Prometheus and an LLM endpoint are not part of this suite's
 * environment, so small HTTP servers on loopback answer the one request each probe makes, the way
 * the real ones do. Kubernetes is the real thing: a local control plane (test/helpers/cluster.ts).
 * JupyterHub's probe runs against the real hub in integration.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { Connection, Health } from '@hotstepper/schema';
import { createConnections } from '../src/platform/connections.js';
import { kubernetesProbe } from '../src/platform/kubernetes/probe.js';
import { llmProbe, prometheusProbe, type IProbe } from '../src/platform/probes.js';
import { build, scratchDir, testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
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

describe('the Kubernetes probe, against a real API server', () => {
  const run = promisify(execFile);
  const root = fileURLToPath(new URL('../..', import.meta.url));
  let cluster: ITestCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a kubeconfig is free-form YAML
  type Kubeconfig = any;
  /** A copy of the cluster's admin kubeconfig, changed by `edit`. */
  function kubeconfig(edit: (doc: Kubeconfig) => void): string {
    const doc = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as Kubeconfig;
    edit(doc);
    const file = join(scratchDir(), 'kubeconfig');
    writeFileSync(file, toYaml(doc));
    return file;
  }
  const token = () => cluster.kc.getCurrentUser()?.token as string;
  const server = () => cluster.kc.getCurrentCluster()?.server as string;

  it('asks for the version with the kubeconfig credentials, over verified TLS', async () => {
    const up = await check(kubernetesProbe({ enabled: false, kubeconfig: cluster.kubeconfig }));
    assert.equal(up.state, 'connected', up.detail);
    assert.match(up.detail, /^Kubernetes v1\.36\.\d+ at https:\/\/127\.0\.0\.1:\d+ \(from .+\)$/);
    assert.equal(up.detail.split(' at ')[1], `${server()} (from ${cluster.kubeconfig})`);
  });

  it('uses exec credential plugins, as client-node does', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: token() }
    });
    const file = kubeconfig(doc => {
      doc.users[0].user = {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'sh',
          args: ['-c', `printf '%s' '${credential}'`],
          interactiveMode: 'Never'
        }
      };
    });
    const up = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.equal(up.state, 'connected', up.detail);
  });

  it('reports a token the API server rejects, without the token', async () => {
    const file = kubeconfig(doc => (doc.users[0].user.token = 'not-the-token-0123'));
    const down = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.equal(down.state, 'down');
    assert.equal(
      down.detail,
      `Kubernetes at ${server()} (from ${file}) did not answer: answered HTTP 401 to GET ` +
        '/version: it does not accept the credentials'
    );
    assert.ok(!down.detail.includes('not-the-token'));
  });

  it('does not trust the server without the cluster CA', async () => {
    const file = kubeconfig(doc => delete doc.clusters[0].cluster['certificate-authority-data']);
    const untrusted = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.equal(untrusted.state, 'down');
    assert.match(untrusted.detail, /SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i);
  });

  it('reports an API server that is not there', async () => {
    const port = await freePort();
    const file = kubeconfig(doc => (doc.clusters[0].cluster.server = `https://127.0.0.1:${port}`));
    const down = await check(kubernetesProbe({ enabled: false, kubeconfig: file }));
    assert.equal(down.state, 'down');
    assert.equal(
      down.detail,
      `Kubernetes at https://127.0.0.1:${port} (from ${file}) did not answer: ECONNREFUSED`
    );
  });

  it('says what is wrong with a kubeconfig', async () => {
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

  // Last: this stops and restarts the control plane.
  it('lets the companion start while the API server is down, and recovers by itself', async t => {
    await run('bash', [join(root, 'dev/k8s/down.sh')], { env: cluster.env });
    const app = await build(
      t,
      testConfig({
        kubernetes: { kubeconfig: cluster.kubeconfig },
        connections: { refreshSeconds: 1, timeoutSeconds: 2 }
      })
    );
    const kube = async () => {
      const res = await app.inject({ url: '/readyz' });
      const body = res.json() as Health;
      assert.deepEqual(body.decidedBy, ['database', 'jupyterhub']);
      return body.checks?.find(c => c.name === 'kubernetes') as Connection;
    };
    const down = await kube();
    assert.equal(down.state, 'down');
    assert.match(down.detail, /did not answer: ECONNREFUSED/);

    await run('bash', [join(root, 'dev/k8s/up.sh')], { env: cluster.env });
    const deadline = Date.now() + 20_000;
    let state = await kube();
    while (state.state !== 'connected' && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 250));
      state = await kube();
    }
    assert.equal(state.state, 'connected', state.detail);
    assert.match(state.detail, /^Kubernetes v1\.36\./);
  });
});
