// Options → rules. The order of the rules is the order istio-iptables (pkg/capture/run.go) produces,
// so that Istio's golden files are our expected output and an existing Istio setup carries over.
import type { CaptureOptions } from './capture-options.js';
import { isLoopback, type IpPrefix } from './address.js';
import { chainNames, type ChainNames, type Rule, type RuleSet, type Table } from './rule-set.js';

/** Host network state TPROXY and IPv6 passthrough need besides the rules (`ip rule/route/addr`). */
export interface RoutingStep {
  readonly family: 'ipv4' | 'ipv6';
  readonly kind: 'rule' | 'route' | 'address';
  /** Arguments after `ip -4|-6 <kind> add` (and `del`). */
  readonly args: readonly string[];
}

export interface CapturePlan {
  readonly chainPrefix: string;
  readonly ipv4: RuleSet;
  /** Present when IPv6 capture is on. */
  readonly ipv6?: RuleSet;
  readonly routing: readonly RoutingStep[];
}

/** istio-agent's DNS listener (constants.IstioAgentDNSListenerPort). */
export const AGENT_DNS_PORT = '15053';
/** Mark on proxy → app packets over lo in TPROXY mode (constants.OutboundMark). */
export const OUTBOUND_MARK = '1338';
/** Source address of the inbound passthrough cluster's connections to the app. */
const PASSTHROUGH_SOURCE = { ipv4: '127.0.0.6/32', ipv6: '::6/128' } as const;
const IPV6_LOOPBACK = '::1/128';

const VERSIONED = '\u0000ip';

class Builder {
  readonly v4: Rule[] = [];
  readonly v6: Rule[] = [];
  constructor(private readonly ipv6: boolean) {}

  appendV4(table: Table, chain: string, ...args: string[]): void {
    this.v4.push({ table, chain, args });
  }
  appendV6(table: Table, chain: string, ...args: string[]): void {
    if (this.ipv6) this.v6.push({ table, chain, args });
  }
  append(table: Table, chain: string, ...args: string[]): void {
    this.appendV4(table, chain, ...args);
    this.appendV6(table, chain, ...args);
  }
  insertV4(table: Table, chain: string, at: number, ...args: string[]): void {
    this.v4.push({ table, chain, insertAt: at, args });
  }
  insertV6(table: Table, chain: string, at: number, ...args: string[]): void {
    if (this.ipv6) this.v6.push({ table, chain, insertAt: at, args });
  }
  insert(table: Table, chain: string, at: number, ...args: string[]): void {
    this.insertV4(table, chain, at, ...args);
    this.insertV6(table, chain, at, ...args);
  }
  /** One rule for both families, with `ip` standing for the family's own address. */
  appendVersioned(ip: { v4: string; v6: string }, table: Table, chain: string, ...args: string[]): void {
    this.appendV4(table, chain, ...args.map((a) => (a === VERSIONED ? ip.v4 : a)));
    this.appendV6(table, chain, ...args.map((a) => (a === VERSIONED ? ip.v6 : a)));
  }
}

interface Ranges {
  readonly all: boolean;
  readonly prefixes: readonly IpPrefix[];
  readonly hasLoopback: boolean;
}

function rangesOf(selection: CaptureOptions['outboundRangesInclude'] | { all: false; items: readonly IpPrefix[] }, family: 'ipv4' | 'ipv6'): Ranges {
  if (selection.all) return { all: true, prefixes: [], hasLoopback: false };
  const prefixes = selection.items.filter((p) => p.address.family === family);
  return { all: false, prefixes, hasLoopback: prefixes.some((p) => isLoopback(p.address)) };
}

