/**
 * Where a user's files are, and the one check that keeps a notebook path inside them: relative,
 * no `..`, and (locally, where we can look) no symlink leading out.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { posix, resolve, sep } from 'node:path';
import { HttpProblem } from '../../platform/problem.js';

export const homeOf = (homeRoot: string, user: string) => homeRoot.replaceAll('{username}', user);

const invalid = (path: string, message: string) =>
  new HttpProblem(400, 'validation_failed', `The request is not valid: ${path} ${message}.`, [
    { path, message }
  ]);

/** The notebook path as written, normalised; throws naming body.notebook.path when it escapes. */
export function notebookPath(path: string): string {
  const field = 'body.notebook.path';
  if (path.startsWith('/') || path.startsWith('~') || path.includes('\\') || path.includes('\0')) {
    throw invalid(field, 'must be relative to your home directory (no leading / or ~)');
  }
  if (path.split('/').includes('..')) throw invalid(field, 'must not contain ".."');
  const normal = posix.normalize(path);
  if (!normal.endsWith('.ipynb')) throw invalid(field, 'must name a notebook (.ipynb)');
  return normal;
}

/** The absolute path of a notebook in `home`, which must exist there and not lead out of it. */
export function localNotebook(home: string, path: string): string {
  const field = 'body.notebook.path';
  const full = resolve(home, notebookPath(path));
  if (!existsSync(full) || !statSync(full).isFile()) {
    throw invalid(field, `"${path}" is not a notebook in your home directory`);
  }
  const real = realpathSync(full);
  const root = realpathSync(home);
  if (!real.startsWith(root + sep)) throw invalid(field, 'leads out of your home directory');
  return full;
}
