import { readFileSync } from 'node:fs';

// Read at run time: src/ and dist/ both sit one level below server/package.json.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The companion's version, from server/package.json. */
export const version: string = pkg.version;
