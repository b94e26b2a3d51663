// What iptables prints when it fails (messages captured from iptables 1.8.9, both backends) becomes a
// failure kind the user can act on, with the plan's rule when iptables names the input line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { classify } from '../../src/adapters/iptables/failures.js';

const failed = (stderr: string, missing = false) => ({ exitCode: missing ? -1 : 1, stdout: '', stderr, missing });
const s = suite('iptables failure messages');

s('not root', () => {
  const f = classify('iptables-nft-save', failed('iptables-nft-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n'));
  assert.is(f.kind, 'permission');
  assert.match(f.message, 'needs root or CAP_NET_ADMIN');
});

s('a match or target the kernel lacks, with the rule of that input line', () => {
  const lines = new Map([[3, '-A ISTIO_OUTPUT -m foo -j RETURN']]);
  const f = classify(
    'iptables-legacy-restore',
    failed(
      "iptables-restore v1.8.9 (legacy): Couldn't load match `foo':No such file or directory\n\nError occurred at line: 3\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n",
    ),
    lines,
  );
  assert.equal([f.kind, f.rule], ['missing-kernel-feature', '-A ISTIO_OUTPUT -m foo -j RETURN']);
  assert.match(f.message, "iptables-legacy-restore: iptables-restore v1.8.9 (legacy): Couldn't load match `foo'");
});

s('a missing program', () => {
  assert.equal(classify('ip6tables-nft-restore', failed('', true)).kind, 'missing-binary');
});

s('anything else is a rejection quoting the tool', () => {
  const f = classify('iptables-nft-restore', failed('iptables-nft-restore: line 2 failed: Chain already exists.\n'), new Map([[2, '-N ISTIO_OUTPUT']]));
  assert.equal([f.kind, f.rule], ['rejected', '-N ISTIO_OUTPUT']);
});

s.run();
