/**
 * The command line as an operator runs it: a config file, a real listening socket, and SIGTERM.
 * JupyterHub is played by a small server that answers GET /hub/api/user slowly, so a request is
 * still in flight when the signal arrives.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scratchDir } from './helpers/build.js';
import { freePort, waitFor } from './helpers/ports.js';

const SERVER = fileURLToPath(new URL('..', import.meta.url));

describe('hotstepper-companion', () => {
  let reachedHub: () => void;
  const hubAsked = new Promise<void>(r => (reachedHub = r));
  const hub = createServer((req, res) => {
    if (req.url === '/hub/api/user') reachedHub();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // As the hub answers for a server's token: with access to the companion's service.
      const scopes = ['access:servers!server=alice/', 'access:services!service=hotstepper'];
      res.end(
        JSON.stringify({ kind: 'user', name: 'alice', admin: false, groups: ['students'], scopes })
      );
    }, 800);
  });
  after(() => hub.close());

  it('serves with a config file, and on SIGTERM finishes the request in flight and exits 0', async () => {
    await new Promise<void>(r => hub.listen(0, '127.0.0.1', r));
    const hubPort = (hub.address() as { port: number }).port;
    const port = await freePort();
    const dir = scratchDir();
    const config = join(dir, 'hotstepper.yaml');
    writeFileSync(
      config,
      [
        `server: {port: ${port}}`,
        `database: {path: ${join(dir, 'h.sqlite')}}`,
        `jupyterhub: {apiUrl: "http://127.0.0.1:${hubPort}/hub/api"}`,
        // No cluster here: Flare's target pod and the jobs' kubernetes executor would refuse to
        // start; this hub is one machine, its users Unix accounts.
        'flare: {gateway: {target: loopback}}',
        'jobs: {executor: local, local: {account: "hst-{username}"}}'
      ].join('\n')
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', config], {
      cwd: SERVER,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let output = '';
    child.stdout.on('data', d => (output += d));
    child.stderr.on('data', d => (output += d));
    const exited = new Promise<number | null>(r => child.once('exit', code => r(code)));
    after(() => child.kill('SIGKILL'));

    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      'the companion',
      30,
      async () => (await fetch(`${base}/healthz`)).ok,
      () => (child.exitCode !== null ? `exit ${child.exitCode}: ${output}` : undefined)
    );

    const inFlight = fetch(`${base}/api/v1/me`, {
      headers: { authorization: 'token t0ken-in-flight' }
    });
    await hubAsked;
    child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { user: { name: string } }).user.name, 'alice');
    assert.equal(await exited, 0, output);
    assert.match(output, /"signal":"SIGTERM".*shutting down/);
    assert.ok(!output.includes('t0ken-in-flight'));
  });
});
