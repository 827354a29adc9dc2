/**
 * The local autograde executor never runs student code as the companion: each unit runs as the
 * account grader.local.account (hst-grader here), in a mount namespace where the courses root, the
 * exchange and the companion's state folder are empty but for the unit's own course folders, and
 * in a PID namespace of its own. A real course (real nbgrader, a real JupyterHub) whose student's
 * submission tries to read the companion's database and a secret beside it, another course's
 * gradebook and the other student's submission, and prints its uid, environment and processes; it
 * is still graded. And the executor refuses to start where it could not keep that promise.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraderQueue, GraderSubmissionList } from '@hotstepper/schema';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { grader } from '../src/features/grader/index.js';
import { loadConfig, validateConfig, type IConfig } from '../src/platform/config.js';
import { lookupAccount } from '../src/platform/unix-accounts.js';
import { ANSWERS, graderPython, makeCourse, notebook } from './fixtures/grader/course.js';
import { scratchDir, testConfig } from './helpers/build.js';
import { startHub, type IHub } from './helpers/hub.js';
import { testAccount } from './helpers/unix-accounts.js';

const COURSE = 'cs150';
const OTHER = 'cs151';
const MARKER = `hs-sandbox-secret-${process.pid}-${Date.now()}`;
let hub: IHub;
let app: FastifyInstance;
let config: IConfig;
let dir: string;
const tokens: Record<string, string> = {};
const home = (user: string) => join(dir, 'home', user);
const C = `/api/v1/grader/courses/${COURSE}`;
const my = (a: string, op: string) => `/api/v1/grader/my/courses/${COURSE}/assignments/${a}/${op}`;

const call = async (user: string, method: string, url: string, body?: unknown) =>
  app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `token ${tokens[user]}` },
    ...(body === undefined ? {} : { payload: body as object })
  });
const ok = (res: LightMyRequestResponse, status = 200) => {
  assert.equal(res.statusCode, status, res.body);
  return res.json();
};

/** The student's solution cell: the right answer, and a look around the machine. */
function probe(paths: Record<string, string>): string {
  return [
    ANSWERS.correct,
    'import json as _j, os as _o',
    'def _read(p):',
    '    try:',
    "        with open(p, 'rb') as fh:",
    "            return 'READ ' + fh.read(300).decode('latin-1')",
    '    except Exception as err:',
    '        return type(err).__name__',
    `_paths = ${JSON.stringify(paths)}`,
    '_found = {k: _read(p) for k, p in _paths.items()}',
    "_found['uid'] = _o.getuid()",
    "_found['env'] = dict(_o.environ)",
    "_found['procs'] = [open('/proc/%s/cmdline' % p, 'rb').read().decode('latin-1')",
    "                   for p in _o.listdir('/proc') if p.isdigit()]",
    "_found['tmp'] = _o.listdir('/tmp')",
    "print('PROBE ' + _j.dumps(_found))"
  ].join('\n');
}

before(async () => {
  hub = await startHub();
  await makeCourse(hub.apiUrl, hub.serviceToken, COURSE, ['teach1'], ['s01', 's02']);
  await makeCourse(hub.apiUrl, hub.serviceToken, OTHER, ['teach2'], ['s03']);
  for (const u of ['teach1', 'teach2', 's01', 's02', 's03'])
    tokens[u] = (await hub.createToken(u)).token;
  // Root's alone, as test scratch folders are: the unit's account cannot even pass through it.
  dir = mkdtempSync(join(tmpdir(), 'hs-sandbox-'));
  config = testConfig({
    jupyterhub: { apiUrl: hub.apiUrl, apiToken: hub.serviceToken },
    grader: {
      python: graderPython(),
      coursesRoot: join(dir, 'courses'),
      exchangeRoot: join(dir, 'exchange'),
      homes: join(dir, 'home', '{user}'),
      executor: 'local',
      local: { account: 'hst-grader' },
      cellTimeoutSeconds: 120,
      unitTimeoutSeconds: 180
    }
  });
  // A secret of the companion's beside its database, and one in its environment.
  writeFileSync(join(dirname(config.database.path), 'secret.txt'), MARKER);
  process.env.HOTSTEPPER_SANDBOX_TEST_SECRET = MARKER;
  app = await buildApp(config, { features: [grader] });
  await app.ready();
});
after(async () => {
  delete process.env.HOTSTEPPER_SANDBOX_TEST_SECRET;
  await app?.close();
  await hub?.stop();
});

