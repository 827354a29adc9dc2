// The spawn page with 1,000 images in the catalogue: page ready (navigation start to the image list
// rendered and its handlers bound, painted) and search latency per keystroke (keydown to the
// filtered list painted), against JupyterHub's plain spawn page for the same catalogue measured in
// the same run: KubeSpawner's profile_list form (its own form.html, rendered by its own
// _render_options_form) with one profile per image and its tags as a profile option, and for search
// the floor: a plain `input` listener hiding the rows that do not match, over the same rows' text.
// Both forms are rendered by Python (hotstepper.spawnform.render and KubeSpawner's renderer, from
// the venv of dev/env.sh), served by a node:http server inside the same page (the hub's
// #spawn_form with jQuery, as its page.html loads it) and loaded in Debian's Chromium. No hub needed.
// Run from the repo root: node --import tsx ui-tests/bench/spawn-page.mjs
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../chromium.ts';

const root = new URL('../..', import.meta.url).pathname;
const IMAGES = Number(process.env.BENCH_IMAGES ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10); // each types QUERY: 6 keystrokes
const QUERY = 'tensor';

// ---- the catalogue, in the shape of schema/resources/spawn-options.json
const KEYWORDS = [
  'numpy',
  'pandas',
  'scipy',
  'matplotlib',
  'scikit-learn',
  'torch',
  'tensorflow',
  'jax',
  'xgboost',
  'polars',
  'dask',
  'ray',
  'spark',
  'duckdb',
  'tidyverse',
  'shiny',
  'cuda',
  'opencv',
  'transformers',
  'keras',
  'statsmodels',
  'seaborn',
  'plotly',
  'bokeh',
  'geopandas',
  'rapids',
  'mlflow',
  'optuna',
  'lightgbm',
  'sympy'
];
const CATEGORIES = ['Python', 'R', 'Julia', 'GPU', 'Data engineering', 'Teaching'];
const TEAMS = ['physics', 'biology', 'finance', 'teaching', 'platform', 'vision', 'nlp', 'geo'];
const FLAVOURS = ['notebook', 'scipy', 'datascience', 'deeplearning', 'rstudio', 'minimal'];

function catalogue(n) {
  const day = i => new Date(Date.UTC(2026, 11, 1) - i * 86_400_000).toISOString().slice(0, 10);
  return Array.from({ length: n }, (_, i) => {
    const category = CATEGORIES[i % CATEGORIES.length];
    const team = TEAMS[(i * 7) % TEAMS.length];
    const flavour = FLAVOURS[(i * 5) % FLAVOURS.length];
    const keywords = [0, 1, 2, 3].map(k => KEYWORDS[(i * 13 + k * 7) % KEYWORDS.length]);
    return {
      name: `registry.example.org/${team}/${flavour}-${i}`,
      description: `${flavour} environment of the ${team} group, ${category.toLowerCase()} work`,
      category,
      keywords,
      tags: [0, 1, 2].map(t => ({ tag: day((i % 30) + t * 30), date: day((i % 30) + t * 30) }))
    };
  });
}

const images = catalogue(IMAGES);
const first = `${images[0].name}:${images[0].tags[0].tag}`;
const data = {
  user: 'bench',
  server: '',
  companionDown: false,
  options: {
    images,
    customImages: { allowed: true, pattern: 'registry\\.example\\.org/.+:.+' },
    cpu: { min: 0.5, max: 16, step: 0.5, default: 1 },
    memory: { min: 1, max: 64, step: 1, default: 2 },
    gpus: [
      {
        model: 'NVIDIA-A100-SXM4-80GB',
        label: 'NVIDIA A100 80 GB',
        migProfiles: ['1g.10gb'],
        simulated: false
      }
    ],
    storage: {
      home: ['keep', 'fresh'],
      volumes: [{ name: 'shared', label: 'Shared data', mountPath: '/shared', access: 'ro' }]
    },
    maxServers: 2,
    presets: [{ name: 'light', label: 'Light', description: '', request: { cpu: 0.5 } }],
    defaults: { image: first, cpu: 1, memory: 2, home: 'keep', volumes: [] }
  },
  last: null,
  rateCard: {
    currency: 'CZK',
    charge: 'requests',
    cpuCoreHour: 2,
    memoryGibHour: 0.5,
    gpuHour: { default: 40 },
    migHour: { default: 6 }
  },
  gpus: null,
  notices: []
};
// What the page's search matches (packages/spawn/src/model.ts `matches`), for the plain filter
// and to check both pages show the same rows.
const texts = images.map(im =>
  [im.name, im.description, im.category, ...im.keywords, ...im.tags.map(t => t.tag)]
    .join(' ')
    .toLowerCase()
);
const expected = q => {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return texts.filter(t => words.every(w => t.includes(w))).length;
};

