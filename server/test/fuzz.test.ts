/**
 * The schema fuzz run: schemathesis (from PyPI, in its own cached venv: dev/fuzz/venv.sh) reads
 * the OpenAPI document the companion serves and sends generated requests, valid and invalid, to
 * every operation as alice (a student) and to the operator operations as carol (an operator),
 * each with a real hub token, over a real loopback socket. Bounded: a fixed number of examples
 * per operation, a fixed seed (the same requests each run), one worker, and a wall-clock limit
 * after which the run is killed and the test fails. Passes when schemathesis exits 0: no 5xx
 * (but the documented 503s of dev/fuzz/schemathesis.toml), every status, content type and body
 * as the contract says, invalid input refused, and no operation served without the token.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { operations } from '@hotstepper/schema';
import { api } from '@hotstepper/schema/json';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { graderPython } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { freePort } from './helpers/ports.js';
import { accountsPapermill, testHomes } from './helpers/unix-accounts.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Requests per operation and phase. */
const MAX_EXAMPLES = Number(process.env.HOTSTEPPER_FUZZ_EXAMPLES ?? 20);
/** The same run every time; set another to explore. */
const SEED = process.env.HOTSTEPPER_FUZZ_SEED ?? '20261207';
/** The whole schemathesis run, after which it is killed and the test fails. */
const LIMIT_SECONDS = Number(process.env.HOTSTEPPER_FUZZ_SECONDS ?? 300);

let hub: IHub;
let app: FastifyInstance;
let base: string;
const tokens: Record<string, string> = {};
let venv: string;

before(async () => {
  // Built once and cached by the hash of dev/fuzz/requirements.txt; quiet when it is.
  venv = execFileSync('bash', [join(ROOT, 'dev', 'fuzz', 'venv.sh')], {
    timeout: 600_000,
    stdio: ['ignore', 'pipe', 'inherit']
  })
    .toString()
    .trim();
  hub = await startHub();
  // alice studies; carol is an operator (the fixture hub's hotstepper-admins group).
  for (const user of ['alice', 'carol']) tokens[user] = (await hub.createToken(user)).token;
  const dir = mkdtempSync(join(tmpdir(), 'hs-fuzz-'));
  mkdirSync(join(dir, 'home', 'alice'), { recursive: true });
  const defaults = testConfig();
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      flare: {
        hubUrl: hub.url,
        gateway: {
          ...defaults.flare.gateway,
          host: '127.0.0.1',
          port: await freePort(),
          target: 'loopback',
          appHost: '127.0.0.1'
        }
      },
      // Every feature on that needs nothing but files, so all of the contract is served.
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'home', '{user}'),
        concurrency: 1
      },
      jobs: {
        ...defaults.jobs,
        local: {
          ...defaults.jobs.local,
          homeRoot: testHomes(['alice']),
          papermill: accountsPapermill(),
          logDir: join(dir, 'logs'),
          killGraceSeconds: 1
        }
      }
    })
  );
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await app?.close();
  await hub?.stop();
});

const operatorOperations = Object.keys(operations).filter(
  id =>
    (api.operations as Record<string, Record<string, unknown>>)[id]['x-hotstepper-access'] ===
    'operator'
);

/** One bounded schemathesis run as `user`; the operations: all, or those of `only`. */
async function fuzz(user: string, only?: string[]): Promise<void> {
  const token = tokens[user];
  const reports = mkdtempSync(join(tmpdir(), 'hs-fuzz-report-'));
  const args = [
    '--config-file',
    join(ROOT, 'dev', 'fuzz', 'schemathesis.toml'),
    'run',
    `${base}/api/docs/json`,
    '--url',
    base,
    '--checks',
    'all',
    '--header',
    `Authorization: token ${token}`,
    '--max-examples',
    String(MAX_EXAMPLES),
    '--seed',
    SEED,
    '--workers',
    '1',
    '--phases',
    'examples,coverage,fuzzing',
    // Hypothesis' health checks judge the generator (too slow on a busy machine, too many
    // examples filtered), not the API: a run stays bounded by the counts and the clock.
    '--suppress-health-check',
    'all',
    // The token is the user's, not something to generate.
    '--generation-with-security-parameters',
    'false',
    '--generation-database',
    'none',
    '--request-timeout',
    '15',
    '--no-color',
    '--report',
    'junit',
    '--report-dir',
    reports
  ];
  if (only) args.push('--include-operation-id-regex', `^(${only.join('|')})$`);
  // To look at a few operations closely: HOTSTEPPER_FUZZ_PATHS=<regex of paths>.
  if (process.env.HOTSTEPPER_FUZZ_PATHS) {
    args.push('--include-path-regex', process.env.HOTSTEPPER_FUZZ_PATHS);
  }
  const child = spawn(join(venv, 'bin', 'schemathesis'), args, {
    cwd: reports,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Loopback only: no proxy stands between schemathesis and the companion.
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(https?|all)_proxy$/i.test(k))
      ),
      NO_PROXY: '127.0.0.1,localhost',
      NO_COLOR: '1'
    }
  });
  let output = '';
  child.stdout.on('data', d => (output += d));
  child.stderr.on('data', d => (output += d));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, LIMIT_SECONDS * 1000);
  const code = await new Promise<number | null>(resolve => child.once('exit', c => resolve(c)));
  clearTimeout(timer);
  // The token is for this run only, but it still has no place in a test log.
  const log = output.replaceAll(token, '<token>');
  writeFileSync(join(reports, 'schemathesis.log'), log);
  assert.ok(
    !killed,
    `schemathesis ran over ${LIMIT_SECONDS} s and was killed:\n${log.slice(-6000)}`
  );
  assert.equal(
    code,
    0,
    `schemathesis found problems (whole log: ${reports}/schemathesis.log):\n${log.slice(-20000)}`
  );
  // Every operation asked for was tried (unless narrowed by hand).
  if (!process.env.HOTSTEPPER_FUZZ_PATHS) {
    const tested = /^\s*Tested:\s*(\d+)\s*$/m.exec(log)?.[1];
    const expected = only ? only.length : Object.keys(operations).length;
    assert.equal(Number(tested), expected, log.slice(-3000));
  }
  rmSync(reports, { recursive: true, force: true });
}

describe('schema fuzz run', () => {
  const timeout = (LIMIT_SECONDS + 60) * 1000;

  it('as a student, every operation: no 5xx, no departure from the contract', { timeout }, () =>
    fuzz('alice')
  );

  it(
    'as an operator, the operator operations: no 5xx, no departure from the contract',
    { timeout },
    () => {
      assert.ok(operatorOperations.length >= 5, `operator operations: ${operatorOperations}`);
      return fuzz('carol', operatorOperations);
    }
  );
});
