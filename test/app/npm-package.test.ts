// The npm package as a user gets it: `npm pack` (which builds dist/), installed into an empty project
// from the registry's dependencies, then the embedding example (examples/embed-translator.ts,
// importing 'amesh-ts' instead of the sources) type-checked against the package's own typings and
// run, and the `amesh` binary run on the bundled example. The tarball ships no tests or benches.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../support/shared-fixtures.js';

const run = (command: string, args: string[], cwd: string): string => execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

test('npm pack → install in an empty project → the embedding example type-checks and runs, the CLI runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-pack-'));
  try {
    // Lifecycle scripts (prepack builds dist/, prepare builds libxds.so) print before npm's JSON.
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], repoRoot);
    const packed = JSON.parse(out.slice(out.search(/^\[$/m))) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts'), 'the built entry point and its typings');
    assert.equal(
      files.filter((f) => /^(test|bench)\//.test(f) || f.endsWith('.test.ts') || /^src\//.test(f)),
      [],
      'no tests, benches or sources',
    );

    const project = join(dir, 'user');
    execFileSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
    run('npm', ['install', '--no-audit', '--no-fund', join(dir, packed[0]!.filename)], project);

    const example = readFileSync(join(repoRoot, 'examples/embed-translator.ts'), 'utf8').replace("from '../src/index.js'", "from 'amesh-ts'");
    assert.ok(example.includes("from 'amesh-ts'"), 'the example imports the package');
    writeFileSync(join(project, 'embed-translator.ts'), example);
    // Type-checked against the installed package's .d.ts, as a user's editor and build would.
    run(
      join(repoRoot, 'node_modules/.bin/tsc'),
      [
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        join(repoRoot, 'node_modules/@types'),
        '--outDir',
        'out',
        'embed-translator.ts',
      ],
      project,
    );
    const output = run('node', ['-e', "import('./out/embed-translator.js').then((m) => m.main())"], project);
    assert.match(output, /traffic-split/);
    assert.match(output, /changed: update routes\//);

    const yaml = run(join(project, 'node_modules/.bin/amesh'), ['translate', '--example', 'bookinfo'], project);
    assert.match(yaml, /#END\n$/);
    assert.match(run(join(project, 'node_modules/.bin/amesh'), ['--help'], project), /translate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
