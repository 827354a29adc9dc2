/**
 * The spawn page as one script and one stylesheet, into the Python package (jupyter/hotstepper/
 * static/dist/, gitignored), where the hub's spawner reads and inlines them into its options form.
 *
 *   node build.mjs          minified
 *   node build.mjs --dev    readable, with an inline source map
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const dev = process.argv.includes('--dev');
const out = fileURLToPath(new URL('../../jupyter/hotstepper/static/dist/', import.meta.url));
const common = {
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  logLevel: 'warning'
};

await build({
  ...common,
  entryPoints: [fileURLToPath(new URL('src/index.ts', import.meta.url))],
  outfile: `${out}spawn.js`,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none'
});
await build({
  ...common,
  entryPoints: [fileURLToPath(new URL('style/spawn.css', import.meta.url))],
  outfile: `${out}spawn.css`
});
console.log(`spawn: built ${out}spawn.js and spawn.css`);
