// Jobs: submit latency (POST /api/v1/jobs to the Kubernetes Job created, against creating the same
// Job straight at the API server), list latency with 1,000 jobs for one user among 100,000 (against
// a bare fastify route), and log streaming (throughput and first-line latency of the SSE route,
// against reading the same file directly). All in the same run. Expects the platform started by
// dev/bench.sh (its JupyterHub identifies the caller, its control plane runs the Jobs).
// Run from the repo root after `npm run build -w server`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';

const dist = new URL('../dist/', import.meta.url);
const { buildApp } = await import(new URL('app.js', dist));
const { validateConfig } = await import(new URL('platform/config.js', dist));
const { createTransport } = await import(new URL('platform/kubernetes/transport.js', dist));
const { loadKubeConfig } = await import(new URL('platform/kubernetes/client.js', dist));

const state = process.env.HOTSTEPPER_STATE;
const hubApi = `http://127.0.0.1:${process.env.HOTSTEPPER_HUB_API_PORT}/hub/api`;
const kubeconfig = join(state, 'k8s', 'kubeconfig');
const SUBMITS = Number(process.env.BENCH_JOB_SUBMITS ?? 60);
const LIST_REQUESTS = Number(process.env.BENCH_LIST_REQUESTS ?? 300);
const LOG_LINES = Number(process.env.BENCH_LOG_LINES ?? 200_000);
// The local executor runs alice's jobs as a Unix account of her own (as the server tests do).
const ACCOUNT = 'hst-{username}';
if (spawnSync('getent', ['passwd', 'hst-alice']).status !== 0) {
  execFileSync('useradd', [
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    'hst-alice'
  ]);
}
const log = (...a) => console.error(`[jobs ${new Date().toISOString().slice(11, 19)}]`, ...a);