// ---- both forms, each by its own renderer
const PY = `
import json, sys, types
from hotstepper.spawnform import render, assets
from kubespawner import KubeSpawner
data = json.load(sys.stdin)
if not assets()[0]:
    sys.exit("the spawn page is not built (jupyter/hotstepper/static/dist/spawn.js)")
profiles = [
    {
        "display_name": im["name"],
        "description": im["description"] + " · " + ", ".join(im["keywords"]),
        "profile_options": {
            "tag": {
                "display_name": "Tag",
                "choices": {
                    t["tag"]: {
                        "display_name": f"{t['tag']} ({t['date']})",
                        "kubespawner_override": {"image": f"{im['name']}:{t['tag']}"},
                    }
                    for t in im["tags"]
                },
            }
        },
    }
    for im in data["options"]["images"]
]
# KubeSpawner's own renderer, on a stand-in for a configured spawner (no Kubernetes client needed).
ks = types.SimpleNamespace(user_options={}, additional_profile_form_template_paths=[], profile_form_template="")
ks._get_initialized_profile_list = lambda pl: KubeSpawner._get_initialized_profile_list(ks, pl)
json.dump({"ours": render(data), "kubespawner": KubeSpawner._render_options_form(ks, profiles), "prefix": sys.prefix}, sys.stdout)
`;
const py = spawnSync('bash', ['-c', 'source dev/env.sh && exec python3 -c "$0"', PY], {
  cwd: root,
  input: JSON.stringify(data),
  env: { ...process.env, PYTHONPATH: `${root}jupyter` },
  maxBuffer: 1 << 30
});
if (py.status !== 0) throw new Error(`rendering the forms failed: ${py.stderr}`);
const forms = JSON.parse(py.stdout);
const jquery = readFileSync(
  `${forms.prefix}/share/jupyterhub/static/components/jquery/dist/jquery.min.js`
);

