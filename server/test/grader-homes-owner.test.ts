/**
 * Students' homes as pod volumes: grader.homes with `{namespace}`, and grader.homesOwner. The
 * companion runs as root; what fetch, submit and fetch-feedback create in a home must belong to
 * the student's server (uid 1000, gid 100) so it can edit it, what was already there keeps its
 * owner, no planted link is followed (nor chowned through), and a home the student's server has
 * not made yet is not made by root. Real nbgrader and a real JupyterHub.
 */
import assert from 'node:assert/strict';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { homesOwnerOf } from '../src/features/grader/config.js';
import { grader } from '../src/features/grader/index.js';
import { ConfigError, loadConfig, validateConfig } from '../src/platform/config.js';
import { namespaceName } from '../src/platform/kubernetes/namespaces.js';
import { answer, graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';

describe('grader.homesOwner in the configuration', () => {
  it('reads HOTSTEPPER_GRADER_HOMES_OWNER as uid:gid, and names the variable when it is not', () => {
    const config = loadConfig([], { HOTSTEPPER_GRADER_HOMES_OWNER: '1000:100' });
    assert.deepEqual(homesOwnerOf(config.grader), { uid: 1000, gid: 100 });
    assert.throws(
      () => loadConfig([], { HOTSTEPPER_GRADER_HOMES_OWNER: '1000' }),
      (err: Error) =>
        err instanceof ConfigError && /HOTSTEPPER_GRADER_HOMES_OWNER/.test(err.message)
    );
    assert.throws(() => validateConfig({ grader: { homesOwner: { uid: 1000 } } }), ConfigError);
    assert.throws(() => validateConfig({ grader: { homes: '/home/alice' } }), ConfigError);
    const homes = validateConfig({ grader: { homes: '/v/{namespace}/claim' } }).grader.homes;
    assert.equal(homes, '/v/{namespace}/claim');
  });
});

const COURSE = 'cs106';
const PREFIX = 'crs-';
const STUDENTS = ['s01', 's02', 's03', 'b.ob'];
const OWNER = { uid: 1000, gid: 100 };
let hub: IHub;
let app: FastifyInstance;
let dir: string;
const tokens: Record<string, string> = {};
/** Where local-path-provisioner puts claim-<user> in the user's namespace. */
const home = (user: string) => join(dir, 'volumes', namespaceName(PREFIX, user), `claim-${user}`);
const C = `/api/v1/grader/courses/${COURSE}`;
const my = (op: string) => `/api/v1/grader/my/courses/${COURSE}/assignments/ps1/${op}`;

async function call(user: string, method: string, url: string, body?: unknown) {
  return app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
}

function ok(res: LightMyRequestResponse, status = 200) {
  assert.equal(res.statusCode, status, res.body);
  return res.json();
}

function problem(res: LightMyRequestResponse, code: string) {
  assert.equal(res.statusCode, 409, res.body);
  const body = res.json() as { code: string; detail: string };
  assert.equal(body.code, code, res.body);
  assert.ok(!res.body.includes(dir), `a server path in ${res.body}`);
  return body.detail;
}

/** Every entry under root (not root itself), as "path uid:gid". */
function owners(root: string, rel = ''): string[] {
  return readdirSync(join(root, rel)).flatMap(name => {
    const path = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, path));
    return [`${path} ${st.uid}:${st.gid}`, ...(st.isDirectory() ? owners(root, path) : [])];
  });
}
const ownerOf = (path: string) => {
  const st = lstatSync(path);
  return `${st.uid}:${st.gid}`;
};