async function userToken(name) {
  const dev = readFileSync(join(state, 'dev-hub-token'), 'utf8').trim();
  const res = await fetch(`${hubApi}/users/${name}/tokens`, {
    method: 'POST',
    headers: { Authorization: `token ${dev}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: 'bench', expires_in: 3600 })
  });
  if (!res.ok) throw new Error(`could not mint a token for ${name}: ${res.status}`);
  return (await res.json()).token;
}

const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const ms = n => `${n.toFixed(1)} ms`;

async function companion(dir, executor) {
  const app = await buildApp(
    validateConfig({
      log: { level: 'error' },
      database: { path: join(dir, 'bench.sqlite') },
      jupyterhub: { apiUrl: hubApi },
      kubernetes: {
        kubeconfig,
        tenancy: {
          quota: {
            'requests.cpu': '100000',
            'requests.memory': '100000Gi',
            'count/jobs.batch': '100000'
          }
        }
      },
      // Another feature's listener, moved off its default port so it cannot collide.
      flare: { gateway: { port: 0 } },
      jobs: {
        executor,
        images: ['bench/image:1'],
        local: { account: ACCOUNT, homeRoot: dir, logDir: join(dir, 'logs') },
        // The bench submits far more jobs than a user may have active at once (429 over the cap).
        caps: { activeJobsPerUser: 1000 }
      }
    })
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${app.server.address().port}` };
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const token = await userToken('alice');
const headers = { authorization: `token ${token}`, 'content-type': 'application/json' };

// ---- 1. submit latency (Kubernetes executor) vs the same Job created directly
{
  log('submit latency');
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-jobs-'));
  const { app, url } = await companion(dir, 'kubernetes');
  const spec = {
    command: ['python', 'train.py'],
    image: 'bench/image:1',
    cpu: 0.1,
    memoryMiB: 128
  };
  // Warm: the namespace is set up and the identity cached on the first request.
  const first = await fetch(`${url}/api/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(spec)
  });
  if (first.status !== 201) throw new Error(`submit: ${first.status} ${await first.text()}`);
  const namespace = (await first.json()).kubernetes.namespace;
  const ours = [];
  for (let i = 0; i < SUBMITS; i++) {
    ours.push(
      await timed(async () => {
        const res = await fetch(`${url}/api/v1/jobs`, {
          method: 'POST',
          headers,
          body: JSON.stringify(spec)
        });
        if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      })
    );
  }
  const transport = createTransport(loadKubeConfig({ kubeconfig }));
  const direct = [];
  for (let i = 0; i < SUBMITS; i++) {
    direct.push(
      await timed(() =>
        transport.request('POST', `/apis/batch/v1/namespaces/${namespace}/jobs`, {
          metadata: { name: `bench-direct-${i}`, labels: { bench: 'jobs' } },
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: 'Never',
                containers: [
                  { name: 'job', image: 'bench/image:1', command: ['python', 'train.py'] }
                ]
              }
            }
          }
        })
      )
    );
  }
  transport.close();
  console.log(
    `jobs submit (POST /api/v1/jobs -> Job created, n=${SUBMITS}): p50 ${ms(pct(ours, 50))}, p99 ${ms(pct(ours, 99))}; ` +
      `Job created directly at the API server: p50 ${ms(pct(direct, 50))}, p99 ${ms(pct(direct, 99))}; ` +
      `ratio p50 ${(pct(ours, 50) / pct(direct, 50)).toFixed(2)}x`
  );
  await app.close();
}

// ---- 2. list latency: 1,000 jobs for alice among 100,000, against a bare fastify route
{
  log('list latency (seeding 100,000 jobs)');
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-jobs-'));
  const { app, url } = await companion(dir, 'local');
  const db = new SQLite(join(dir, 'bench.sqlite'));
  const insert = db.prepare(
    `insert into jobs (id, user_name, name, state, executor, spec, secret_env_names, created_at,
      started_at, finished_at, exit_code, message, output, unseen, runtime)
     values (?, ?, ?, ?, 'local', ?, '[]', ?, ?, ?, 0, null, null, 0, '{}')`
  );
  const spec = JSON.stringify({
    command: ['python', 'train.py'],
    cpu: 1,
    memoryMiB: 2048,
    timeLimitSeconds: 3600,
    env: {},
    name: 'train'
  });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  db.transaction(() => {
    for (let i = 0; i < 100_000; i++) {
      const user = i % 100 === 0 ? 'alice' : `user${i % 997}`;
      const at = new Date(t0 + i * 1000).toISOString();
      insert.run(
        `jbench${i.toString(36)}`,
        user,
        'train',
        'succeeded',
        spec,
        at,
        at,
        new Date(t0 + i * 1000 + 60_000).toISOString()
      );
    }
  })();
  db.close();
  const bare = Fastify({ logger: false });
  const body = { items: [], next: null, unseen: 0 };
  bare.get('/api/v1/jobs', async () => body);
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = `http://127.0.0.1:${bare.server.address().port}/api/v1/jobs`;
  const measure = async target => {
    const times = [];
    for (let i = 0; i < LIST_REQUESTS; i++) {
      times.push(await timed(async () => (await fetch(target, { headers })).arrayBuffer()));
    }
    return times;
  };
  await measure(`${url}/api/v1/jobs?limit=50`);
  const page1 = await measure(`${url}/api/v1/jobs?limit=50`);
  // A page deep in the list, through the cursor.
  let cursor = null;
  for (let i = 0; i < 10; i++) {
    const res = await (
      await fetch(`${url}/api/v1/jobs?limit=50${cursor ? `&cursor=${cursor}` : ''}`, { headers })
    ).json();
    cursor = res.next;
  }
  const deep = await measure(`${url}/api/v1/jobs?limit=50&cursor=${cursor}`);
  const baseline = await measure(bareUrl);
  console.log(
    `jobs list (50 of alice's 1,000 among 100,000 jobs, n=${LIST_REQUESTS}): page 1 p50 ${ms(pct(page1, 50))}, p99 ${ms(pct(page1, 99))}; ` +
      `page 11 p50 ${ms(pct(deep, 50))}; bare fastify route p50 ${ms(pct(baseline, 50))}; ` +
      `ratio p50 ${(pct(page1, 50) / pct(baseline, 50)).toFixed(2)}x`
  );
  await bare.close();

  // ---- 3. log streaming (local executor): throughput and first-line latency
  const res = await fetch(`${url}/api/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ command: ['seq', '1', String(LOG_LINES)] })
  });
  const job = await res.json();
  let lines = 0;
  const read = await timed(async () => {
    const stream = await fetch(`${url}/api/v1/jobs/${job.id}/logs`, {
      headers: { ...headers, accept: 'text/event-stream' }
    });
    const text = await stream.text();
    lines = text.split('\nevent: line\n').length - 1;
  });
  if (lines !== LOG_LINES) throw new Error(`streamed ${lines} lines, expected ${LOG_LINES}`);
  const file = join(dir, 'logs', job.id, 'output.log');
  const bytes = statSync(file).size;
  const raw = await timed(async () => {
    const handle = await open(file);
    let n = 0;
    for await (const line of handle.readLines()) if (line !== undefined) n++;
    if (n !== LOG_LINES) throw new Error(`read ${n}`);
  });
  console.log(
    `jobs log stream (${LOG_LINES} lines, ${(bytes / 1e6).toFixed(1)} MB, SSE through the companion): ${(lines / (read / 1000)).toFixed(0)} lines/s; ` +
      `reading the file directly: ${(LOG_LINES / (raw / 1000)).toFixed(0)} lines/s; ratio ${(read / raw).toFixed(1)}x the time`
  );

  // First line: the job prints its own clock; we note when the line arrives through SSE, and,
  // as the baseline, when an fs.watch on the same file sees it.
  const firsts = [];
  const watched = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${url}/api/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        command: ['node', '-e', 'setTimeout(() => console.log(Date.now()), 400)']
      })
    });
    const j = await r.json();
    const path = join(dir, 'logs', j.id, 'output.log');
    const seenByWatch = new Promise(resolve => {
      const w = watch(path, () => {
        const text = readFileSync(path, 'utf8');
        if (text.includes('\n')) {
          w.close();
          resolve(Date.now() - Number(text.trim()));
        }
      });
    });
    const stream = await fetch(`${url}/api/v1/jobs/${j.id}/logs`, {
      headers: { ...headers, accept: 'text/event-stream' }
    });
    const reader = stream.body.getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      const m = /event: line\ndata: (\d+)\n/.exec(buffer);
      if (m) {
        firsts.push(Date.now() - Number(m[1]));
        await reader.cancel();
        break;
      }
    }
    watched.push(await seenByWatch);
  }
  console.log(
    `jobs log first line (n=10): p50 ${ms(pct(firsts, 50))}, max ${ms(Math.max(...firsts))} through SSE; ` +
      `fs.watch on the file: p50 ${ms(pct(watched, 50))}; difference p50 ${ms(pct(firsts, 50) - pct(watched, 50))} (the route polls every 100 ms)`
  );
  await app.close();
}
process.exit(0);
