// What the goldens do not cover: another chain prefix, outbound port exclusion, capture of all DNS,
// and the host routing TPROXY and IPv6 need.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCaptureOptions, type RawCaptureOptions } from '../../../src/domain/capture/capture-options.js';
import { planCapture, type CapturePlan } from '../../../src/domain/capture/plan.js';
import { ruleLine } from '../../../src/domain/capture/render.js';

function plan(raw: RawCaptureOptions): CapturePlan {
  const parsed = parseCaptureOptions(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return planCapture(parsed.value.options);
}
const lines = (rules: CapturePlan['ipv4']): string[] => rules.map((r) => `${r.table} ${ruleLine(r)}`);

const s = suite('capture planner');

s('a chain prefix renames every chain and jump, and nothing else', () => {
  const istio = lines(plan({ inboundPortsInclude: '*', redirectDns: true, captureAllDns: true, dropInvalid: true }).ipv4);
  const amesh = lines(plan({ inboundPortsInclude: '*', redirectDns: true, captureAllDns: true, dropInvalid: true, chainPrefix: 'AMESH' }).ipv4);
  assert.equal(
    amesh,
    istio.map((l) => l.replaceAll('ISTIO_', 'AMESH_')),
  );
  assert.not.ok(amesh.some((l) => l.includes('ISTIO')));
});

s('outbound port exclusions return TCP and UDP before anything else in the output chain', () => {
  const rules = lines(plan({ outboundPortsExclude: '3306,5432', outboundIpRangesInclude: '*' }).ipv4);
  const first = rules.findIndex((l) => l.startsWith('nat -A ISTIO_OUTPUT'));
  assert.equal(rules.slice(first, first + 4), [
    'nat -A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN',
    'nat -A ISTIO_OUTPUT -p udp --dport 3306 -j RETURN',
    'nat -A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN',
    'nat -A ISTIO_OUTPUT -p udp --dport 5432 -j RETURN',
  ]);
});

s('capture-all-dns redirects port 53 to any server, both families', () => {
  const p = plan({ redirectDns: true, captureAllDns: true, ipv6: true });
  for (const rules of [p.ipv4, p.ipv6 ?? []]) {
    const l = lines(rules);
    assert.ok(l.includes('nat -A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053'));
    assert.ok(l.includes('nat -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -j REDIRECT --to-ports 15053'));
    assert.ok(l.includes('raw -A PREROUTING -j ISTIO_INBOUND'));
  }
});

s('redirect-dns without servers or capture-all does nothing (as istio-iptables)', () => {
  assert.equal(plan({ redirectDns: true }), plan({}));
});

s('TPROXY and IPv6 bring their host routing', () => {
  assert.equal(plan({ inboundInterceptionMode: 'TPROXY', inboundPortsInclude: '*', ipv6: true, inboundTproxyMark: '77', inboundTproxyRouteTable: '99' }).routing, [
    { family: 'ipv6', kind: 'address', args: ['::6/128', 'dev', 'lo'] },
    { family: 'ipv4', kind: 'rule', args: ['fwmark', '77', 'lookup', '99'] },
    { family: 'ipv4', kind: 'route', args: ['local', 'default', 'dev', 'lo', 'table', '99'] },
    { family: 'ipv6', kind: 'rule', args: ['fwmark', '77', 'lookup', '99'] },
    { family: 'ipv6', kind: 'route', args: ['local', 'default', 'dev', 'lo', 'table', '99'] },
  ]);
  assert.equal(plan({}).routing, []);
});

s.run();