/** A home volume as local-path-provisioner makes it: root's, mode 0777. */
function volume(user: string) {
  mkdirSync(home(user), { recursive: true, mode: 0o777 });
}

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach6'], STUDENTS);
  for (const u of ['teach6', ...STUDENTS]) tokens[u] = (await hub.createToken(u)).token;
  dir = mkdtempSync(join(tmpdir(), 'hs-grader-owner-'));
  app = await buildApp(
    testConfig({
      jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
      kubernetes: { tenancy: { ...testConfig().kubernetes.tenancy, namespacePrefix: PREFIX } },
      grader: {
        python: graderPython(),
        coursesRoot: join(dir, 'courses'),
        exchangeRoot: join(dir, 'exchange'),
        homes: join(dir, 'volumes', '{namespace}', 'claim-{user}'),
        homesOwner: OWNER
      }
    }),
    { features: [grader] }
  );
  await app.ready();
  for (const [method, url, body] of [
    ['PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' }],
    ['PUT', `${C}/assignments/ps1/notebooks/problem1`, { content: notebook('ps1') }],
    ['POST', `${C}/assignments/ps1/generate`, undefined],
    ['POST', `${C}/assignments/ps1/release`, undefined]
  ] as const) {
    ok(await call('teach6', method, url, body));
  }
});
after(async () => {
  await app?.close();
  await hub?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('grader: homes as pod volumes, homesOwner 1000:100', { timeout: 300_000 }, () => {
  it('fetches and submits into claim-<user> in the namespace, all it creates owned by 1000:100', async () => {
    assert.equal(namespaceName(PREFIX, 's01'), 'crs-s01');
    volume('s01');
    ok(await call('s01', 'POST', my('fetch')));
    assert.ok(existsSync(join(dir, 'volumes', 'crs-s01', 'claim-s01', COURSE, 'ps1')));
    answer(home('s01'), COURSE, 'correct');
    ok(await call('s01', 'POST', my('submit')));
    const all = owners(home('s01'));
    // The folders, the notebook, and the submission cache nbgrader keeps in the home.
    for (const path of [COURSE, `${COURSE}/ps1`, `${COURSE}/ps1/problem1.ipynb`, '.local'])
      assert.ok(all.includes(`${path} 1000:100`), all.join('\n'));
    assert.ok(all.some(e => /^\.local\/share\/jupyter\/nbgrader_cache\/cs106\/s01\+ps1\+/.test(e)));
    assert.deepEqual(
      all.filter(e => !e.endsWith(' 1000:100')),
      [],
      'everything made in the home is the student server'
    );
    // The home is the volume's, as it was.
    assert.equal(ownerOf(home('s01')), '0:0');
  });

  it('expands {namespace} as the tenancy names it, for a hub name that is not a DNS label', async () => {
    assert.match(namespaceName(PREFIX, 'b.ob'), /^crs-b-ob--[0-9a-f]{8}$/);
    volume('b.ob');
    ok(await call('b.ob', 'POST', my('fetch')));
    assert.equal(ownerOf(join(home('b.ob'), COURSE, 'ps1', 'problem1.ipynb')), '1000:100');
  });

  it('overwrites fetched feedback and keeps the owner of what was there; a link there is refused', async () => {
    ok(await call('teach6', 'POST', `${C}/assignments/ps1/collect`));
    ok(await call('teach6', 'POST', `${C}/assignments/ps1/autograde`, { students: ['s01'] }), 202);
    for (const deadline = Date.now() + 180_000; ;) {
      const q = ok(await call('teach6', 'GET', `${C}/queue`)) as { units: { state: string }[] };
      if (q.units.every(u => u.state === 'done' || u.state === 'failed')) break;
      assert.ok(Date.now() < deadline, 'autograde did not finish in 180 s');
      await new Promise(r => setTimeout(r, 250));
    }
    ok(await call('teach6', 'POST', `${C}/assignments/ps1/feedback/generate`));
    ok(await call('teach6', 'POST', `${C}/assignments/ps1/feedback/release`));
    const first = ok(await call('s01', 'POST', my('fetch-feedback'))) as { files: string[] };
    assert.equal(first.files.length, 1, JSON.stringify(first));
    const html = join(home('s01'), first.files[0]);
    const stamp = join(html, '..');
    assert.equal(ownerOf(join(home('s01'), COURSE, 'ps1', 'feedback')), '1000:100');
    assert.equal(ownerOf(stamp), '1000:100');
    assert.equal(ownerOf(html), '1000:100');
    const feedback = readFileSync(html, 'utf8');

    // Someone else's file and folder there (another uid): overwritten, and still theirs.
    chownSync(stamp, 1234, 1234);
    chownSync(html, 1234, 1234);
    writeFileSync(html, 'edited');
    ok(await call('s01', 'POST', my('fetch-feedback')));
    assert.equal(readFileSync(html, 'utf8'), feedback);
    assert.equal(ownerOf(html), '1234:1234');
    assert.equal(ownerOf(stamp), '1234:1234');

    // A link in its place: refused, its target neither written nor given away.
    const target = join(dir, 'root-owned.txt');
    writeFileSync(target, 'the companion must not write or chown this');
    rmSync(html);
    symlinkSync(target, html);
    const rel = first.files[0];
    assert.ok(
      problem(await call('s01', 'POST', my('fetch-feedback')), 'unsafe_path').startsWith(
        `~/${rel} `
      )
    );
    assert.equal(readFileSync(target, 'utf8'), 'the companion must not write or chown this');
    assert.equal(ownerOf(target), '0:0');
  });

  it('refuses a linked course folder: nothing written or chowned where it points', async () => {
    volume('s02');
    const outside = join(dir, 'outside-s02');
    mkdirSync(outside);
    symlinkSync(outside, join(home('s02'), COURSE));
    const detail = problem(await call('s02', 'POST', my('fetch')), 'unsafe_path');
    assert.ok(detail.startsWith(`~/${COURSE} `), detail);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(ownerOf(outside), '0:0');
    assert.equal(ownerOf(join(home('s02'), COURSE)), '0:0');
  });

  it('answers home_not_ready, and makes no home, when the server never started', async () => {
    const detail = problem(await call('s03', 'POST', my('fetch')), 'home_not_ready');
    assert.match(detail, /start your server, then fetch again/);
    assert.match(problem(await call('s03', 'POST', my('submit')), 'home_not_ready'), /try again/);
    assert.equal(existsSync(join(dir, 'volumes', 'crs-s03')), false);
    // Once the server has made it, fetch works.
    volume('s03');
    ok(await call('s03', 'POST', my('fetch')));
  });
});
