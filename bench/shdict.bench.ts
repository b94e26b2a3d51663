// Shared-dict sink, measured against a real Debian nginx: time from ShdictConfigSink.apply() to its
// resolution, which happens only after libxds.so inside nginx has stored every key and bumped
// `version` (the acknowledgement is written after the stores), i.e. to "all keys visible in nginx".
// Cases: one object; 10k objects created; one-object updates while 10k are present (the next config
// built by a full diff, and built as the sidecar's change-set path builds it). Every few
// samples the dict is read back over HTTP and compared, so the timings are of correct applies.
// `npm run bench:shdict -- --help`. Needs root and the nginx packages (see test/support/nginx-shdict.ts).
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShdictConfigSink } from '../src/adapters/shdict-sink/shdict-sink.js';
import { StateEncoder } from '../src/adapters/shdict-sink/state-encoding.js';
import { applyChangeSet, diffConfigs, type ChangeSet } from '../src/domain/diff.js';
import { GatewayConfig } from '../src/domain/gateway-config.js';
import { canonicalJson, type JsonValue } from '../src/domain/json.js';
import { MARKER_KEY, NGINX_GID, NginxShdict, nginxUnavailable } from '../test/support/nginx-shdict.js';
import { changedRoute, meshConfig, withRouteChanged } from '../test/support/shdict-configs.js';

