// The capture policy: which traffic of a pod is sent to the proxy, in istio-iptables' own terms.
// `RawCaptureOptions` is what a user typed (strings, as istio-iptables takes them); `parseCaptureOptions`
// checks all of it and returns either a `CaptureOptions` the planner can trust or every problem found,
// each naming the option, so nothing is applied from half-valid input.
import { err, ok, type Result } from '../result.js';
import { parseIpAddress, parseIpPrefix, prefixContains, type IpAddress, type IpPrefix } from './address.js';

export type InterceptionMode = 'REDIRECT' | 'TPROXY';

/** istio-iptables' options, named after its Go config fields. Lists are comma-separated. */
export interface RawCaptureOptions {
  readonly proxyPort?: string;
  readonly inboundCapturePort?: string;
  readonly inboundTunnelPort?: string;
  readonly proxyUid?: string;
  readonly proxyGid?: string;
  readonly inboundInterceptionMode?: string;
  readonly inboundTproxyMark?: string;
  readonly inboundTproxyRouteTable?: string;
  readonly inboundPortsInclude?: string;
  readonly inboundPortsExclude?: string;
  readonly outboundPortsInclude?: string;
  readonly outboundPortsExclude?: string;
  readonly outboundIpRangesInclude?: string;
  readonly outboundIpRangesExclude?: string;
  readonly kubeVirtInterfaces?: string;
  readonly excludeInterfaces?: string;
  readonly ownerGroupsInclude?: string;
  readonly ownerGroupsExclude?: string;
  readonly redirectDns?: boolean;
  readonly captureAllDns?: boolean;
  readonly dropInvalid?: boolean;
  readonly dnsServersV4?: readonly string[];
  readonly dnsServersV6?: readonly string[];
  readonly ipv6?: boolean;
  readonly hostIpv4LoopbackCidr?: string;
  readonly chainPrefix?: string;
}

export type CaptureOptionName = keyof RawCaptureOptions;

export type Selection<T> = { readonly all: true } | { readonly all: false; readonly items: readonly T[] };

export interface CaptureOptions {
  readonly proxyPort: number;
  readonly inboundCapturePort: number;
  readonly inboundTunnelPort: number;
  readonly proxyUids: readonly string[];
  readonly proxyGids: readonly string[];
  readonly inboundMode: InterceptionMode;
  readonly tproxyMark: number;
  readonly tproxyRouteTable: number;
  /** Empty list: inbound traffic is not captured. */
  readonly inboundPorts: Selection<number>;
  /** Only meaningful with `inboundPorts` = all (as in istio-iptables). */
  readonly inboundPortsExclude: readonly number[];
  readonly outboundPortsInclude: readonly number[];
  readonly outboundPortsExclude: readonly number[];
  readonly outboundRangesInclude: Selection<IpPrefix>;
  readonly outboundRangesExclude: readonly IpPrefix[];
  readonly kubeVirtInterfaces: readonly string[];
  readonly excludeInterfaces: readonly string[];
  /** include: only these groups' traffic is captured; exclude: everyone's but theirs. */
  readonly ownerGroups: { readonly mode: 'include' | 'exclude'; readonly groups: readonly string[] };
  readonly redirectDns: boolean;
  readonly captureAllDns: boolean;
  readonly dnsServersV4: readonly IpAddress[];
  readonly dnsServersV6: readonly IpAddress[];
  readonly dropInvalid: boolean;
  readonly ipv6: boolean;
  readonly hostIpv4LoopbackCidr: string;
  readonly chainPrefix: string;
}

export interface OptionProblem {
  readonly option: CaptureOptionName;
  readonly message: string;
}

export interface ParsedCaptureOptions {
  readonly options: CaptureOptions;
  /** Accepted but without effect (istio-iptables takes them silently). */
  readonly warnings: readonly OptionProblem[];
}

/** istio-iptables' defaults (pkg/cmd/root.go, pkg/constants). */
export const CAPTURE_DEFAULTS = {
  proxyPort: '15001',
  inboundCapturePort: '15006',
  inboundTunnelPort: '15008',
  proxyUid: '1337',
  inboundInterceptionMode: 'REDIRECT',
  inboundTproxyMark: '1337',
  inboundTproxyRouteTable: '133',
  ownerGroupsInclude: '*',
  hostIpv4LoopbackCidr: '127.0.0.1/32',
  chainPrefix: 'ISTIO',
} as const satisfies RawCaptureOptions;

