// Istio's own golden files are the expected output of our planner: for every option set of
// tools/istio-iptables/pkg/capture/run_test.go (transcribed in the fixtures' options.json), the plan
// renders to the same iptables-restore text, table by table and chain by chain, in the same order.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCaptureOptions, type RawCaptureOptions } from '../../../src/domain/capture/capture-options.js';
import { planCapture } from '../../../src/domain/capture/plan.js';
import { renderIstioRestore } from '../../../src/domain/capture/render.js';
import { requireShared } from '../../support/shared-fixtures.js';

const NAME = 'capture: Istio iptables goldens';
const CAPTURE_DIR = 'fixtures/istio/tools/istio-iptables/pkg/capture';

type IstioValue = string | boolean | string[];
interface IstioCase {
  readonly golden: string;
  readonly effective_config: Readonly<Record<string, IstioValue>>;
}

/** Istio config field → our option (the Go names are what options.json records). */
const FIELD: Readonly<Record<string, keyof RawCaptureOptions | null>> = {
  ProxyPort: 'proxyPort',
  InboundCapturePort: 'inboundCapturePort',
  InboundTunnelPort: 'inboundTunnelPort',
  ProxyUID: 'proxyUid',
  ProxyGID: 'proxyGid',
  InboundInterceptionMode: 'inboundInterceptionMode',
  InboundTProxyMark: 'inboundTproxyMark',
  InboundTProxyRouteTable: 'inboundTproxyRouteTable',
  InboundPortsInclude: 'inboundPortsInclude',
  InboundPortsExclude: 'inboundPortsExclude',
  OwnerGroupsInclude: 'ownerGroupsInclude',
  OwnerGroupsExclude: 'ownerGroupsExclude',
  OutboundPortsInclude: 'outboundPortsInclude',
  OutboundPortsExclude: 'outboundPortsExclude',
  OutboundIPRangesInclude: 'outboundIpRangesInclude',
  OutboundIPRangesExclude: 'outboundIpRangesExclude',
  RerouteVirtualInterfaces: 'kubeVirtInterfaces',
  ExcludeInterfaces: 'excludeInterfaces',
  RedirectDNS: 'redirectDns',
  DropInvalid: 'dropInvalid',
  CaptureAllDNS: 'captureAllDns',
  EnableIPv6: 'ipv6',
  DNSServersV4: 'dnsServersV4',
  DNSServersV6: 'dnsServersV6',
  HostIPv4LoopbackCidr: 'hostIpv4LoopbackCidr',
  // Changes only whether commands run, never which.
  DryRun: null,
};

function rawOptions(config: Readonly<Record<string, IstioValue>>): RawCaptureOptions {
  const raw: Record<string, IstioValue> = {};
  for (const [field, value] of Object.entries(config)) {
    const option = FIELD[field];
    if (option === undefined) throw new Error(`options.json field ${field} has no mapping`);
    if (option !== null) raw[option] = value;
  }
  return raw as RawCaptureOptions;
}

/**
 * A golden is the stub's command log: `iptables-save`, `ip6tables-save` (the state check), the IPv4
 * restore input, with IPv6 its restore input, then `iptables-save` (and `ip6tables-save`) for the final
 * state. Each input lists its tables in alphabetical order, so the IPv6 input starts where the order restarts.
 */
function splitGolden(text: string): { ipv4: string; ipv6: string | undefined } {
  const lines = text.trim().split('\n');
  assert.equal(lines.slice(0, 2), ['iptables-save', 'ip6tables-save'], 'golden starts with the state check');
  const end = lines.indexOf('iptables-save', 2);
  const trailer = lines.slice(end);
  const restore = lines.slice(2, end);
  const tables = restore.flatMap((line, i) => (line.startsWith('* ') ? [{ i, name: line.slice(2) }] : []));
  const restart = tables.find((t, k) => k > 0 && t.name <= tables[k - 1]!.name);
  if (!restart) {
    assert.equal(trailer, ['iptables-save']);
    return { ipv4: joined(restore), ipv6: undefined };
  }
  assert.equal(trailer, ['iptables-save', 'ip6tables-save']);
  const v6Start = restart.i;
  return { ipv4: joined(restore.slice(0, v6Start)), ipv6: joined(restore.slice(v6Start)) };
}

const joined = (lines: readonly string[]): string => (lines.length > 0 ? `${lines.join('\n')}\n` : '');

/** table → chain → its lines in order (declarations under "-N"), to show where a difference is. */
function byChain(restore: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let table = '';
  for (const line of restore.split('\n').filter((l) => l.length > 0)) {
    if (line.startsWith('* ')) table = line.slice(2);
    else if (line !== 'COMMIT') {
      const [verb, chain] = line.split(' ');
      const key = verb === '-N' ? '-N' : chain!;
      ((out[table] ??= {})[key] ??= []).push(line);
    }
  }
  return out;
}

const s = suite(NAME);
const shared = requireShared(NAME);
if (shared) {
  const options = JSON.parse(fs.readFileSync(path.join(shared, CAPTURE_DIR, 'options.json'), 'utf8')) as { cases: Record<string, IstioCase> };
  const cases = Object.entries(options.cases);
  const goldens = fs.readdirSync(path.join(shared, CAPTURE_DIR, 'testdata')).filter((f) => f.endsWith('.golden'));

  s('every golden file has an option set', () => {
    assert.equal(cases.map(([, c]) => path.basename(c.golden)).sort(), goldens.sort());
    assert.ok(cases.length >= 25, `${cases.length} cases`);
  });

  for (const [name, testCase] of cases) {
    s(`${name}: same rules as ${testCase.golden}, chain by chain, in order`, () => {
      const expected = splitGolden(fs.readFileSync(path.join(shared, CAPTURE_DIR, testCase.golden), 'utf8'));
      const parsed = parseCaptureOptions(rawOptions(testCase.effective_config));
      if (!parsed.ok) throw new Error(`options rejected: ${JSON.stringify(parsed.error)}`);
      const plan = planCapture(parsed.value.options);
      const ipv4 = renderIstioRestore(plan.ipv4);
      assert.equal(byChain(ipv4), byChain(expected.ipv4), 'IPv4 chains');
      assert.fixture(ipv4, expected.ipv4);
      if (expected.ipv6 === undefined) {
        assert.is(plan.ipv6, undefined, 'no IPv6 rules without IPv6');
      } else {
        const ipv6 = renderIstioRestore(plan.ipv6 ?? []);
        assert.equal(byChain(ipv6), byChain(expected.ipv6), 'IPv6 chains');
        assert.fixture(ipv6, expected.ipv6);
      }
    });
  }
}
s.run();
