#!/usr/bin/env node
// Builds native/build/libxds.so (the shared-dict sink's in-nginx half and its agent-side writer).
// Run by `npm install` (prepare) and `npm run build:native`. Without make and a C compiler it says
// so and exits 0: everything but the shdict sink works without the library, and that sink reports
// the missing library when selected.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const native = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const compiler = process.env.CC || 'cc';

if (!has('make') || !has(compiler)) {
  console.warn(
    `build:native: skipped, ${has('make') ? compiler : 'make'} not found; the shdict sink (--sink shdict:) needs native/build/libxds.so (install gcc and make, then npm run build:native)`,
  );
  process.exit(0);
}
const result = spawnSync('make', ['-C', native], { stdio: 'inherit' });
process.exit(result.status ?? 1);
