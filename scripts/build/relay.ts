/**
 * Bundles the relay for the container: `relay/src/main.ts` with its dependencies into ES modules
 * under `relay/dist` (the entry `main.mjs` plus a chunk per lazily loaded part: the `start` command,
 * each store driver, Pub/Sub). Run with `npm run build:relay [-- --outdir <dir>]`.
 *
 * Why a bundle: loaded as hundreds of modules from node_modules, the relay holds ~15 MB more V8 heap
 * (module records, per-file sources and resolution caches) and spends ~400 ms more of its cold start
 * resolving files (npm run bench:relay-memory, docs/benchmarks.md). Minified with names kept, so
 * stack traces still name functions; the linked source map maps them back to the sources when the
 * relay runs with --enable-source-maps.
 *
 * Left outside the bundle, loaded from the production node_modules the container installs:
 * - @fastify/swagger-ui serves its assets from beside its source (loaded on the first /docs request);
 * - pg-native, which pg loads only when asked for (it is not installed).
 */

import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: { outdir: { type: 'string', default: path.join(ROOT, 'relay', 'dist') } }
});
// The outdir must sit inside a tree with the production node_modules above it (for the externals).
const outdir = path.resolve(args.outdir);

// Chunk names carry content hashes: start clean so no stale chunk ships.
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: path.join(ROOT, 'relay', 'src', 'main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  // The bundled packages' licence notices, kept beside the bundle instead of in the loaded code.
  legalComments: 'external',
  external: ['@fastify/swagger-ui', 'pg-native'],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);"
  },
  metafile: true,
  logLevel: 'warning'
});

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.mjs'))
  .reduce((sum, [, output]) => sum + output.bytes, 0);
console.log(
  `relay bundle: ${path.relative(ROOT, outdir) || outdir}/main.mjs (${(bytes / 1048576).toFixed(1)} MB of code in ${Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs')).length} files)`
);