describe('grader: a local autograde unit is sandboxed', { timeout: 300_000 }, () => {
  it('runs as its account and sees none of the companion, other courses or other students', async t => {
    // The other course, with a gradebook holding a secret student name.
    const O = `/api/v1/grader/courses/${OTHER}`;
    ok(await call('teach2', 'PUT', `${O}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' }));
    ok(
      await call('teach2', 'PUT', `${O}/assignments/ps1/notebooks/problem1`, {
        content: notebook('ps1')
      })
    );
    ok(await call('teach2', 'POST', `${O}/assignments/ps1/generate`));
    const courses = config.grader.coursesRoot;
    const otherGradebook = join(courses, OTHER, 'gradebook', 'gradebook.db');
    readFileSync(otherGradebook);

    ok(await call('teach1', 'PUT', `${C}/assignments/ps1`, { duedate: '2030-01-01T00:00:00Z' }));
    ok(
      await call('teach1', 'PUT', `${C}/assignments/ps1/notebooks/problem1`, {
        content: notebook('ps1')
      })
    );
    ok(await call('teach1', 'POST', `${C}/assignments/ps1/generate`));
    ok(await call('teach1', 'POST', `${C}/assignments/ps1/release`));
    for (const s of ['s01', 's02']) ok(await call(s, 'POST', my('ps1', 'fetch')));

    // s02 submits a notebook with the marker in it; s01 submits the probe.
    const path = (s: string) => join(home(s), COURSE, 'ps1', 'problem1.ipynb');
    type Nb = {
      cells: {
        source: string;
        outputs?: { text?: string | string[] }[];
        metadata: { nbgrader?: { grade_id?: string } };
      }[];
    };
    const peerNb = JSON.parse(readFileSync(path('s02'), 'utf8')) as Nb;
    for (const cell of peerNb.cells)
      if (cell.metadata.nbgrader?.grade_id === 'squares')
        cell.source = `${ANSWERS.correct}\n# ${MARKER}`;
    writeFileSync(path('s02'), JSON.stringify(peerNb));
    const peer = join(courses, COURSE, 'submitted', 's02', 'ps1', 'problem1.ipynb');
    const nb = JSON.parse(readFileSync(path('s01'), 'utf8')) as Nb;
    for (const cell of nb.cells)
      if (cell.metadata.nbgrader?.grade_id === 'squares')
        cell.source = probe({
          database: config.database.path,
          secret: join(dirname(config.database.path), 'secret.txt'),
          otherGradebook,
          peer
        });
    writeFileSync(path('s01'), JSON.stringify(nb));
    for (const s of ['s01', 's02']) ok(await call(s, 'POST', my('ps1', 'submit')));
    ok(await call('teach1', 'POST', `${C}/assignments/ps1/collect`));
    assert.match(
      readFileSync(peer, 'utf8'),
      new RegExp(MARKER),
      'the peer submission is collected'
    );

    ok(await call('teach1', 'POST', `${C}/assignments/ps1/autograde`, { students: ['s01'] }), 202);
    let units: GraderQueue['units'] = [];
    for (;;) {
      units = (ok(await call('teach1', 'GET', `${C}/queue`)) as GraderQueue).units;
      if (units.every(u => u.state === 'done' || u.state === 'failed')) break;
      await new Promise(r => setTimeout(r, 250));
    }
    assert.equal(units.length, 1);
    const log = ok(await call('teach1', 'GET', `${C}/queue/${units[0].id}/log`)).log as string;
    assert.equal(units[0].state, 'done', `${units[0].error}\n${log}`);

    const graded = JSON.parse(
      readFileSync(join(courses, COURSE, 'autograded', 's01', 'ps1', 'problem1.ipynb'), 'utf8')
    ) as Nb;
    const text = JSON.stringify(graded);
    const out = graded.cells
      .flatMap(c => c.outputs ?? [])
      .map(o => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? '')))
      .join('');
    const line = out.split('\n').find(l => l.startsWith('PROBE '));
    assert.ok(line, `the probe printed: ${out}`);
    const found = JSON.parse(line.slice('PROBE '.length)) as Record<string, unknown> & {
      env: Record<string, string>;
      procs: string[];
      tmp: string[];
    };
    t.diagnostic(`probe: ${JSON.stringify(found).slice(0, 3000)}`);
    for (const key of ['database', 'secret', 'otherGradebook', 'peer'])
      assert.match(
        String(found[key]),
        /^(FileNotFoundError|PermissionError)$/,
        `${key}: ${found[key]}`
      );
    assert.equal(found.uid, lookupAccount('hst-grader')?.uid, 'the unit runs as hst-grader');
    assert.notEqual(found.uid, 0);
    assert.ok(!text.includes(MARKER), 'no secret reached the autograded notebook');
    assert.ok(!log.includes(MARKER), 'no secret reached the unit log');
    assert.equal(found.env.HOTSTEPPER_SANDBOX_TEST_SECRET, undefined);
    assert.ok(
      !Object.keys(found.env).some(k => /TOKEN|SECRET|KEY/i.test(k)),
      Object.keys(found.env).join()
    );
    assert.equal(found.env.HOME, '/tmp');
    // Its own processes only (the unit and its kernel): not the companion, not the hub.
    assert.ok(found.procs.length > 0 && found.procs.length < 10, found.procs.join(' | '));
    assert.ok(!found.procs.some(p => /node|jupyterhub/.test(p)), found.procs.join(' | '));
    // A /tmp of its own: the companion's scratch folders are not in it.
    assert.ok(!found.tmp.some(name => name.startsWith('hs-test-')), found.tmp.join());

    // And it was graded: the right answer scores its points.
    const table = ok(
      await call('teach1', 'GET', `${C}/assignments/ps1/submissions`)
    ) as GraderSubmissionList;
    const s01 = table.submissions.find(r => r.student === 's01');
    assert.equal(s01?.autograded, true);
    assert.equal(s01?.score, 3);
  });
});