const { values: args } = parseArgs({
  options: {
    'one-samples': { type: 'string', default: '1000' },
    'bulk-samples': { type: 'string', default: '10' },
    'update-samples': { type: 'string', default: '300' },
    objects: { type: 'string', default: '10000' },
    // Production puts the file in /run/amesh, a tmpfs; the test prefix under /tmp may be a disk
    // filesystem, where writing a shared mapping also dirties page cache for writeback.
    'shm-dir': { type: 'string', default: existsSync('/dev/shm') ? '/dev/shm' : '' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('npm run bench:shdict -- [--one-samples 1000] [--bulk-samples 10] [--update-samples 300] [--objects 10000] [--shm-dir /dev/shm|""]');
  process.exit(0);
}
const GOALS = { oneP99Ms: 2, bulkMs: 100 };

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const f = (ms: number): string => ms.toFixed(ms < 10 ? 2 : 1);
const row = (name: string, samples: number[]): string => `| ${name} | ${samples.length} | ${[50, 90, 99, 100].map((p) => f(percentile(samples, p))).join(' / ')} |`;

async function timedApply(sink: ShdictConfigSink, from: GatewayConfig, to: GatewayConfig): Promise<number> {
  const changes = diffConfigs(from, to); // the sidecar diffs before calling the sink: not part of the sink's time
  const started = performance.now();
  const result = await sink.apply({ desired: to, changes });
  const ms = performance.now() - started;
  if (result.failed.length > 0) throw new Error(`apply failed: ${JSON.stringify(result.failed)}`);
  return ms;
}

async function verify(nginx: NginxShdict, config: GatewayConfig): Promise<void> {
  const dump = await nginx.dump();
  const keys = [...dump.keys.keys()].filter((k) => k !== MARKER_KEY);
  if (keys.length !== config.objects.size) throw new Error(`dict holds ${keys.length} keys, expected ${config.objects.size}`);
  for (const [key, object] of config.objects) {
    const value = dump.keys.get(`/${object.kind}/${object.id}`);
    if (value === undefined || canonicalJson(JSON.parse(value) as JsonValue) !== config.canonicalOf(key)) throw new Error(`dict value of ${key} differs`);
  }
}

async function main(): Promise<void> {
  const unavailable = nginxUnavailable();
  if (unavailable) {
    console.log(`bench:shdict skipped: ${unavailable}`);
    return;
  }
  const objects = Number(args.objects);
  const { prefix, shmDir: prefixShmDir } = await NginxShdict.makeDirs();
  const ownShmDir = args['shm-dir'] ? await mkdtemp(join(args['shm-dir'], 'amesh-bench-')) : undefined;
  if (ownShmDir) {
    await chown(ownShmDir, 0, NGINX_GID);
    await chmod(ownShmDir, 0o750);
  }
  const shmPath = join(ownShmDir ?? prefixShmDir, 'xds.shm');
  const nginx = await NginxShdict.start(prefix, { shmPath });
  const sink = new ShdictConfigSink({ path: shmPath, group: NGINX_GID });
  try {
    // One object, its content changing every time.
    let current = GatewayConfig.empty();
    const one: number[] = [];
    for (let i = 0; i < 50 + Number(args['one-samples']); i++) {
      const next = meshConfig(2, `o${i}`, `t${i}`);
      const single = GatewayConfig.of(
        `o${i}`,
        [...next.objects.values()].filter((o) => o.kind === 'upstreams'),
      );
      const ms = await timedApply(sink, current, single);
      if (i >= 50) one.push(ms);
      current = single;
      if (i % 100 === 0) await verify(nginx, current);
    }

    // 10k objects created from an (almost) empty dict; emptied again untimed between samples.
    const bulk: number[] = [];
    for (let i = 0; i < Number(args['bulk-samples']); i++) {
      const big = meshConfig(objects, `b${i}`, `bulk${i}`);
      bulk.push(await timedApply(sink, current, big));
      await verify(nginx, big);
      current = big;
      if (i < Number(args['bulk-samples']) - 1) {
        await timedApply(sink, current, GatewayConfig.empty());
        current = GatewayConfig.empty();
      }
    }

    // One route changed at a time while `objects` are present.
    const updates: number[] = [];
    for (let i = 0; i < 20 + Number(args['update-samples']); i++) {
      const next = withRouteChanged(current, `u${i}`, i % (objects / 2), `u${i}`);
      const ms = await timedApply(sink, current, next);
      if (i >= 20) updates.push(ms);
      current = next;
      if (i % 50 === 0) await verify(nginx, current);
    }
    await verify(nginx, current);

    // The same, built as the sidecar does when the translator hands it a change set: the next config
    // patches the last one (O(change), src/domain/diff.ts applyChangeSet), so the bench itself makes
    // little garbage and V8's collector rarely runs inside the timed apply.
    const incremental: number[] = [];
    for (let i = 0; i < 20 + Number(args['update-samples']); i++) {
      const object = changedRoute(i % (objects / 2), `p${i}`);
      const key = `routes/${object.id}`;
      const changes: ChangeSet = { fromVersion: current.version, toVersion: `p${i}`, changes: [{ op: 'update', key, object, previous: current.objects.get(key)! }] };
      const next = applyChangeSet(current, changes);
      const started = performance.now();
      const result = await sink.apply({ desired: next, changes });
      const ms = performance.now() - started;
      if (result.failed.length > 0) throw new Error(`apply failed: ${JSON.stringify(result.failed)}`);
      if (i >= 20) incremental.push(ms);
      current = next;
      if (i % 50 === 0) await verify(nginx, current);
    }
    await verify(nginx, current);

    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (at the end of the run)`,
    );
    console.log(`shared-memory file ${shmPath}`);
    console.log(`nginx ${prefix}, ${objects} objects of ~${Math.round(new StateEncoder().encode(current).payload.length / objects)} bytes (routes and upstreams)\n`);
    console.log('| case | samples | apply → visible in nginx, ms p50 / p90 / p99 / max |');
    console.log('|---|---|---|');
    console.log(row('1 object (changed each time)', one));
    console.log(row(`${objects} objects created`, bulk));
    console.log(row(`1 route changed while ${objects} present`, updates));
    console.log(row(`1 route changed while ${objects} present, sidecar's change-set path`, incremental));
    console.log('');
    const oneP99 = percentile(one, 99);
    const bulkMax = percentile(bulk, 100);
    console.log(`goal 1 object ≤ ${GOALS.oneP99Ms} ms p99: ${oneP99 <= GOALS.oneP99Ms ? 'met' : 'MISSED'} (${f(oneP99)} ms)`);
    console.log(`goal ${objects} objects ≤ ${GOALS.bulkMs} ms: ${bulkMax <= GOALS.bulkMs ? 'met' : 'MISSED'} (worst ${f(bulkMax)} ms)`);
  } finally {
    sink.close();
    await nginx.destroy();
    if (ownShmDir) await rm(ownShmDir, { recursive: true, force: true });
  }
}

await main();
