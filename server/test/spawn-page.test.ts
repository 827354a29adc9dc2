/**
 * The spawn page (issue #15, item 2): a real hub with Hotstepper's KubeSpawner renders its options
 * form server-side from the companion (options, last options, rate card, GPUs free now on the test
 * cluster), with the page's script and stylesheet inlined; a refused form POST shows the
 * companion's sentence on the page and starts nothing; with the companion down the page still
 * renders, with the spawner's defaults and a notice saying so.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers/build.js';
import { startCluster, type ITestCluster } from './helpers/cluster.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { startAll } from './helpers/start-all.js';

const CONFIG = fileURLToPath(new URL('./fixtures/spawn/jupyterhub_config.py', import.meta.url));
const JUPYTER_SOURCE = fileURLToPath(new URL('../../jupyter', import.meta.url));
const BUNDLE = fileURLToPath(
  new URL('../../jupyter/hotstepper/static/dist/spawn.js', import.meta.url)
);
const IMAGE = 'registry.example.org/notebook';
const A100 = 'NVIDIA-A100-SXM4-80GB';

let cluster: ITestCluster;
let hub: IHub;
let companion: FastifyInstance;

before(async () => {
  // The hub's config names the companion's port, so it comes first.
  const port = await freePort();
  process.env.HS_TEST_COMPANION_URL = `http://127.0.0.1:${port}`;
  process.env.PYTHONPATH = JUPYTER_SOURCE;
  cluster = await startCluster();
  process.env.KUBECONFIG = cluster.kubeconfig;
  [hub] = await startAll(startHub({ config: CONFIG }), Promise.resolve({ stop: async () => {} }));
  // A simulated A100 node cut into 1g.10gb MIG slices: the free count the page shows.
  await cluster.kc.makeApiClient(CoreV1Api).createNode({
    body: {
      metadata: {
        name: 'gpu-mig-0',
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
        labels: {
          'kubernetes.io/hostname': 'gpu-mig-0',
          type: 'kwok',
          'nvidia.com/gpu.product': A100,
          'nvidia.com/mig.strategy': 'mixed',
          'hotstepper.dev/gpu-simulated': 'true'
        }
      },
      status: {
        allocatable: { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/mig-1g.10gb': '7' },
        capacity: { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/mig-1g.10gb': '7' }
      }
    }
  });
  companion = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { kubeconfig: cluster.kubeconfig },
      spawn: {
        images: [
          {
            name: IMAGE,
            description: 'Python with the scientific stack',
            category: 'Python',
            keywords: ['numpy', 'pandas'],
            tags: [
              { tag: '2026-12-01', date: '2026-12-01' },
              { tag: '2026-11-01', date: '2026-11-01' }
            ]
          }
        ]
      }
    })
  );
  await companion.listen({ host: '127.0.0.1', port });
});
after(async () => {
  await companion?.close();
  await Promise.all([hub?.stop(), cluster?.stop()]);
});

/** Logs `user` in through the hub's login form (the dummy authenticator takes any password). */
async function login(user: string): Promise<string> {
  let last = '';
  // JupyterHub's anonymous XSRF token now and then fails to match on the POST that follows.
  for (let attempt = 0; attempt < 3; attempt++) {
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const i = pair.indexOf('=');
        jar.set(pair.slice(0, i), pair.slice(i + 1));
      }
    };
    const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const page = await fetch(`${hub.url}/hub/login`);
    keep(page);
    const xsrf = /name="_xsrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const res = await fetch(`${hub.url}/hub/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: header() },
      body: new URLSearchParams({ username: user, password: 'any', _xsrf: xsrf })
    });
    keep(res);
    if (res.status === 302) return header();
    last = `${res.status}`;
  }
  throw new Error(`hub login of ${user}: ${last}`);
}

interface ISpawnPageData {
  user: string;
  server: string;
  companionDown: boolean;
  options: {
    images: { name: string; tags: { tag: string }[] }[];
    cpu: { min: number; max: number; step: number; default: number };
    gpus: { model: string; migProfiles: string[] }[];
    storage: { volumes: { name: string; access: string }[] };
  };
  last: unknown;
  rateCard: { currency: string; cpuCoreHour: number } | null;
  gpus: { migProfiles: { profile: string; free: number; simulated: boolean }[] } | null;
  notices: string[];
}

async function spawnPage(cookie: string, user: string) {
  const res = await fetch(`${hub.url}/hub/spawn/${user}`, { headers: { cookie } });
  const html = await res.text();
  const json = /<script type="application\/json" id="hotstepper-spawn-data">(.*?)<\/script>/s.exec(
    html
  )?.[1];
  assert.ok(json, `no embedded data in the spawn page (${res.status}): ${html.slice(0, 800)}`);
  return { status: res.status, html, data: JSON.parse(json) as ISpawnPageData };
}

