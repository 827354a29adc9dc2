/**
 * The companion image's Dockerfile, read against the repository: no container engine runs here, so
 * what can drift without a build noticing is checked by reading. `npm ci` refuses a lockfile whose
 * workspaces are missing, and tsc copies no file that is not TypeScript.
 *
 * Run from the repository root:  node --import tsx --test deploy/test/image.test.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'deploy/image/Dockerfile'), 'utf8');

/** The root package.json's workspaces, with `dir/*` expanded to the folders holding a package.json. */
function workspaces(): string[] {
  const { workspaces: patterns } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  return patterns.flatMap(pattern => {
    if (!pattern.endsWith('/*')) return [pattern];
    const dir = pattern.slice(0, -2);
    return readdirSync(join(ROOT, dir), { withFileTypes: true })
      .filter(e => e.isDirectory())
      .filter(e => readdirSync(join(ROOT, dir, e.name)).includes('package.json'))
      .map(e => `${dir}/${e.name}`);
  });
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter(f => f.endsWith(suffix))
    .map(f => relative(ROOT, join(ROOT, dir, f)));
}

describe('the companion Dockerfile', () => {
  it("copies every workspace's package.json before npm ci", () => {
    const found = workspaces();
    assert.ok(found.includes('packages/grader') && found.includes('server'), found.join(', '));
    const missing = found.filter(w => !dockerfile.includes(`COPY ${w}/package.json ${w}/`));
    assert.deepEqual(missing, [], `add a COPY line for: ${missing.join(', ')}`);
  });

  it('puts the non-TypeScript files the server loads at run time beside its compiled code', () => {
    const scripts = filesUnder('server/src', '.py');
    assert.ok(scripts.length > 0);
    for (const script of scripts) {
      const compiled = script.replace(/^server\/src\//, 'server/dist/');
      assert.ok(
        dockerfile.includes(`COPY --from=build /src/${script} ${compiled}`),
        `${script} is not copied to ${compiled}`
      );
    }
  });
});