function inbound(b: Builder, o: CaptureOptions, c: ChainNames): void {
  const ports = o.inboundPorts;
  if (!ports.all && ports.items.length === 0) return;
  const tproxy = o.inboundMode === 'TPROXY';
  const mark = String(o.tproxyMark);
  if (tproxy) {
    b.append('mangle', c.divert, '-j', 'MARK', '--set-mark', mark);
    b.append('mangle', c.divert, '-j', 'ACCEPT');
    b.appendVersioned(
      { v4: o.hostIpv4LoopbackCidr, v6: IPV6_LOOPBACK },
      'mangle',
      c.tproxy,
      '!',
      '-d',
      VERSIONED,
      '-p',
      'tcp',
      '-j',
      'TPROXY',
      '--tproxy-mark',
      `${mark}/0xffffffff`,
      '--on-port',
      String(o.inboundCapturePort),
    );
  }
  const table: Table = tproxy ? 'mangle' : 'nat';
  b.append(table, 'PREROUTING', '-p', 'tcp', '-j', c.inbound);
  const capture = (...match: string[]): void => {
    if (tproxy) {
      b.append('mangle', c.inbound, '-p', 'tcp', ...match, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', c.divert);
      b.append('mangle', c.inbound, '-p', 'tcp', ...match, '-j', c.tproxy);
    } else {
      b.append('nat', c.inbound, '-p', 'tcp', ...match, '-j', c.inRedirect);
    }
  };
  if (ports.all) {
    for (const port of o.inboundPortsExclude) b.append(table, c.inbound, '-p', 'tcp', '--dport', String(port), '-j', 'RETURN');
    capture();
  } else {
    for (const port of ports.items) capture('--dport', String(port));
  }
}

function proxyOwnerRules(b: Builder, o: CaptureOptions, c: ChainNames, dns: boolean, keepLoopback: boolean): void {
  const tunnel = String(o.inboundTunnelPort);
  const loopback = { v4: o.hostIpv4LoopbackCidr, v6: IPV6_LOOPBACK };
  const owners: [string, readonly string[]][] = [
    ['--uid-owner', o.proxyUids],
    ['--gid-owner', o.proxyGids],
  ];
  for (const [match, ids] of owners) {
    for (const id of ids) {
      // App → its own service VIP goes proxy (outbound) → proxy (inbound) → app, over lo.
      // With DNS capture, port 53 stays out of it (app → agent DNS → upstream); Istio does so for uids only.
      const dports = dns && match === '--uid-owner' ? ['-m', 'multiport', '!', '--dports', `53,${tunnel}`] : ['!', '--dport', tunnel];
      b.appendVersioned(loopback, 'nat', c.output, '-o', 'lo', '!', '-d', VERSIONED, '-p', 'tcp', ...dports, '-m', 'owner', match, id, '-j', c.inRedirect);
      // App → itself by pod address over lo is not captured, unless loopback ranges are explicitly included.
      if (!keepLoopback) {
        if (dns) b.append('nat', c.output, '-o', 'lo', '-p', 'tcp', '!', '--dport', '53', '-m', 'owner', '!', match, id, '-j', 'RETURN');
        else b.append('nat', c.output, '-o', 'lo', '-m', 'owner', '!', match, id, '-j', 'RETURN');
      }
      // The proxy's own traffic is never captured again (any protocol, any destination).
      b.append('nat', c.output, '-m', 'owner', match, id, '-j', 'RETURN');
    }
  }
}

function ownerGroups(b: Builder, o: CaptureOptions, c: ChainNames): void {
  const { mode, groups } = o.ownerGroups;
  if (mode === 'exclude') {
    for (const group of groups) b.append('nat', c.output, '-m', 'owner', '--gid-owner', group, '-j', 'RETURN');
  } else {
    b.append('nat', c.output, ...groups.flatMap((g) => ['-m', 'owner', '!', '--gid-owner', g]), '-j', 'RETURN');
  }
}

function dnsCapture(b: Builder, o: CaptureOptions, c: ChainNames): void {
  const all = o.captureAllDns;
  const v4 = o.dnsServersV4.map((s) => s.text);
  const v6 = o.dnsServersV6.map((s) => s.text);
  b.append('raw', 'OUTPUT', '-j', c.outputDns);
  if (all || v4.length > 0) b.appendV4('nat', c.output, '-j', c.outputDns);
  if (all || v6.length > 0) b.appendV6('nat', c.output, '-j', c.outputDns);
  for (const proto of ['tcp', 'udp'] as const) {
    // Istio writes --to-ports for TCP and --to-port for UDP; iptables takes both.
    const to = proto === 'tcp' ? '--to-ports' : '--to-port';
    if (all) b.append('nat', c.outputDns, '-p', proto, '--dport', '53', '-j', 'REDIRECT', to, AGENT_DNS_PORT);
    else {
      for (const s of v4) b.appendV4('nat', c.outputDns, '-p', proto, '--dport', '53', '-d', `${s}/32`, '-j', 'REDIRECT', to, AGENT_DNS_PORT);
      for (const s of v6) b.appendV6('nat', c.outputDns, '-p', proto, '--dport', '53', '-d', `${s}/128`, '-j', 'REDIRECT', to, AGENT_DNS_PORT);
    }
  }
  // Separate conntrack zones for proxy ↔ upstream DNS (1) and app ↔ agent DNS (2), against UDP conntrack races.
  const owners: [string, readonly string[]][] = [
    ['--uid-owner', o.proxyUids],
    ['--gid-owner', o.proxyGids],
  ];
  for (const [match, ids] of owners) {
    for (const id of ids) {
      b.append('raw', c.outputDns, '-p', 'udp', '--dport', '53', '-m', 'owner', match, id, '-j', 'CT', '--zone', '1');
      b.append('raw', c.outputDns, '-p', 'udp', '--sport', AGENT_DNS_PORT, '-m', 'owner', match, id, '-j', 'CT', '--zone', '2');
    }
  }
  if (all) {
    b.append('raw', 'PREROUTING', '-j', c.inbound);
    b.append('raw', c.outputDns, '-p', 'udp', '--dport', '53', '-j', 'CT', '--zone', '2');
    b.append('raw', c.inbound, '-p', 'udp', '--sport', '53', '-j', 'CT', '--zone', '1');
    return;
  }
  if (v4.length > 0) b.appendV4('raw', 'PREROUTING', '-j', c.inbound);
  for (const s of v4) {
    b.appendV4('raw', c.outputDns, '-p', 'udp', '--dport', '53', '-d', `${s}/32`, '-j', 'CT', '--zone', '2');
    b.appendV4('raw', c.inbound, '-p', 'udp', '--sport', '53', '-s', `${s}/32`, '-j', 'CT', '--zone', '1');
  }
  if (v6.length > 0) b.appendV6('raw', 'PREROUTING', '-j', c.inbound);
  for (const s of v6) {
    b.appendV6('raw', c.outputDns, '-p', 'udp', '--dport', '53', '-d', `${s}/128`, '-j', 'CT', '--zone', '2');
    b.appendV6('raw', c.inbound, '-p', 'udp', '--sport', '53', '-s', `${s}/128`, '-j', 'CT', '--zone', '1');
  }
}

function outboundInclude(o: CaptureOptions, c: ChainNames, ranges: Ranges, append: (...args: string[]) => void, insert: (...args: string[]) => void): void {
  if (ranges.all) {
    append('-j', c.redirect);
    for (const nic of o.kubeVirtInterfaces) insert('-i', nic, '-j', c.redirect);
    return;
  }
  for (const prefix of ranges.prefixes) {
    for (const nic of o.kubeVirtInterfaces) insert('-i', nic, '-d', prefix.text, '-j', c.redirect);
    append('-d', prefix.text, '-j', c.redirect);
  }
}

function tproxyMarks(b: Builder, o: CaptureOptions, c: ChainNames): void {
  const mark = String(o.tproxyMark);
  const loopback = { v4: o.hostIpv4LoopbackCidr, v6: IPV6_LOOPBACK };
  // Keep the mark the original_src listener filter sets as the connection's mark.
  b.append('mangle', 'PREROUTING', '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'CONNMARK', '--save-mark');
  // Proxy → app packets already marked are left alone.
  b.append('mangle', 'OUTPUT', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  for (const [match, ids] of [
    ['--uid-owner', o.proxyUids],
    ['--gid-owner', o.proxyGids],
  ] as const) {
    for (const id of ids) {
      b.appendVersioned(loopback, 'mangle', 'OUTPUT', '!', '-d', VERSIONED, '-p', 'tcp', '-o', 'lo', '-m', 'owner', match, id, '-j', 'MARK', '--set-mark', OUTBOUND_MARK);
    }
  }
  b.append('mangle', 'OUTPUT', '-p', 'tcp', '-m', 'connmark', '--mark', mark, '-j', 'CONNMARK', '--restore-mark');
  b.insert('mangle', c.inbound, 1, '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  b.insertV4('mangle', c.inbound, 2, '-p', 'tcp', '-s', PASSTHROUGH_SOURCE.ipv4, '-i', 'lo', '-j', 'RETURN');
  b.insertV6('mangle', c.inbound, 2, '-p', 'tcp', '-s', PASSTHROUGH_SOURCE.ipv6, '-i', 'lo', '-j', 'RETURN');
  b.insert('mangle', c.inbound, 3, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', OUTBOUND_MARK, '-j', 'RETURN');
}

function routing(o: CaptureOptions): RoutingStep[] {
  const steps: RoutingStep[] = [];
  // ::6 must exist on lo for the inbound passthrough to bind it (IPv4 has all of 127/8 on lo already).
  if (o.ipv6) steps.push({ family: 'ipv6', kind: 'address', args: ['::6/128', 'dev', 'lo'] });
  if (o.inboundMode === 'TPROXY') {
    for (const family of o.ipv6 ? (['ipv4', 'ipv6'] as const) : (['ipv4'] as const)) {
      steps.push({ family, kind: 'rule', args: ['fwmark', String(o.tproxyMark), 'lookup', String(o.tproxyRouteTable)] });
      steps.push({ family, kind: 'route', args: ['local', 'default', 'dev', 'lo', 'table', String(o.tproxyRouteTable)] });
    }
  }
  return steps;
}

export function planCapture(o: CaptureOptions): CapturePlan {
  const b = new Builder(o.ipv6);
  const c = chainNames(o.chainPrefix);
  const include4 = rangesOf(o.outboundRangesInclude, 'ipv4');
  const include6 = rangesOf(o.outboundRangesInclude, 'ipv6');
  const exclude4 = rangesOf({ all: false, items: o.outboundRangesExclude }, 'ipv4');
  const exclude6 = rangesOf({ all: false, items: o.outboundRangesExclude }, 'ipv6');
  // REDIRECT_DNS without servers to capture is a no-op in Istio (it warns), not half the rules.
  const dns = o.redirectDns && (o.captureAllDns || o.dnsServersV4.length > 0 || o.dnsServersV6.length > 0);

  for (const nic of o.excludeInterfaces) {
    b.append('nat', 'PREROUTING', '-i', nic, '-j', 'RETURN');
    b.append('nat', 'OUTPUT', '-o', nic, '-j', 'RETURN');
  }
  if (o.inboundMode === 'TPROXY') {
    for (const nic of o.excludeInterfaces) {
      b.append('mangle', 'PREROUTING', '-i', nic, '-j', 'RETURN');
      b.append('mangle', 'OUTPUT', '-o', nic, '-j', 'RETURN');
    }
  }
  for (const nic of o.kubeVirtInterfaces) b.insert('nat', 'PREROUTING', 1, '-i', nic, '-j', 'RETURN');
  if (o.dropInvalid) {
    b.append('mangle', 'PREROUTING', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', c.drop);
    b.append('mangle', c.drop, '-j', 'DROP');
  }
  b.append('nat', c.inbound, '-p', 'tcp', '--dport', String(o.inboundTunnelPort), '-j', 'RETURN');
  b.append('nat', c.redirect, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.proxyPort));
  b.append('nat', c.inRedirect, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.inboundCapturePort));
  inbound(b, o, c);

  b.append('nat', 'OUTPUT', '-j', c.output);
  for (const port of o.outboundPortsExclude) {
    b.append('nat', c.output, '-p', 'tcp', '--dport', String(port), '-j', 'RETURN');
    b.append('nat', c.output, '-p', 'udp', '--dport', String(port), '-j', 'RETURN');
  }
  b.appendVersioned({ v4: PASSTHROUGH_SOURCE.ipv4, v6: PASSTHROUGH_SOURCE.ipv6 }, 'nat', c.output, '-o', 'lo', '-s', VERSIONED, '-j', 'RETURN');
  proxyOwnerRules(b, o, c, dns, include4.hasLoopback || include6.hasLoopback);
  ownerGroups(b, o, c);
  if (dns) dnsCapture(b, o, c);

  // Envoy-aware apps and container-to-container traffic use localhost explicitly.
  b.appendVersioned({ v4: o.hostIpv4LoopbackCidr, v6: IPV6_LOOPBACK }, 'nat', c.output, '-d', VERSIONED, '-j', 'RETURN');
  for (const p of exclude4.prefixes) b.appendV4('nat', c.output, '-d', p.text, '-j', 'RETURN');
  for (const p of exclude6.prefixes) b.appendV6('nat', c.output, '-d', p.text, '-j', 'RETURN');
  for (const port of o.outboundPortsInclude) b.append('nat', c.output, '-p', 'tcp', '--dport', String(port), '-j', c.redirect);
  outboundInclude(
    o,
    c,
    include4,
    (...a) => b.appendV4('nat', c.output, ...a),
    (...a) => b.insertV4('nat', 'PREROUTING', 1, ...a),
  );
  outboundInclude(
    o,
    c,
    include6,
    (...a) => b.appendV6('nat', c.output, ...a),
    (...a) => b.insertV6('nat', 'PREROUTING', 1, ...a),
  );
  if (o.inboundMode === 'TPROXY') tproxyMarks(b, o, c);

  return { chainPrefix: o.chainPrefix, ipv4: b.v4, ...(o.ipv6 ? { ipv6: b.v6 } : {}), routing: routing(o) };
}
