// The deployable form of `amesh`: the tsc build bundled and minified by esbuild, split per dynamic
// import so that each command and adapter loads only its own chunk. npm packages stay external (they are
// installed beside it). V8 keeps the source text of every loaded module in the heap; minified chunks
// make a sidecar's idle RSS several MB smaller (docs/benchmarks.md).
//
// Usage: node scripts/bundle.mjs [<build dir with src/app/main.js>] [<out dir>]   (defaults: dist, dist/bundle)
import { build } from 'esbuild';
import path from 'node:path';

const [buildDir = 'dist', outDir = path.join(buildDir, 'bundle')] = process.argv.slice(2);
await build({
  entryPoints: [path.join(buildDir, 'src/app/main.js')],
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  packages: 'external',
  logLevel: 'warning',
});
