// The deployable form of `amesh`: the sources and their npm dependencies bundled and minified by
// esbuild, split per dynamic import so that each command and adapter loads only its own chunk. A sidecar
// otherwise loads ~400 modules (inversify alone is 177 files), each with its record and source text in
// the heap: bundled, its idle RSS is ~10 MB smaller (docs/benchmarks.md). The packages kept external
// below must be installed beside it (node_modules in a parent folder).
//
// Usage: node scripts/bundle.mjs [<entry: src/app/main.ts or a tsc build's main.js>] [<out dir>]
//        (defaults: src/app/main.ts, dist/bundle)
import { build } from 'esbuild';

const [entry = 'src/app/main.ts', outDir = 'dist/bundle'] = process.argv.slice(2);
await build({
  entryPoints: [entry],
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // npm packages are bundled too (one minified copy, far fewer module records), except those that load
  // native code or files relative to themselves.
  external: ['koffi', 'pino', 'thread-stream', '@kubernetes/client-node'],
  // Bundled CommonJS code calls require() for Node's built-ins: give the ESM chunks one.
  banner: { js: "import { createRequire as __amesh_createRequire } from 'node:module'; const require = __amesh_createRequire(import.meta.url);" },
  logLevel: 'warning',
});