describe('the spawn page', { timeout: 300_000 }, () => {
  let cookie: string;

  it('renders the companion options, rate card and free GPUs with the page inlined', async () => {
    cookie = await login('alice');
    // The GPU index sees the node shortly after it is made.
    let page = await spawnPage(cookie, 'alice');
    for (let i = 0; i < 40 && !page.data.gpus?.migProfiles.length; i++) {
      await new Promise(r => setTimeout(r, 250));
      page = await spawnPage(cookie, 'alice');
    }
    const { status, html, data } = page;
    assert.equal(status, 200);
    assert.equal(data.companionDown, false);
    assert.equal(data.user, 'alice');
    assert.equal(data.server, '');
    assert.deepEqual(
      data.options.images.map(i => [i.name, i.tags.map(t => t.tag)]),
      [[IMAGE, ['2026-12-01', '2026-11-01']]]
    );
    assert.deepEqual(data.options.cpu, { min: 0.5, max: 2, step: 0.5, default: 1 });
    assert.ok(data.options.gpus.some(g => g.migProfiles.includes('1g.10gb')));
    // alice is a student: the shared volume, read-only
    assert.deepEqual(
      data.options.storage.volumes.map(v => [v.name, v.access]),
      [['shared', 'ro']]
    );
    assert.equal(data.last, null);
    assert.equal(data.rateCard?.currency, 'CZK');
    assert.equal(typeof data.rateCard?.cpuCoreHour, 'number');
    const mig = data.gpus?.migProfiles.find(p => p.profile === '1g.10gb');
    assert.deepEqual(mig && [mig.free, mig.simulated], [7, true]);
    // The page's script and stylesheet are in the page itself, after its data.
    const bundle = readFileSync(BUNDLE, 'utf8');
    assert.ok(html.includes(bundle.slice(0, 300)), 'the spawn page bundle is not inlined');
    assert.match(html, /<style>[^<]*\.hs-Spawn/);
    assert.match(html, /<div id="hotstepper-spawn"/);
    assert.match(html, /<form[^>]*id="spawn_form"/);
    // Before the script runs, the page says what it does (the bundle holds the other notice).
    assert.match(
      html,
      /<div id="hotstepper-spawn"[^>]*>.*<p>Loading the server options…<\/p><\/div>/s
    );
  });

  it('shows a refused spawn with the companion sentence and starts nothing', async () => {
    const { html } = await spawnPage(cookie, 'alice');
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(action, 'the spawn form has no action');
    const form = new FormData();
    form.append('image', 'docker.io/library/ubuntu:24.04');
    form.append('cpu', '64');
    form.append('memory', '1');
    form.append('home', 'keep');
    const res = await fetch(new URL(action, hub.url), {
      method: 'POST',
      headers: { cookie },
      body: form,
      redirect: 'manual'
    });
    const page = await res.text();
    assert.equal(res.status, 500, page.slice(0, 500));
    assert.match(page, /The server cannot start with these options\./);
    assert.match(page, /The image docker\.io\/library\/ubuntu:24\.04 is not in the catalogue/);
    assert.match(page, /CPU must be between 0\.5 and 2 cores; 64 is outside\./);
    // The form is there again, to correct the choice.
    assert.match(page, /id="hotstepper-spawn-data"/);
    const pods = await cluster.kc
      .makeApiClient(CoreV1Api)
      .listPodForAllNamespaces({ labelSelector: 'component=singleuser-server' });
    assert.deepEqual(
      pods.items.map(p => p.metadata?.name),
      []
    );
  });

  it('renders with the spawner defaults and says so when the companion is down', async () => {
    await companion.close();
    const { status, html, data } = await spawnPage(cookie, 'alice');
    assert.equal(status, 200);
    assert.equal(data.companionDown, true);
    // the fixture's configured image, "unset" (the companion's check sets it), as :latest
    assert.deepEqual(
      data.options.images.map(i => [i.name, i.tags.map(t => t.tag)]),
      [['unset', ['latest']]]
    );
    assert.equal(data.rateCard, null);
    assert.equal(data.gpus, null);
    assert.match(
      html,
      /<div id="hotstepper-spawn"[^>]*>.*<p>Hotstepper's options are unavailable right now; you can start with the defaults\.<\/p><\/div>/s
    );
    assert.ok(html.includes(readFileSync(BUNDLE, 'utf8').slice(0, 300)));
  });
});
