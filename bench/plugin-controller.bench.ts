// AmeshPluginConfig controller figures (`npm run bench:plugins`, figures in docs/benchmarks.md):
//   1. reconcile cost in process (in-memory cluster and delivery): the first full pass over N pods,
//      then one selector change (the pass that finds and publishes the affected pods);
//   2. with --kube, on a real kube-apiserver + etcd (test/support/kube.ts): the time from creating or
//      changing an AmeshPluginConfig to the set arriving at a gRPC subscriber, and the pod-create
//      latency the injection webhook adds.
import { parseArgs } from 'node:util';
import { MemoryPluginConfigCluster } from '../src/adapters/memory/memory-plugin-config-cluster.js';
import { MemoryPluginDelivery } from '../src/adapters/memory/memory-plugin-delivery.js';
import { PluginController } from '../src/app/controller/plugin-controller.js';
import { VersionClock } from '../src/domain/plugins/version-clock.js';
import type { Logger } from '../src/ports/logger.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,30000' },
    namespaces: { type: 'string', default: '100' },
    kube: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '30' },
  },
});

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));

async function inProcess(pods: number, namespaces: number): Promise<string> {
  const cluster = new MemoryPluginConfigCluster();
  for (let i = 0; i < pods; i++) cluster.putPod({ namespace: `ns-${i % namespaces}`, name: `pod-${i}`, labels: { app: `app-${i % 20}`, tier: i % 2 === 0 ? 'front' : 'back' } });
  for (let n = 0; n < namespaces; n++) {
    cluster.putConfig(`ns-${n}`, 'all', { plugins: [{ name: 'prometheus', phase: 'route', config: { prefer_name: true } }] });
    cluster.putConfig(`ns-${n}`, 'front', {
      priority: 5,
      selector: { matchLabels: { tier: 'front' } },
      plugins: [{ name: 'limit-count', phase: 'route', config: { count: 100, time_window: 60 } }],
    });
  }
  const clock = new VersionClock(Date.now);
  const delivery = new MemoryPluginDelivery(() => clock.next());
  let published = 0;
  const publish = delivery.publish.bind(delivery);
  delivery.publish = (pod, set) => {
    published++;
    publish(pod, set);
  };
  const controller = new PluginController({ cluster, delivery, clock, logger: quiet }, { resyncMs: 3_600_000 });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  // Every pass starts with the controller's 10 ms coalescing delay, subtracted below.
  let t = performance.now();
  await controller.start();
  await controller.idle();
  const first = performance.now() - t - 10;
  const firstPublished = published;
  const changes: number[] = [];
  for (let k = 0; k < 10; k++) {
    published = 0;
    t = performance.now();
    cluster.putConfig('ns-0', 'front', {
      priority: 5,
      selector: { matchLabels: { tier: k % 2 === 0 ? 'back' : 'front' } },
      plugins: [{ name: 'limit-count', phase: 'route', config: { count: 100, time_window: 60 } }],
    });
    await controller.idle();
    changes.push(performance.now() - t - 10);
  }
  const rss = (process.memoryUsage().rss - rssBefore) / 1e6;
  await controller.stop();
  changes.sort((a, b) => a - b);
  return `| ${pods} | ${namespaces * 2} | ${fmt(first)} (${firstPublished} sets) | ${fmt(pct(changes, 50))} / ${fmt(changes.at(-1)!)} (${published} sets) | ${rss.toFixed(0)} |`;
}

async function onKube(repeat: number): Promise<void> {
  const { kubeAvailable, startKube } = await import('../test/support/kube.js');
  const objects = await import('../test/support/kube-objects.js');
  const { buildControllerContainer, ControllerAppToken } = await import('../src/app/controller/controller-container.js');
  const { parseControllerConfig } = await import('../src/app/controller/controller-config.js');
  const { GrpcPluginConfigSource } = await import('../src/adapters/plugin-grpc/grpc-plugin-config-source.js');
  const available = kubeAvailable();
  if (!available.apiserver || !available.etcd) {
    console.log(`--kube skipped: ${available.reason ?? ''}`);
    return;
  }
  const kube = await startKube();
  const kc = kube.kubeConfig();
  await objects.applyPluginConfigCrd(kc);
  await objects.createNamespace(kc, 'bench');
  await objects.createPod(kc, 'bench', 'web-1', { app: 'web' });
  const config = parseControllerConfig({ listen: '127.0.0.1:0', healthAddress: 'off' });
  if (!config.ok) throw new Error(config.error);
  const app = buildControllerContainer(config.value, {
    kubeConfig: kc,
    logger: process.env['BENCH_DEBUG'] ? { ...quiet, warn: (f, m) => console.log('warn', m, f), info: (f, m) => console.log('info', m, f) } : quiet,
  }).get<import('../src/app/controller/controller-app.js').ControllerApp>(ControllerAppToken);
  await app.start();
  const source = new GrpcPluginConfigSource({ target: app.address!, pod: { namespace: 'bench', name: 'web-1' }, logger: quiet });
  let waiting: ((version: number) => void) | undefined;
  source.subscribe((set) => waiting?.(set.version));
  await new Promise((r) => setTimeout(r, 500));
  const latencies: number[] = [];
  const calls: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const arrived = new Promise<number>((resolve) => (waiting = resolve));
    const t = performance.now();
    if (i === 0) await objects.createPluginConfig(kc, 'bench', 'p', { plugins: [{ name: 'limit-count', config: { count: i + 1, time_window: 60 } }] });
    else await objects.replacePluginConfigSpec(kc, 'bench', 'p', { plugins: [{ name: 'limit-count', config: { count: i + 1, time_window: 60 } }] });
    calls.push(performance.now() - t);
    await arrived;
    latencies.push(performance.now() - t);
  }
  const [create, ...changes] = latencies;
  changes.sort((a, b) => a - b);
  const [createCall, ...changeCalls] = calls;
  changeCalls.sort((a, b) => a - b);
  console.log(`\nkube-apiserver → controller → gRPC subscriber (ms from issuing the API call to the set arriving; the API call alone in brackets):`);
  console.log(
    `  create: ${fmt(create!)} (${fmt(createCall!)}); ${changes.length} spec changes: median ${fmt(pct(changes, 50))} (${fmt(pct(changeCalls, 50))}), p95 ${fmt(pct(changes, 95))}, max ${fmt(changes.at(-1)!)}`,
  );
  await source.close();
  await app.stop();
  await kube.stop();
}

const sizes = args.sizes.split(',').map(Number);
const namespaces = Number(args.namespaces);
console.log('In process (in-memory cluster and delivery), 2 configs per namespace:\n');
console.log('| pods | configs | first full pass, ms | one selector change, ms median / max | RSS growth, MB |');
console.log('|---|---|---|---|---|');
for (const pods of sizes) console.log(await inProcess(pods, namespaces));
if (args.kube) await onKube(Number(args.repeat));
