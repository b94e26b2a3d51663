// Option checking happens before anything is planned or applied: every bad value is reported, named
// by its option, and the accepted ones come out typed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIpAddress, parseIpPrefix, prefixContains } from '../../../src/domain/capture/address.js';
import { parseCaptureOptions, type RawCaptureOptions } from '../../../src/domain/capture/capture-options.js';

const problems = (raw: RawCaptureOptions): [string, string][] => {
  const parsed = parseCaptureOptions(raw);
  return parsed.ok ? [] : parsed.error.map((p) => [p.option, p.message]);
};

const s = suite('capture options');

s('addresses and prefixes: both families, strict syntax', () => {
  for (const good of ['10.0.0.0/8', '127.0.0.1/32', '0.0.0.0/0', '2001:db8::/32', '::/0', '::1/128', '::ffff:10.0.0.1/128', 'fd00:0:0:0:0:0:0:1/64']) {
    assert.ok(parseIpPrefix(good).ok, good);
  }
  for (const bad of [
    '10.0.0/8',
    '10.0.0.0',
    '10.0.0.256/8',
    '10.0.0.0/33',
    '010.0.0.0/8',
    '2001:db8::/129',
    '2001:db8:::1/64',
    '1::2::3/64',
    'fe80::1%eth0/64',
    '*/8',
    '10.0.0.0/-1',
    'x/8',
  ]) {
    assert.is(parseIpPrefix(bad).ok, false, bad);
  }
  assert.is(ok(parseIpAddress('::127.0.0.53')).family, 'ipv6');
  assert.ok(prefixContains(ok(parseIpPrefix('10.0.0.0/8')), ok(parseIpPrefix('10.1.0.0/16'))));
  assert.not.ok(prefixContains(ok(parseIpPrefix('10.1.0.0/16')), ok(parseIpPrefix('10.0.0.0/8'))));
  assert.not.ok(prefixContains(ok(parseIpPrefix('10.0.0.0/8')), ok(parseIpPrefix('11.0.0.0/16'))));
});

function ok<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(String(r.error));
  return r.value;
}

s('defaults are istio-iptables defaults', () => {
  const { options, warnings } = ok(parseCaptureOptions({}));
  assert.equal(
    [
      options.proxyPort,
      options.inboundCapturePort,
      options.inboundTunnelPort,
      options.proxyUids,
      options.proxyGids,
      options.inboundMode,
      options.tproxyMark,
      options.tproxyRouteTable,
      options.chainPrefix,
    ],
    [15001, 15006, 15008, ['1337'], ['1337'], 'REDIRECT', 1337, 133, 'ISTIO'],
  );
  assert.equal(options.inboundPorts, { all: false, items: [] });
  assert.equal(options.ownerGroups, { mode: 'exclude', groups: [] });
  assert.equal(warnings, []);
});

s('ports out of range, or not ports, are rejected with their option', () => {
  assert.equal(problems({ proxyPort: '0' }), [['proxyPort', '"0" is not a port (1–65535)']]);
  assert.equal(problems({ inboundCapturePort: '65536' }), [['inboundCapturePort', '"65536" is not a port (1–65535)']]);
  assert.equal(problems({ inboundPortsExclude: '80,http' }), [['inboundPortsExclude', '"http" is not a port (1–65535)']]);
  assert.equal(problems({ outboundPortsInclude: '*' }), [['outboundPortsInclude', '"*" is not allowed here; list ports']]);
  assert.equal(problems({ inboundTproxyMark: '-1' })[0]?.[0], 'inboundTproxyMark');
});

s('malformed CIDRs are rejected (istio-iptables would skip them silently)', () => {
  assert.equal(problems({ outboundIpRangesInclude: '10.0.0.0/8,10.0.0/8' }), [
    ['outboundIpRangesInclude', '"10.0.0/8" is not a CIDR prefix: "10.0.0" is not an IPv4 or IPv6 address'],
  ]);
  assert.equal(problems({ outboundIpRangesExclude: '2001:db8::/200' })[0]?.[0], 'outboundIpRangesExclude');
  assert.equal(problems({ outboundIpRangesExclude: '*' })[0]?.[0], 'outboundIpRangesExclude');
  assert.equal(problems({ hostIpv4LoopbackCidr: '::1/128' }), [['hostIpv4LoopbackCidr', '"::1/128" is not an IPv4 prefix']]);
  assert.equal(problems({ redirectDns: true, dnsServersV4: ['fd00::1'] })[0]?.[0], 'dnsServersV4');
});

s('conflicting include and exclude are rejected; ineffective ones warned about', () => {
  assert.equal(problems({ inboundPortsInclude: '8080,9090', inboundPortsExclude: '9090' }), [['inboundPortsExclude', 'port 9090 also listed as included: a port cannot be both']]);
  assert.equal(problems({ outboundPortsInclude: '80,443', outboundPortsExclude: '443,80' }), [
    ['outboundPortsExclude', 'ports 80,443 also listed as included: a port cannot be both'],
  ]);
  assert.equal(problems({ ownerGroupsInclude: 'java', ownerGroupsExclude: 'ftp' })[0]?.[0], 'ownerGroupsExclude');
  assert.equal(problems({ proxyPort: '15006' })[0]?.[0], 'inboundCapturePort');
  const { warnings } = ok(
    parseCaptureOptions({
      outboundIpRangesInclude: '10.1.0.0/16,2001:db8::/32',
      outboundIpRangesExclude: '10.0.0.0/8,2001:db8::/32',
      inboundPortsInclude: '80',
      inboundPortsExclude: '81',
    }),
  );
  assert.equal(
    warnings.map((w) => w.option),
    ['inboundPortsExclude', 'outboundIpRangesInclude', 'outboundIpRangesInclude'],
  );
});

s('every problem is reported at once', () => {
  assert.equal(
    problems({ proxyPort: 'x', outboundIpRangesInclude: 'y', chainPrefix: '1BAD', excludeInterfaces: 'a b' })
      .map(([o]) => o)
      .sort(),
    ['chainPrefix', 'excludeInterfaces', 'outboundIpRangesInclude', 'proxyPort'],
  );
});

s.run();
