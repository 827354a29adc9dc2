/**
 * Flare in mode kubernetes against a real control plane (test/helpers/cluster.ts) with the Helm
 * chart's own RBAC: a route becomes a Service selecting the owner's notebook pod and an Ingress
 * for its host, TLS from the one wildcard certificate, owned so that deletion cascades. The owner's
 * ports still come from their real notebook server (a real JupyterHub), which reports them to the
 * companion, as in gateway mode.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { startFlareHub, type IFlareHub } from './fixtures/flare/hub.js';
import { testConfig } from './helpers/build.js';
import { installChartRbac, type IChartIdentity } from './helpers/chart-rbac.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { freePort, waitFor } from './helpers/ports.js';
import { startAll } from './helpers/start-all.js';

const APP = fileURLToPath(new URL('./fixtures/flare/app.mjs', import.meta.url));
const DOMAIN = 'flare.example.org';
const AUTH_URL = 'http://hotstepper.hub.svc:8000/flare/auth';

let cluster: ITestCluster;
let hub: IFlareHub;
let chart: IChartIdentity;
let app: FastifyInstance;
let appPort: number;
let token: string;
let namespace: string;

const listening = (port: number) =>
  new Promise<boolean>(resolve => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function api(method: string, path: string, body?: object) {
  const res = await app.inject({
    method: method as 'GET',
    url: `/api/v1/flare${path}`,
    headers: { authorization: `token ${token}` },
    ...(body ? { payload: body } : {})
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

before(async () => {
  const gw = await freePort();
  // Alice's server pushes its report here (HOTSTEPPER_URL) once the companion listens.
  const companionPort = await freePort();
  [cluster, hub] = await startAll(
    startCluster(),
    startFlareHub(`https://${DOMAIN}/_flare/callback`, {
      companionUrl: `http://127.0.0.1:${companionPort}/`
    })
  );
  chart = await installChartRbac(cluster);
  await hub.startServer('alice');
  appPort = await freePort();
  await hub.runInTerminal('alice', `node ${APP} ${appPort}`);
  await waitFor("the app in alice's server", 30, () => listening(appPort));
  const res = await fetch(`${hub.apiUrl}/users/alice/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${hub.serviceToken}` },
    body: JSON.stringify({ expires_in: 3600 })
  });
  token = ((await res.json()) as { token: string }).token;
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: chart.kubeconfig },
      flare: {
        mode: 'kubernetes',
        domain: DOMAIN,
        publicUrl: 'https://{host}/',
        hubUrl: hub.hubUrl,
        gateway: {
          host: '127.0.0.1',
          port: gw,
          target: 'loopback',
          appHost: '127.0.0.1',
          connectTimeoutSeconds: 2
        },
        kubernetes: {
          ingressClassName: 'nginx',
          tlsSecretName: 'flare-wildcard-tls',
          annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt-dns' },
          authUrl: AUTH_URL,
          gatewayService: 'hotstepper-flare.hub.svc.cluster.local'
        }
      }
    })
  );
  await app.listen({ host: '127.0.0.1', port: companionPort });
  await waitFor("alice's server reporting the app's port", 30, async () =>
    Boolean((await app.serverReports.latest('alice', ''))?.ports.some(p => p.port === appPort))
  );
  namespace = app.tenancy.namespaceOf('alice');
});

after(async () => {
  await app?.close();
  await Promise.all([cluster?.stop(), hub?.stop()]);
});

const core = () => cluster.kc.makeApiClient(CoreV1Api);
const net = () => cluster.kc.makeApiClient(NetworkingV1Api);

describe('flare in mode kubernetes', () => {
  it("makes a Service for the owner's pod and an Ingress with the wildcard TLS", async () => {
    const made = await api('POST', '/routes', {
      name: 'kdash',
      port: appPort,
      access: { mode: 'public' }
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.url, `https://kdash.${DOMAIN}/`);

    const service = await core().readNamespacedService({ name: 'flare-kdash', namespace });
    assert.deepEqual(service.spec?.selector, {
      component: 'singleuser-server',
      'hub.jupyter.org/username': 'alice'
    });
    assert.equal(service.spec?.ports?.[0].port, 80);
    assert.equal(service.spec?.ports?.[0].targetPort, appPort);
    assert.equal(service.metadata?.labels?.['hotstepper.io/flare-route'], 'kdash');

    const ingress = await net().readNamespacedIngress({ name: 'flare-kdash', namespace });
    assert.equal(ingress.spec?.ingressClassName, 'nginx');
    assert.deepEqual(JSON.parse(JSON.stringify(ingress.spec?.tls)), [
      { hosts: [`kdash.${DOMAIN}`], secretName: 'flare-wildcard-tls' }
    ]);
    const rule = ingress.spec?.rules?.[0];
    assert.equal(rule?.host, `kdash.${DOMAIN}`);
    const paths = rule?.http?.paths.map(p => [p.path, p.backend.service?.name]);
    assert.deepEqual(paths, [
      ['/_flare/', 'flare-kdash-gateway'],
      ['/', 'flare-kdash']
    ]);
    const annotations = ingress.metadata?.annotations ?? {};
    assert.equal(annotations['cert-manager.io/cluster-issuer'], 'letsencrypt-dns');
    assert.equal(annotations['nginx.ingress.kubernetes.io/auth-url'], undefined, 'public: no auth');
    const owner = ingress.metadata?.ownerReferences?.[0];
    assert.equal(owner?.kind, 'Service');
    assert.equal(owner?.uid, service.metadata?.uid);
    const gateway = await core().readNamespacedService({ name: 'flare-kdash-gateway', namespace });
    assert.equal(gateway.spec?.type, 'ExternalName');
    assert.equal(gateway.metadata?.ownerReferences?.[0].uid, service.metadata?.uid);
  });

  it('puts the external-auth annotations on routes that are not public', async () => {
    const set = await api('PATCH', '/routes/kdash', { access: { mode: 'hub' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const ingress = await net().readNamespacedIngress({ name: 'flare-kdash', namespace });
    const annotations = ingress.metadata?.annotations ?? {};
    assert.equal(annotations['nginx.ingress.kubernetes.io/auth-url'], `${AUTH_URL}?route=kdash`);
    assert.equal(
      annotations['nginx.ingress.kubernetes.io/auth-signin'],
      `https://${DOMAIN}/_flare/login?next=$scheme://$host$escaped_request_uri`
    );
    // The auth endpoint answers as the gateway would: nobody logged in yet.
    const auth = await app.inject({ url: '/flare/auth?route=kdash' });
    assert.equal(auth.statusCode, 401);
  });

  it('deleting the parent Service takes the Ingress with it; deleting the route removes all', async () => {
    // The garbage collector follows the ownerReferences.
    await core().deleteNamespacedService({ name: 'flare-kdash', namespace });
    await waitFor('the Ingress to be collected', 60, async () => {
      try {
        await net().readNamespacedIngress({ name: 'flare-kdash', namespace });
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    });
    // Recreate through the API, then delete the route.
    assert.equal((await api('PATCH', '/routes/kdash', { access: { mode: 'public' } })).status, 200);
    await net().readNamespacedIngress({ name: 'flare-kdash', namespace });
    assert.equal((await api('DELETE', '/routes/kdash')).status, 200);
    // Gone, not merely unreadable: each GET answers 404 (an ApiException with code 404).
    const notFound = (err: unknown) => {
      assert.equal((err as { code?: number }).code, 404, String(err));
      return true;
    };
    await assert.rejects(
      core().readNamespacedService({ name: 'flare-kdash', namespace }),
      notFound
    );
    await assert.rejects(net().readNamespacedIngress({ name: 'flare-kdash', namespace }), notFound);
  });
});
