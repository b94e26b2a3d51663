// What a person tries first: `amesh --version`, and every sidecar flag settable from the environment
// (an injected pod has no command line of its own to edit), `--once` included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, type CliIo } from '../../src/app/cli.js';
import { withEnvironment } from '../../src/app/sidecar/sidecar-command.js';
import { repoRoot } from '../support/shared-fixtures.js';

function capture(): { io: CliIo; out: () => string } {
  let out = '';
  const io: CliIo = { out: (text: string) => void (out += text), err: (text: string) => void (out += text), env: {} };
  return { io, out: () => out };
}

test('amesh --version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const { io, out } = capture();
    assert.is(await runCli([flag], io), 0);
    assert.is(out().trim(), version);
  }
});

test('AMESH_ONCE sets --once; the flag wins over the environment', () => {
  assert.is(withEnvironment({}, { AMESH_ONCE: 'true' }).once, true);
  assert.is(withEnvironment({}, { AMESH_ONCE: '1' }).once, true);
  assert.is(withEnvironment({}, { AMESH_ONCE: 'false' }).once, false);
  assert.is(withEnvironment({}, {}).once, undefined);
  assert.is(withEnvironment({ once: true }, { AMESH_ONCE: 'false' }).once, true);
});

test.run();
