import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, configSchema, envKeys, loadConfig } from '../src/platform/config.js';
import { scratchDir } from './helpers/build.js';

const SERVER = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(SERVER, 'hotstepper.example.yaml');

function file(name: string, text: string): string {
  const path = join(scratchDir(), name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('no config error');
}

describe('configuration', () => {
  it('has defaults for everything when there is neither file nor environment', () => {
    const config = loadConfig([], {}, '/srv/x');
    assert.deepEqual(config.server, { host: '127.0.0.1', port: 9100 });
    assert.equal(config.database.path, '/srv/x/hotstepper.sqlite');
    assert.equal(config.database.url, undefined);
    assert.deepEqual(config.identity, { cacheSeconds: 30, adminGroups: ['hotstepper-admins'] });
    assert.equal(config.jupyterhub.apiUrl, 'http://127.0.0.1:8081/hub/api');
    assert.equal(config.kubernetes.enabled, false);
  });

  it('reads a YAML file from --config and lets the environment win', () => {
    const path = file(
      'c.yaml',
      'server: {port: 9200, host: 0.0.0.0}\ndatabase: {path: db/h.sqlite}\njupyterhub: {apiUrl: "http://hub:8081/hub/api/"}\n'
    );
    const config = loadConfig(
      ['--config', path],
      {
        HOTSTEPPER_PORT: '9300',
        HOTSTEPPER_ADMIN_GROUPS: 'ops, teachers',
        JUPYTERHUB_API_TOKEN: 's3cret',
        DATABASE_URL: 'postgres://u:p@db/h',
        KUBECONFIG: '/k/config'
      },
      '/work'
    );
    assert.deepEqual(config.server, { host: '0.0.0.0', port: 9300 });
    assert.equal(config.database.path, '/work/db/h.sqlite');
    assert.equal(config.database.url, 'postgres://u:p@db/h');
    assert.deepEqual(config.identity.adminGroups, ['ops', 'teachers']);
    assert.equal(config.jupyterhub.apiUrl, 'http://hub:8081/hub/api');
    assert.equal(config.jupyterhub.apiToken, 's3cret');
    assert.equal(config.kubernetes.kubeconfig, '/k/config');
  });

  it('reads JSON too, and finds the file through HOTSTEPPER_CONFIG', () => {
    const path = file('c.json', JSON.stringify({ log: { level: 'debug' } }));
    assert.equal(loadConfig([], { HOTSTEPPER_CONFIG: path }).log.level, 'debug');
    assert.equal(loadConfig([`--config=${path}`], {}).log.level, 'debug');
  });

  it('names an unknown key and the file it is in', () => {
    const path = file('typo.yaml', 'databse:\n  path: x.sqlite\nserver:\n  prot: 1\n');
    const message = configError(() => loadConfig(['--config', path], {}));
    assert.match(message, new RegExp(`^config error: unknown key "databse" in ${path}$`, 'm'));
    assert.match(message, new RegExp(`^config error: unknown key "server.prot" in ${path}$`, 'm'));
  });

  it('names an ill-typed key and where it came from', () => {
    const path = file('types.yaml', 'server:\n  port: "ninety"\nidentity:\n  cacheSeconds: 600\n');
    const fromFile = configError(() => loadConfig(['--config', path], {}));
    assert.match(fromFile, new RegExp(`server.port must be integer \\(in ${path}\\)`));
    assert.match(fromFile, /identity.cacheSeconds must be <= 60/);

    const fromEnv = configError(() => loadConfig([], { HOTSTEPPER_PORT: 'ninety' }));
    assert.equal(fromEnv, 'config error: server.port must be integer (from HOTSTEPPER_PORT)');
    const level = configError(() => loadConfig([], { HOTSTEPPER_LOG_LEVEL: 'loud' }));
    assert.match(
      level,
      /log.level must be one of fatal, error, warn, info, debug, trace, silent \(from HOTSTEPPER_LOG_LEVEL\)/
    );
    const url = configError(() => loadConfig([], { JUPYTERHUB_API_URL: 'hub:8081' }));
    assert.match(
      url,
      /jupyterhub.apiUrl must be an http:\/\/ or https:\/\/ URL \(from JUPYTERHUB_API_URL\)/
    );
  });

  it('says so when the file is missing or not YAML', () => {
    assert.match(
      configError(() => loadConfig(['--config', '/nonexistent/h.yaml'], {})),
      /cannot read \/nonexistent\/h.yaml: ENOENT/
    );
    const bad = file('bad.yaml', 'server: [port: 1\n');
    assert.match(
      configError(() => loadConfig(['--config', bad], {})),
      /is not valid YAML or JSON/
    );
    assert.match(
      configError(() => loadConfig(['--port', '1'], {})),
      /unknown argument "--port"/
    );
  });

  it('exits with code 2 and the message when started with a bad file', () => {
    const path = file('typo.yaml', 'databse: {}\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', path], {
      cwd: SERVER,
      encoding: 'utf8',
      timeout: 30_000
    });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim(), `config error: unknown key "databse" in ${path}`);
  });
});

describe('hotstepper.example.yaml', () => {
  const text = readFileSync(EXAMPLE, 'utf8');

  it('is a valid configuration', () => {
    assert.doesNotThrow(() => loadConfig(['--config', EXAMPLE], {}));
  });

  it('documents every key and every environment variable', () => {
    // With the comment markers removed, the commented-out keys are part of the document too.
    const uncommented = parseYaml(text.replace(/^(\s*)# (\w+:)/gm, '$1$2')) as Record<
      string,
      Record<string, unknown>
    >;
    const sections = configSchema.properties as Record<
      string,
      { properties: Record<string, unknown> }
    >;
    for (const [section, schema] of Object.entries(sections)) {
      for (const key of Object.keys(schema.properties)) {
        assert.ok(
          uncommented[section] && key in uncommented[section],
          `${section}.${key} is not documented`
        );
      }
    }
    for (const name of Object.keys(envKeys))
      assert.ok(text.includes(name), `${name} is not documented`);
  });
});