// The hub's spawn.html around the form, trimmed to what both need: jQuery (page.html loads it on
// every page, and KubeSpawner's form script uses it), #spawn_form and its Start button. A jQuery
// ready handler queued after the form's own says when KubeSpawner's form script has run.
const page = (form, ready) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Spawn</title><script src="/jquery.min.js"></script></head>
<body><div class="container"><h1>Server Options</h1>
<form enctype="multipart/form-data" id="spawn_form" action="/start" method="post" role="form">
${form}
<br><div class="feedback-container"><input type="submit" value="Start" class="btn btn-jupyter form-control"></div>
</form></div>${ready}</body></html>`;
const pages = {
  '/ours': page(forms.ours, ''),
  '/kubespawner': page(
    forms.kubespawner,
    '<script>$(() => { window.benchReady = true; });</script>'
  )
};
const server = createServer((req, res) => {
  if (req.url === '/jquery.min.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(jquery);
  } else if (req.url === '/favicon.ico') {
    res.writeHead(204).end();
  } else if (pages[req.url]) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pages[req.url]);
  } else {
    res.writeHead(404).end();
  }
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- what each page is: its ready signal, its rows, its search box
const kinds = {
  ours: {
    url: `${base}/ours`,
    // The bundle's _filter writes the count last thing in rendering the list.
    ready: "!!document.getElementById('hs-spawn-search-count')?.textContent",
    rows: '#hs-spawn-images .hs-Spawn-image[data-index]',
    shown: '#hs-spawn-images .hs-Spawn-image[data-index]:not([hidden])',
    search: '#hs-spawn-search'
  },
  kubespawner: {
    url: `${base}/kubespawner`,
    ready: 'window.benchReady === true',
    rows: '#kubespawner-profiles-list input[type=radio]',
    shown: '#kubespawner-profiles-list > label.profile:not([style*="none"])',
    search: '#bench-search'
  }
};

// In every page from its first script: once `ready` holds (checked each frame), the time after
// the next frame is painted, from navigation start. "After paint": a requestAnimationFrame
// callback, then a task posted from it, which runs once that frame's rendering is done.
const initScript = ready => `
window.benchAfterPaint = fn => requestAnimationFrame(() => {
  const ch = new MessageChannel();
  ch.port1.onmessage = () => fn(performance.now());
  ch.port2.postMessage(0);
});
window.benchReadyAt = new Promise(resolve => {
  const tick = () =>
    document.readyState !== 'loading' && (${ready}) ? benchAfterPaint(resolve) : requestAnimationFrame(tick);
  requestAnimationFrame(tick);
});`;

const errors = [];
async function open(browser, kind) {
  const context = await browser.newContext();
  await context.addInitScript({ content: initScript(kinds[kind].ready) });
  const p = await context.newPage();
  p.on('pageerror', err => errors.push(`${kind}: ${err.message}`));
  p.on('console', m => m.type() === 'error' && errors.push(`${kind}: ${m.text()}`));
  await p.goto(kinds[kind].url);
  const ms = await p.evaluate(() => window.benchReadyAt);
  const rows = await p.locator(kinds[kind].rows).count();
  if (rows !== IMAGES) throw new Error(`${kind}: ${rows} image rows, not ${IMAGES}`);
  return { context, page: p, ms };
}

async function loadOnce(browser, kind) {
  const { context, ms } = await open(browser, kind);
  await context.close();
  return ms;
}

// Keydown (its event time) to the filtered list painted, for each keystroke.
async function typing(p, kind, rounds) {
  const done = await p.evaluate(() => window.benchKeys?.length);
  if (done === undefined) await setUp(p, kind);
  const box = p.locator(kinds[kind].search);
  const shown = [];
  for (let r = 0; r < rounds; r++) {
    await box.fill('');
    await p.evaluate(() => new Promise(resolve => window.benchAfterPaint(resolve)));
    await box.focus();
    for (let c = 1; c <= QUERY.length; c++) {
      await p.keyboard.press(QUERY[c - 1]);
      const n = (done ?? 0) + r * QUERY.length + c;
      await p.evaluate(
        n =>
          new Promise(resolve => {
            const check = () => (window.benchKeys.length >= n ? resolve() : setTimeout(check, 5));
            check();
          }),
        n
      );
      // What each page shows after each keystroke (read after the measurement).
      if (r === 0) shown.push(await p.locator(kinds[kind].shown).count());
    }
  }
  const want = [...QUERY].map((_, c) => expected(QUERY.slice(0, c + 1)));
  if (JSON.stringify(shown) !== JSON.stringify(want)) {
    throw new Error(`${kind}: rows shown while typing ${shown}, expected ${want}`);
  }
  return (await p.evaluate(() => window.benchKeys)).slice(done ?? 0);
}

async function setUp(p, kind) {
  if (kind === 'kubespawner') {
    // The floor: a search box and a plain input listener over KubeSpawner's rows, matching the
    // same text as ours (name, description, category, keywords, tags).
    await p.evaluate(texts => {
      const rows = [...document.querySelectorAll('#kubespawner-profiles-list > label.profile')];
      const box = document.createElement('input');
      box.type = 'search';
      box.id = 'bench-search';
      document.getElementById('kubespawner-profiles-list').before(box);
      box.addEventListener('input', () => {
        const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
        rows.forEach((row, i) => {
          // .profile is display: flex, which the hidden attribute does not override
          row.style.display = words.every(w => texts[i].includes(w)) ? '' : 'none';
        });
      });
    }, texts);
  }
  await p.evaluate(sel => {
    window.benchKeys = [];
    document.querySelector(sel).addEventListener(
      'keydown',
      e => {
        // Only the query's characters (clearing the box between rounds is not measured).
        if (e.key.length !== 1) return;
        const t0 = e.timeStamp;
        window.benchAfterPaint(t => window.benchKeys.push(t - t0));
      },
      { capture: true }
    );
  }, kinds[kind].search);
}

const pct = (xs, q) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const r1 = x => Math.round(x * 10) / 10;

let browser;
try {
  browser = await chromium.launch(chromiumLaunchOptions);
  await loadOnce(browser, 'ours'); // warm-up loads, not counted
  await loadOnce(browser, 'kubespawner');
  const ready = { ours: [], kubespawner: [] };
  for (let i = 0; i < RUNS; i++) {
    ready.ours.push(await loadOnce(browser, 'ours'));
    ready.kubespawner.push(await loadOnce(browser, 'kubespawner'));
  }
  // Typing, alternating the two pages by halves of the rounds.
  const keys = { ours: [], kubespawner: [] };
  const open2 = {
    ours: await open(browser, 'ours'),
    kubespawner: await open(browser, 'kubespawner')
  };
  for (const [kind, rounds] of [
    ['ours', Math.ceil(ROUNDS / 2)],
    ['kubespawner', Math.ceil(ROUNDS / 2)],
    ['ours', Math.floor(ROUNDS / 2)],
    ['kubespawner', Math.floor(ROUNDS / 2)]
  ]) {
    if (!rounds) continue;
    await open2[kind].page.bringToFront();
    keys[kind].push(...(await typing(open2[kind].page, kind, rounds)));
  }
  for (const o of Object.values(open2)) await o.context.close();
  if (errors.length) throw new Error(`errors in the pages:\n${errors.join('\n')}`);

  const sizes = {
    ours: Buffer.byteLength(pages['/ours']),
    kubespawner: Buffer.byteLength(pages['/kubespawner'])
  };
  const n = IMAGES.toLocaleString('en');
  console.log(
    `\nspawn page, ${n} images (page ready: ${RUNS} loads each, fresh context; ` +
      `search: "${QUERY}" typed ${ROUNDS} times, ${keys.ours.length} keystrokes each; ms)`
  );
  console.table([
    {
      page: 'Hotstepper spawn page',
      'HTML kB': r1(sizes.ours / 1024),
      'ready p50': r1(pct(ready.ours, 0.5)),
      'ready min': r1(Math.min(...ready.ours)),
      'key p50': r1(pct(keys.ours, 0.5)),
      'key p95': r1(pct(keys.ours, 0.95))
    },
    {
      page: 'KubeSpawner profile form (+ plain filter)',
      'HTML kB': r1(sizes.kubespawner / 1024),
      'ready p50': r1(pct(ready.kubespawner, 0.5)),
      'ready min': r1(Math.min(...ready.kubespawner)),
      'key p50': r1(pct(keys.kubespawner, 0.5)),
      'key p95': r1(pct(keys.kubespawner, 0.95))
    }
  ]);
  const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
  console.log(
    `spawn page ready (${n} images): p50 ${r1(pct(ready.ours, 0.5))} ms vs KubeSpawner profile ` +
      `form ${r1(pct(ready.kubespawner, 0.5))} ms ` +
      `(${ratio(pct(ready.ours, 0.5), pct(ready.kubespawner, 0.5))})`
  );
  console.log(
    `search per keystroke: p50 ${r1(pct(keys.ours, 0.5))} ms p95 ${r1(pct(keys.ours, 0.95))} ms ` +
      `vs plain filter p50 ${r1(pct(keys.kubespawner, 0.5))} ms p95 ` +
      `${r1(pct(keys.kubespawner, 0.95))} ms (p50 ${ratio(pct(keys.ours, 0.5), pct(keys.kubespawner, 0.5))}, ` +
      `p95 ${ratio(pct(keys.ours, 0.95), pct(keys.kubespawner, 0.95))})`
  );
} finally {
  await browser?.close();
  server.close();
}
