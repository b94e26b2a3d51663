// `amesh intercept install` where it cannot work, run for real in a throwaway network namespace:
// as an unprivileged user, and without iptables on PATH. Each gives exit 1 and a message saying
// what to fix. (A kernel lacking a match is covered by the interceptor contract.) Needs root to set up.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, deleteNetns, netnsUnavailable, run } from '../support/netns.js';
import { repoRoot } from '../support/shared-fixtures.js';

const MAIN = path.join(repoRoot, 'src/app/main.ts');
const reason = netnsUnavailable('nft', ['setpriv', 'env']);
const s = suite('amesh intercept install: clear errors from the system');

if (reason) console.log(`intercept errors (netns): skipped: ${reason}`);
else {
  let netns = '';
  s.before(async () => {
    netns = await createNetns('errors');
  });
  s.after(async () => {
    await deleteNetns(netns);
  });

  s('not root: permission error, exit 1', async () => {
    const result = await run('ip', [
      'netns',
      'exec',
      netns,
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '--import',
      'tsx',
      MAIN,
      'intercept',
      'install',
      '--iptables-backend',
      'nft',
      '--log-level',
      'silent',
    ]);
    assert.is(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /error: permission: iptables-nft-save: .*must be root.*\(changing iptables needs root or CAP_NET_ADMIN\)/);
  });

  s('iptables missing: names the tool, exit 1', async () => {
    const result = await run('ip', [
      'netns',
      'exec',
      netns,
      'env',
      'PATH=/nonexistent',
      process.execPath,
      '--import',
      'tsx',
      MAIN,
      'intercept',
      'install',
      '--iptables-backend',
      'legacy',
      '--log-level',
      'silent',
    ]);
    assert.is(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, 'error: missing-binary: iptables-legacy-save is not installed (or not on PATH)');
  });
}
s.run();
