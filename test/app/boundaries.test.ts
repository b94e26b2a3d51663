// The import-boundary check (npm run boundaries, part of npm test) refuses what the hexagon forbids:
// run on a small tree shaped like src/ with one violation of each kind, it names every one.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../support/shared-fixtures.js';

const TREE: Record<string, string> = {
  'src/domain/model.ts': "import { readFileSync } from 'node:fs';\nimport { sink } from '../adapters/file-sink/sink.js';\nexport const model = [readFileSync, sink];\n",
  'src/ports/port.ts': "import { sink } from '../adapters/file-sink/sink.js';\nexport const port = sink;\n",
  'src/adapters/file-sink/sink.ts': 'export const sink = 1;\n',
  'src/adapters/etcd-sink/etcd.ts': "import { sink } from '../file-sink/sink.js';\nimport { shared } from '../apisix/shared.js';\nexport const etcd = [sink, shared];\n",
  'src/adapters/apisix/shared.ts': 'export const shared = 2;\n',
};

test('npm run boundaries names each forbidden import, and allows the shared protocol folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-boundaries-'));
  try {
    for (const [path, text] of Object.entries(TREE)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    cpSync(join(repoRoot, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    let output = '';
    try {
      execFileSync(join(repoRoot, 'node_modules/.bin/depcruise'), ['src', '--config', '.dependency-cruiser.cjs'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.unreachable('the check passed a tree with violations');
    } catch (error) {
      // uvu's environment asks for colours; the rule lines are read without them.
      output = String((error as { stdout?: string }).stdout ?? '').replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '');
    }
    assert.match(output, /domain-is-pure: src\/domain\/model\.ts → src\/adapters\/file-sink\/sink\.ts/);
    assert.match(output, /domain-is-pure: src\/domain\/model\.ts → fs/);
    assert.match(output, /ports-know-only-the-domain: src\/ports\/port\.ts → src\/adapters\/file-sink\/sink\.ts/);
    assert.match(output, /adapters-never-import-a-sibling-adapter: src\/adapters\/etcd-sink\/etcd\.ts → src\/adapters\/file-sink\/sink\.ts/);
    assert.not.match(output, /etcd\.ts → src\/adapters\/apisix\/shared\.ts/, 'the shared apisix/ folder is allowed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
