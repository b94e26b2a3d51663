// What every plugin delivery owes the controller and the sidecars, in-process or over gRPC: a
// sidecar gets its own pod's set (nobody else's) at once and after each publish, versions only go
// forward, a forgotten pod starts over with an empty set that is still newer, problem reports
// come back tagged with the reporting pod, and a paused delivery (a replica that is not the
// leader) delivers nothing until resumed, when sidecars get what was published meanwhile.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MergedPlugin } from '../../src/domain/plugins/merge.js';
import type { PluginConfigSource, PodPluginSet } from '../../src/ports/plugin-config-source.js';
import type { PluginDelivery, PodReport } from '../../src/ports/plugin-delivery.js';

export interface DeliveryFixture {
  readonly delivery: PluginDelivery;
  /** A sidecar end subscribed as `pod` (`namespace/name`). */
  source(pod: string): PluginConfigSource;
  cleanup(): Promise<void>;
}

const plugin = (name: string, config: MergedPlugin['config'] = {}): MergedPlugin => ({ name, phase: 'route', config, source: 'ns1/cfg' });

/** Everything a subscribed source delivered, in order. */
function record(source: PluginConfigSource): PodPluginSet[] {
  const seen: PodPluginSet[] = [];
  source.subscribe((set) => seen.push(set));
  return seen;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets in-flight messages arrive before asserting that something did NOT happen. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

export function pluginDeliveryContract(name: string, setup: () => Promise<DeliveryFixture>): void {
  const s = suite<{ f: DeliveryFixture; sources: PluginConfigSource[] }>(`PluginDelivery contract: ${name}`);
  s.before.each(async (ctx) => {
    ctx.f = await setup();
    ctx.sources = [];
  });
  s.after.each(async (ctx) => {
    await Promise.all(ctx.sources.map((src) => src.close()));
    await ctx.f.cleanup();
  });
  const open = (ctx: { f: DeliveryFixture; sources: PluginConfigSource[] }, pod: string): PluginConfigSource => {
    const source = ctx.f.source(pod);
    ctx.sources.push(source);
    return source;
  };

  s('a sidecar gets its pod set at once, then each newer publish; other pods see none of it', async (ctx) => {
    ctx.f.delivery.publish('ns1/a', { version: 10, plugins: [plugin('response-rewrite', { headers: { set: { 'x-a': '1' } } })] });
    const a = record(open(ctx, 'ns1/a'));
    const b = record(open(ctx, 'ns1/b'));
    await until('both initial sets', () => a.length === 1 && b.length === 1);
    assert.equal(a[0], { version: 10, plugins: [plugin('response-rewrite', { headers: { set: { 'x-a': '1' } } })] });
    assert.equal(b[0]!.plugins, []);
    ctx.f.delivery.publish('ns1/a', { version: 11, plugins: [] });
    await until('the second set', () => a.length === 2);
    assert.equal(a[1], { version: 11, plugins: [] });
    await settle();
    assert.is(b.length, 1, 'pod b got a set meant for pod a');
    await until('both subscribers listed', () => ctx.f.delivery.subscribers().length === 2);
    assert.equal(ctx.f.delivery.subscribers(), ['ns1/a', 'ns1/b']);
  });

  s('versions only go forward: an older or equal version is not delivered', async (ctx) => {
    ctx.f.delivery.publish('ns1/a', { version: 20, plugins: [plugin('p20')] });
    const a = record(open(ctx, 'ns1/a'));
    await until('the first set', () => a.length === 1);
    ctx.f.delivery.publish('ns1/a', { version: 19, plugins: [plugin('p19')] });
    ctx.f.delivery.publish('ns1/a', { version: 20, plugins: [plugin('p20-again')] });
    ctx.f.delivery.publish('ns1/a', { version: 21, plugins: [plugin('p21')] });
    await until('version 21', () => a.some((set) => set.version === 21));
    await settle();
    assert.equal(
      a.map((set) => set.plugins[0]?.name),
      ['p20', 'p21'],
    );
  });

  s('a forgotten pod starts over with an empty set, newer than what it had', async (ctx) => {
    const first = Date.now() - 1000;
    ctx.f.delivery.publish('ns1/a', { version: first, plugins: [plugin('p')] });
    ctx.f.delivery.forget('ns1/a');
    const a = record(open(ctx, 'ns1/a'));
    await until('a set', () => a.length === 1);
    assert.equal(a[0]!.plugins, []);
    assert.ok(a[0]!.version > first, `empty set version ${a[0]!.version} is not newer than ${first}`);
  });

  s('problem reports come back tagged with the reporting pod', async (ctx) => {
    const reports: PodReport[] = [];
    ctx.f.delivery.onReport((r) => reports.push(r));
    ctx.f.delivery.publish('ns2/x', { version: 5, plugins: [plugin('no-such-plugin')] });
    const source = open(ctx, 'ns2/x');
    const x = record(source);
    await until('the set', () => x.length === 1);
    source.report({ version: 5, problems: [{ name: 'no-such-plugin', phase: 'route', source: 'ns1/cfg', reason: 'unknown plugin' }] });
    await until('the report', () => reports.length === 1);
    assert.equal(reports[0], { pod: 'ns2/x', version: 5, problems: [{ name: 'no-such-plugin', phase: 'route', source: 'ns1/cfg', reason: 'unknown plugin' }] });
  });

  s('paused, it delivers nothing and sheds its subscribers; resumed, they get the sets published meanwhile', async (ctx) => {
    ctx.f.delivery.publish('ns1/a', { version: 30, plugins: [plugin('p30')] });
    const a = record(open(ctx, 'ns1/a'));
    await until('the first set', () => a.length === 1);
    ctx.f.delivery.pause('not the leader');
    await until('no subscribers', () => ctx.f.delivery.subscribers().length === 0);
    ctx.f.delivery.publish('ns1/a', { version: 31, plugins: [plugin('p31')] });
    const b = record(open(ctx, 'ns1/b'));
    await settle();
    assert.is(a.length, 1, 'a paused delivery delivered to a');
    assert.is(b.length, 0, 'a paused delivery accepted b');
    ctx.f.delivery.resume();
    await until('both back', () => a.length === 2 && b.length === 1, 10_000);
    assert.equal(a[1], { version: 31, plugins: [plugin('p31')] });
    assert.equal(b[0]!.plugins, []);
  });

  s('pausing drops what was published before: a resumed delivery only has what is published after', async (ctx) => {
    ctx.f.delivery.publish('ns1/a', { version: 40, plugins: [plugin('stale')] });
    ctx.f.delivery.pause('deposed');
    ctx.f.delivery.resume();
    const a = record(open(ctx, 'ns1/a'));
    await until('a set', () => a.length === 1);
    assert.equal(a[0]!.plugins, []);
  });

  s.run();
}