describe('grader: the local executor refuses to start', { timeout: 60_000 }, () => {
  const refused = async (overrides: Parameters<typeof testConfig>[0], pattern: RegExp) => {
    const built = await buildApp(testConfig(overrides), { features: [grader] }).catch(
      (err: Error) => err
    );
    if (built instanceof Error) return assert.match(built.message, pattern);
    await assert.rejects(
      built.ready().finally(() => built.close()),
      pattern
    );
  };
  const python = () => graderPython();
  const where = () => {
    const d = scratchDir();
    return { coursesRoot: join(d, 'courses'), exchangeRoot: join(d, 'exchange') };
  };

  it('when the account is missing', async () => {
    await refused(
      { grader: { python: python(), ...where(), local: { account: 'hst-no-such-grader' } } },
      /grader\.executor is local, but .*there is no Unix account named hst-no-such-grader/
    );
  });

  it('when the account is root', async () => {
    await refused(
      { grader: { python: python(), ...where(), local: { account: 'root' } } },
      /grader\.executor is local, but .*root or the companion's own/
    );
  });

  it("when the companion's database folder is open to other accounts", async () => {
    testAccount('grader');
    const open = scratchDir();
    chmodSync(open, 0o755);
    await refused(
      {
        database: { path: join(open, 'hotstepper.sqlite') },
        grader: { python: python(), ...where() }
      },
      /grader\.executor is local, but .* is open to other accounts \(mode 755\)/
    );
  });

  it('and the default executor is kubernetes, which needs a cluster', async () => {
    assert.equal(validateConfig({}).grader.executor, 'kubernetes');
    const env = loadConfig([], { HOTSTEPPER_GRADER_LOCAL_ACCOUNT: 'graders' });
    assert.equal(env.grader.local.account, 'graders');
    assert.equal(validateConfig({}).grader.local.account, 'hotstepper-grader');
    await refused(
      { grader: { python: python(), ...where(), executor: 'kubernetes' } },
      /grader\.executor is kubernetes, but the companion has no Kubernetes/
    );
  });
});
