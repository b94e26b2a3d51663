// What every TrafficInterceptor owes the apps, wherever the rules go: a plan is put in force
// completely (verify agrees), installing again replaces instead of duplicating, uninstall leaves the
// namespace's tables exactly as they were (other owners' rules untouched), and a plan the kernel
// refuses leaves nothing behind, in either family. Each adapter's test runs this suite.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCaptureOptions, type RawCaptureOptions } from '../../src/domain/capture/capture-options.js';
import { planCapture, type CapturePlan } from '../../src/domain/capture/plan.js';
import type { TrafficInterceptor } from '../../src/ports/traffic-interceptor.js';

export type Family = 'ipv4' | 'ipv6';

/** Rules of other owners the namespace starts with (kube-proxy-like), per family, as iptables-save text. */
export const FOREIGN_RULES: Readonly<Record<Family, string>> = {
  ipv4: [
    '*filter',
    ':OTHER_FILTER - [0:0]',
    '-A INPUT -p tcp --dport 22 -j ACCEPT',
    '-A OTHER_FILTER -j RETURN',
    'COMMIT',
    '*mangle',
    '-A PREROUTING -d 192.0.2.1/32 -j RETURN',
    'COMMIT',
    '*nat',
    ':OTHER_NAT - [0:0]',
    '-A OUTPUT -d 192.0.2.2/32 -j OTHER_NAT',
    '-A OTHER_NAT -j RETURN',
    'COMMIT',
    '*raw',
    '-A OUTPUT -d 192.0.2.3/32 -j RETURN',
    'COMMIT',
    '',
  ].join('\n'),
  ipv6: ['*nat', ':OTHER_NAT - [0:0]', '-A OUTPUT -d 2001:db8::2/128 -j OTHER_NAT', '-A OTHER_NAT -j RETURN', 'COMMIT', ''].join('\n'),
};

export interface InterceptorFixture {
  readonly interceptor: TrafficInterceptor;
  /** The namespace's tables read independently of the interceptor, without counters or comments. */
  tables(): Promise<Record<Family, string>>;
  cleanup(): Promise<void>;
}

export function planOf(raw: RawCaptureOptions): CapturePlan {
  const parsed = parseCaptureOptions(raw);
  if (!parsed.ok) throw new Error(`test options rejected: ${JSON.stringify(parsed.error)}`);
  return planCapture(parsed.value.options);
}

/** Istio's injected defaults plus DNS capture and invalid-packet drop: nat, mangle and raw, both families. */
export const SIDECAR_PLAN = planOf({
  inboundPortsInclude: '*',
  inboundPortsExclude: '15090,15021,15020',
  outboundIpRangesInclude: '*',
  outboundIpRangesExclude: '10.1.0.0/16,fd00:1::/64',
  redirectDns: true,
  dnsServersV4: ['10.96.0.10'],
  dnsServersV6: ['fd00::a'],
  dropInvalid: true,
  ipv6: true,
});
/** A different capture under the same prefix: TPROXY inbound, only some ports and ranges. */
export const TPROXY_PLAN = planOf({
  inboundInterceptionMode: 'TPROXY',
  inboundPortsInclude: '8080,9090',
  outboundIpRangesInclude: '10.0.0.0/8,fd00::/8',
  outboundPortsExclude: '3306',
  ipv6: true,
});

const withBogusRule = (plan: CapturePlan, family: Family): CapturePlan => {
  const bogus = { table: 'nat' as const, chain: `${plan.chainPrefix}_OUTPUT`, args: ['-m', 'amesh-no-such-match', '-j', 'RETURN'] };
  return family === 'ipv4' ? { ...plan, ipv4: [...plan.ipv4, bogus] } : { ...plan, ipv6: [...(plan.ipv6 ?? []), bogus] };
};