/** Splits a comma-separated list, dropping blanks (`6000,7000,` is two ports, as in Istio). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const INTERFACE = /^[A-Za-z0-9_.:@+-]{1,15}$/;
// iptables chain names are at most 28 characters; the longest suffix is _IN_REDIRECT (12).
const PREFIX = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;

class Checker {
  readonly problems: OptionProblem[] = [];
  readonly warnings: OptionProblem[] = [];

  fail(option: CaptureOptionName, message: string): void {
    this.problems.push({ option, message });
  }

  port(option: CaptureOptionName, text: string): number {
    if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
      this.fail(option, `"${text}" is not a port (1–65535)`);
      return 0;
    }
    return Number(text);
  }

  ports(option: CaptureOptionName, text: string | undefined): number[] {
    const ports: number[] = [];
    for (const item of splitList(text)) {
      if (item === '*') this.fail(option, '"*" is not allowed here; list ports');
      else ports.push(this.port(option, item));
    }
    return ports;
  }

  unsigned(option: CaptureOptionName, text: string, min: number): number {
    if (!/^[0-9]{1,10}$/.test(text) || Number(text) < min || Number(text) > 0xffffffff) {
      this.fail(option, `"${text}" is not a number from ${min} to 4294967295`);
      return 0;
    }
    return Number(text);
  }

  owners(option: CaptureOptionName, text: string | undefined, what: string): string[] {
    const items = splitList(text);
    for (const item of items) {
      const numeric = /^[0-9]{1,10}$/.test(item) && Number(item) <= 0xffffffff;
      if (!numeric && !NAME.test(item)) this.fail(option, `"${item}" is not a ${what} id or name`);
    }
    return items;
  }

  prefixes(option: CaptureOptionName, text: string | undefined): Selection<IpPrefix> {
    const items = splitList(text);
    if (items.length === 1 && items[0] === '*') return { all: true };
    const prefixes: IpPrefix[] = [];
    for (const item of items) {
      if (item === '*') {
        this.fail(option, '"*" must be the only entry');
        continue;
      }
      const prefix = parseIpPrefix(item);
      if (prefix.ok) prefixes.push(prefix.value);
      else this.fail(option, prefix.error);
    }
    return { all: false, items: prefixes };
  }

  interfaces(option: CaptureOptionName, text: string | undefined): string[] {
    const items = splitList(text);
    for (const item of items) if (!INTERFACE.test(item)) this.fail(option, `"${item}" is not a network interface name`);
    return items;
  }

  servers(option: CaptureOptionName, list: readonly string[] | undefined, family: 'ipv4' | 'ipv6'): IpAddress[] {
    const out: IpAddress[] = [];
    for (const item of list ?? []) {
      const address = parseIpAddress(item);
      if (!address.ok) this.fail(option, address.error);
      else if (address.value.family !== family) this.fail(option, `"${item}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
      else out.push(address.value);
    }
    return out;
  }

  overlap(exclude: CaptureOptionName, included: readonly number[], excluded: readonly number[]): void {
    const both = included.filter((p) => excluded.includes(p));
    if (both.length > 0) this.fail(exclude, `port${both.length > 1 ? 's' : ''} ${both.join(',')} also listed as included: a port cannot be both`);
  }
}

export function parseCaptureOptions(raw: RawCaptureOptions): Result<ParsedCaptureOptions, readonly OptionProblem[]> {
  const c = new Checker();
  const value = <K extends keyof typeof CAPTURE_DEFAULTS>(key: K): string => (raw[key] ?? '').trim() || CAPTURE_DEFAULTS[key];

  const mode = value('inboundInterceptionMode').toUpperCase();
  if (mode !== 'REDIRECT' && mode !== 'TPROXY') c.fail('inboundInterceptionMode', `"${raw.inboundInterceptionMode}" is not REDIRECT or TPROXY`);

  const inboundText = (raw.inboundPortsInclude ?? '').trim();
  const inboundPorts: Selection<number> = inboundText === '*' ? { all: true } : { all: false, items: c.ports('inboundPortsInclude', inboundText) };
  const inboundPortsExclude = c.ports('inboundPortsExclude', raw.inboundPortsExclude);
  if (!inboundPorts.all) {
    c.overlap('inboundPortsExclude', inboundPorts.items, inboundPortsExclude);
    if (inboundPortsExclude.length > 0) c.warnings.push({ option: 'inboundPortsExclude', message: 'has effect only when all inbound ports ("*") are captured' });
  }
  const outboundPortsInclude = c.ports('outboundPortsInclude', raw.outboundPortsInclude);
  const outboundPortsExclude = c.ports('outboundPortsExclude', raw.outboundPortsExclude);
  c.overlap('outboundPortsExclude', outboundPortsInclude, outboundPortsExclude);

  const outboundRangesInclude = c.prefixes('outboundIpRangesInclude', raw.outboundIpRangesInclude);
  const excluded = c.prefixes('outboundIpRangesExclude', raw.outboundIpRangesExclude);
  if (excluded.all) c.fail('outboundIpRangesExclude', '"*" would exclude every destination; leave --istio-service-cidr empty instead');
  const outboundRangesExclude = excluded.all ? [] : excluded.items;
  if (!outboundRangesInclude.all) {
    for (const inc of outboundRangesInclude.items) {
      const cover = outboundRangesExclude.find((exc) => prefixContains(exc, inc));
      // Istio's own golden "ipv6-ipnets" includes and excludes the same range: the exclusion wins.
      if (cover) c.warnings.push({ option: 'outboundIpRangesInclude', message: `${inc.text} is inside the excluded ${cover.text}: never captured` });
    }
  }

  const loopback = parseIpPrefix(value('hostIpv4LoopbackCidr'));
  if (!loopback.ok) c.fail('hostIpv4LoopbackCidr', loopback.error);
  else if (loopback.value.address.family !== 'ipv4') c.fail('hostIpv4LoopbackCidr', `"${loopback.value.text}" is not an IPv4 prefix`);

  const includeGroups = (raw.ownerGroupsInclude ?? '').trim() || '*';
  const excludeGroups = c.owners('ownerGroupsExclude', raw.ownerGroupsExclude, 'group');
  let ownerGroups: CaptureOptions['ownerGroups'];
  if (includeGroups === '*') ownerGroups = { mode: 'exclude', groups: excludeGroups };
  else {
    ownerGroups = { mode: 'include', groups: c.owners('ownerGroupsInclude', includeGroups, 'group') };
    if (excludeGroups.length > 0) c.fail('ownerGroupsExclude', 'cannot be combined with an explicit list of included owner groups');
  }

  const proxyUids = c.owners('proxyUid', value('proxyUid'), 'user');
  const proxyGids = raw.proxyGid?.trim() ? c.owners('proxyGid', raw.proxyGid, 'group') : proxyUids;

  const chainPrefix = value('chainPrefix');
  if (!PREFIX.test(chainPrefix)) c.fail('chainPrefix', `"${chainPrefix}" is not a chain prefix (a letter, then up to 15 letters, digits, _ or -)`);

  const options: CaptureOptions = {
    proxyPort: c.port('proxyPort', value('proxyPort')),
    inboundCapturePort: c.port('inboundCapturePort', value('inboundCapturePort')),
    inboundTunnelPort: c.port('inboundTunnelPort', value('inboundTunnelPort')),
    proxyUids,
    proxyGids,
    inboundMode: mode === 'TPROXY' ? 'TPROXY' : 'REDIRECT',
    tproxyMark: c.unsigned('inboundTproxyMark', value('inboundTproxyMark'), 1),
    tproxyRouteTable: c.unsigned('inboundTproxyRouteTable', value('inboundTproxyRouteTable'), 1),
    inboundPorts,
    inboundPortsExclude,
    outboundPortsInclude,
    outboundPortsExclude,
    outboundRangesInclude,
    outboundRangesExclude,
    kubeVirtInterfaces: c.interfaces('kubeVirtInterfaces', raw.kubeVirtInterfaces),
    excludeInterfaces: c.interfaces('excludeInterfaces', raw.excludeInterfaces),
    ownerGroups,
    redirectDns: raw.redirectDns ?? false,
    captureAllDns: raw.captureAllDns ?? false,
    dnsServersV4: c.servers('dnsServersV4', raw.dnsServersV4, 'ipv4'),
    dnsServersV6: c.servers('dnsServersV6', raw.dnsServersV6, 'ipv6'),
    dropInvalid: raw.dropInvalid ?? false,
    ipv6: raw.ipv6 ?? false,
    hostIpv4LoopbackCidr: value('hostIpv4LoopbackCidr'),
    chainPrefix,
  };
  if (proxyUids.length === 0) c.fail('proxyUid', 'at least one proxy user is needed, or the proxy would capture its own traffic');
  if (options.proxyPort !== 0 && options.proxyPort === options.inboundCapturePort) {
    c.fail('inboundCapturePort', `must differ from the outbound proxy port ${options.proxyPort}`);
  }
  return c.problems.length > 0 ? err(c.problems) : ok({ options, warnings: c.warnings });
}