export function trafficInterceptorContract(name: string, setup: () => Promise<InterceptorFixture>): void {
  const s = suite(`TrafficInterceptor contract: ${name}`);
  let f: InterceptorFixture;
  let before: Record<Family, string>;
  s.before.each(async () => {
    f = await setup();
    before = await f.tables();
  });
  s.after.each(async () => {
    await f.cleanup();
  });

  s('plan() describes IPv4 then IPv6 and touches nothing', async () => {
    const text = f.interceptor.plan(SIDECAR_PLAN);
    assert.ok(text.indexOf('# IPv4') < text.indexOf('# IPv6'), 'IPv4 first');
    assert.match(text, '-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
    assert.equal(await f.tables(), before);
  });

  s('install puts the whole plan in force beside the rules of others; verify agrees', async () => {
    const installed = await f.interceptor.install(SIDECAR_PLAN);
    if (!installed.ok) throw new Error(JSON.stringify(installed.error));
    assert.is(installed.value.rules, SIDECAR_PLAN.ipv4.length + (SIDECAR_PLAN.ipv6?.length ?? 0));
    assert.is(installed.value.replaced, 0);
    assert.equal(await f.interceptor.verify(SIDECAR_PLAN), { ok: true, value: undefined });
    const tables = await f.tables();
    for (const chain of ['ISTIO_OUTPUT', 'ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT_DNS', 'ISTIO_DROP']) assert.match(tables.ipv4, `:${chain}`);
    for (const family of ['ipv4', 'ipv6'] as const) {
      for (const line of before[family].split('\n').filter((l) => l.startsWith('-A'))) assert.ok(tables[family].includes(line), `${family} keeps ${line}`);
    }
  });

  s('install twice leaves one copy; uninstall then leaves the tables exactly as before', async () => {
    const first = await f.interceptor.install(SIDECAR_PLAN);
    assert.ok(first.ok);
    const once = await f.tables();
    const second = await f.interceptor.install(SIDECAR_PLAN);
    if (!second.ok) throw new Error(JSON.stringify(second.error));
    assert.is(second.value.replaced, SIDECAR_PLAN.ipv4.length + (SIDECAR_PLAN.ipv6?.length ?? 0), 'the first copy was replaced');
    assert.equal(await f.tables(), once, 'same tables after a second install');
    const removed = await f.interceptor.uninstall(SIDECAR_PLAN);
    if (!removed.ok) throw new Error(JSON.stringify(removed.error));
    assert.ok(removed.value.chains >= 6, `${removed.value.chains} chains removed`);
    assert.equal(await f.tables(), before);
    const verified = await f.interceptor.verify(SIDECAR_PLAN);
    assert.is(verified.ok, false, 'nothing in force after uninstall');
    if (!verified.ok) assert.is(verified.error.kind, 'verification');
  });

  s('uninstall with nothing installed is a no-op', async () => {
    const removed = await f.interceptor.uninstall(SIDECAR_PLAN);
    assert.equal(removed, { ok: true, value: { rules: 0, chains: 0 } });
    assert.equal(await f.tables(), before);
  });

  s('a different plan under the same prefix replaces the first one entirely', async () => {
    assert.ok((await f.interceptor.install(SIDECAR_PLAN)).ok);
    const replaced = await f.interceptor.install(TPROXY_PLAN);
    if (!replaced.ok) throw new Error(JSON.stringify(replaced.error));
    assert.equal(await f.interceptor.verify(TPROXY_PLAN), { ok: true, value: undefined });
    assert.is((await f.interceptor.verify(SIDECAR_PLAN)).ok, false);
    assert.ok((await f.interceptor.uninstall(TPROXY_PLAN)).ok);
    assert.equal(await f.tables(), before);
  });

  s('a rule the kernel lacks fails the install, names the rule, and leaves nothing behind', async () => {
    const failed = await f.interceptor.install(withBogusRule(SIDECAR_PLAN, 'ipv4'));
    assert.is(failed.ok, false);
    if (failed.ok) return;
    assert.is(failed.error.kind, 'missing-kernel-feature', failed.error.message);
    assert.match(failed.error.message, 'amesh-no-such-match');
    assert.is(failed.error.rule, '-A ISTIO_OUTPUT -m amesh-no-such-match -j RETURN');
    assert.is(failed.error.rolledBack, true);
    assert.equal(await f.tables(), before);
  });

  s('an IPv6 failure after IPv4 went in rolls IPv4 back, and an earlier install stays in force', async () => {
    assert.ok((await f.interceptor.install(TPROXY_PLAN)).ok);
    const earlier = await f.tables();
    const failed = await f.interceptor.install(withBogusRule(SIDECAR_PLAN, 'ipv6'));
    assert.is(failed.ok, false);
    if (failed.ok) return;
    assert.is(failed.error.kind, 'missing-kernel-feature', failed.error.message);
    assert.is(failed.error.rolledBack, true);
    assert.equal(await f.tables(), earlier);
    assert.equal(await f.interceptor.verify(TPROXY_PLAN), { ok: true, value: undefined });
  });

  s.run();
}
