// Fuzz: the bookinfo resources, mutated (test/support/fuzz-mutations.ts on their proto3 JSON, or on their
// bytes, or served under another type URL, duplicated, nameless), pushed by the in-repo xDS server to the
// ADS client feeding the sidecar's SyncService, in SotW and in delta. For every push: it is answered, ACK
// or NACK (a watchdog turns a hang into a failure); a NACK says which resource or what could not be
// decoded, and the sink keeps the configuration it had; when the original is served again, the sink
// holds exactly the configuration it started with; nothing throws out of the client; memory stays
// bounded. A random seed each run; the count and the seed are printed (AMESH_FUZZ_SEED replays a run,
// AMESH_FUZZ_RUNS sets the count per mode).
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { descriptorRegistry } from '../../src/adapters/envoy/proto/proto-json.js';
import { typeNameOf } from '../../src/adapters/envoy/proto/type-urls.js';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { XdsServer, type ResourceInput, type XdsRequestEvent, type XdsServerLogEvent } from '../../src/adapters/xds-server/xds-server.js';
import { AdsClient } from '../../src/adapters/xds/ads-client.js';
import { SyncService } from '../../src/app/sidecar/sync-service.js';
import { applyTreeMutation, treeMutation, type Json, type TreeMutation } from '../support/fuzz-mutations.js';
import { RecordingLogger, until, withTimeout } from '../support/mesh-sidecar.js';
import { bookinfoFixture, serve, TYPE_URLS, type XdsFixture, type XdsTypeUrl } from '../support/xds-fixtures.js';

const SEED = Number(process.env.AMESH_FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.AMESH_FUZZ_RUNS ?? 100);
const MEMORY_HEADROOM_BYTES = 768 * 1024 * 1024;
const NODE: Node = {
  id: 'sidecar~10.244.2.7~productpage-v1-6b746f74dc-9stvm.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  dynamicParameters: {},
  userAgentName: 'amesh-ts',
  extensions: [],
  clientFeatures: [],
  listeningAddresses: [],
};

type PushMutation =
  | { readonly kind: 'tree'; readonly steps: readonly TreeMutation[] }
  | { readonly kind: 'bytes'; readonly at: number; readonly cut: boolean; readonly insert: readonly number[] }
  | { readonly kind: 'type-url'; readonly to: number }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'nameless' };

const pushMutation: fc.Arbitrary<PushMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('tree' as const), steps: fc.array(treeMutation, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), cut: fc.boolean(), insert: fc.array(fc.nat({ max: 255 }), { maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('type-url' as const), to: fc.nat({ max: TYPE_URLS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'nameless' as const }) },
);

/** The bytes of `resource`, as the server sends them. */
const bytesOf = (resource: ResourceInput['resource']): Uint8Array => (resource instanceof Uint8Array ? resource : resource.value);

/** The list of `typeUrl` with its `index`-th resource mutated; undefined when the mutation changes nothing. */
function mutatedList(list: readonly ResourceInput[], typeUrl: XdsTypeUrl, index: number, mutation: PushMutation): ResourceInput[] | undefined {
  const original = list[index]!;
  const bytes = bytesOf(original.resource);
  const replace = (replacement: ResourceInput): ResourceInput[] => list.map((r, i) => (i === index ? replacement : r));
  switch (mutation.kind) {
    case 'tree': {
      const desc = descriptorRegistry().getMessage(typeNameOf(typeUrl)!)!;
      const registry = descriptorRegistry();
      const json = toJson(desc, fromBinary(desc, bytes), { registry, useProtoFieldName: true }) as Json;
      for (const step of mutation.steps) applyTreeMutation(json, step);
      let encoded: Uint8Array;
      try {
        encoded = toBinary(desc, fromJson(desc, json as JsonValue, { registry }));
      } catch {
        // Not representable as this message: what reaches the client is then bytes that are not one.
        encoded = new TextEncoder().encode(JSON.stringify(json));
      }
      return Buffer.from(encoded).equals(Buffer.from(bytes)) ? undefined : replace({ name: original.name, resource: encoded });
    }
    case 'bytes': {
      const at = bytes.length === 0 ? 0 : mutation.at % bytes.length;
      const mutated = Buffer.concat([bytes.subarray(0, at), Buffer.from(mutation.insert), bytes.subarray(mutation.cut ? bytes.length : at)]);
      return mutated.equals(Buffer.from(bytes)) ? undefined : replace({ name: original.name, resource: mutated });
    }
    case 'type-url': {
      const other = TYPE_URLS[mutation.to]!;
      return other === typeUrl ? undefined : replace({ name: original.name, resource: { typeUrl: other, value: bytes } });
    }
    case 'duplicate':
      return [...list, original];
    case 'nameless':
      return replace({ name: '', resource: bytes });
  }
}

/** What a NACK names: a resource of a type, or the payload that did not decode. */
const NAMED = /(Listener|Cluster|RouteConfiguration|ClusterLoadAssignment|Secret) "|cannot decode |unknown resource type |type\.googleapis\.com\//;

for (const mode of ['sotw', 'delta'] as const) {
  const s = suite(`fuzz: mutated pushes through the ADS client (${mode})`);

  s('every push answered, a NACK names what it refuses and keeps the configuration, the original restores it exactly', async () => {
    const thrown: unknown[] = [];
    const onThrown = (error: unknown): void => void thrown.push(error);
    process.on('uncaughtException', onThrown);
    process.on('unhandledRejection', onThrown);
    const responses: Extract<XdsServerLogEvent, { kind: 'response' }>[] = [];
    const server = new XdsServer({ istiodStrict: true, stopGraceMs: 100, logger: (event) => void (event.kind === 'response' && responses.push(event)) });
    const address = await server.start('127.0.0.1:0');
    const fixture: XdsFixture = bookinfoFixture();
    serve(server, fixture);
    const logger = new RecordingLogger();
    const client = new AdsClient({
      mode,
      target: address,
      node: NODE,
      logger,
      backoff: { initialMs: 20, maxMs: 200, multiplier: 2, random: () => 1 },
      doesNotExistTimeoutMs: 2_000,
    });
    const sink = new MemoryConfigSink();
    const sync = new SyncService({ source: client, sinks: [sink], logger, metrics: new MemoryMetrics() }, { partial: true });
    const tally = { acked: 0, nacked: 0, unchanged: 0, peakRss: 0 };
    const baseline = process.memoryUsage().rss;
    console.log(`fuzz ads (${mode}): ${RUNS} mutated pushes of bookinfo, seed ${SEED} (AMESH_FUZZ_SEED=${SEED} replays it)`);

    const answerTo = (r: (typeof responses)[number]): XdsRequestEvent | undefined =>
      server.requests.find((q) => q.stream === r.stream && q.typeUrl === r.typeUrl && q.nonce === r.nonce);
    /** Sets `list` and waits for the answers to what that sent; returns them. */
    const push = async (typeUrl: XdsTypeUrl, list: readonly ResourceInput[]): Promise<XdsRequestEvent[]> => {
      const from = responses.length;
      server.setResources(typeUrl, list);
      // A SotW server resends the type; a delta one sends only what changed (nothing, for some mutations).
      const sent = (): (typeof responses)[number][] => responses.slice(from);
      await withTimeout(
        until(() => sent().every((r) => answerTo(r) !== undefined), 'answers', 20_000),
        25_000,
        () => `the push of ${typeUrl} is not answered`,
      );
      return sent().map((r) => answerTo(r)!);
    };
    /** What the sink holds, whatever the order its objects were applied in. */
    const applied = (): string => JSON.stringify([...sink.applied.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, object]) => [key, object.value]));

    try {
      await sync.start();
      await withTimeout(sync.applied, 20_000, () => 'the first configuration');
      const good = applied();
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: TYPE_URLS.length - 1 }), fc.nat(), pushMutation, async (t, index, mutation) => {
          const typeUrl = TYPE_URLS[t]!;
          const list = fixture[typeUrl];
          const mutated = mutatedList(list, typeUrl, index % list.length, mutation);
          if (!mutated) {
            tally.unchanged += 1;
            return;
          }
          const before = applied();
          const answers = await push(typeUrl, mutated);
          for (const answer of answers) {
            if (!answer.nack) continue;
            assert.ok(answer.nack.message.length > 0 && NAMED.test(answer.nack.message), `the NACK names what it refuses: ${answer.nack.message.slice(0, 300)}`);
          }
          if (answers.some((a) => a.nack)) {
            tally.nacked += 1;
            // The last good configuration stays (a verdict may still be settling: the sink is read after it).
            await until(() => sync.state.version !== undefined, 'a settled state');
            assert.is(applied(), before, 'the sink keeps the configuration it had');
          } else if (answers.length > 0) tally.acked += 1;
          await push(typeUrl, list);
          await withTimeout(
            until(() => applied() === good, 'the original configuration back', 20_000),
            25_000,
            () => 'the sink did not come back to the original',
          );
          assert.equal(thrown, [], 'nothing thrown out of the client');
          const rss = process.memoryUsage().rss;
          tally.peakRss = Math.max(tally.peakRss, rss);
          assert.ok(rss - baseline < MEMORY_HEADROOM_BYTES, `memory grew by ${Math.round((rss - baseline) / 2 ** 20)} MB`);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
      );
      console.log(
        `fuzz ads (${mode}): ${tally.acked} ACKed, ${tally.nacked} NACKed, ${tally.unchanged} left the resource as it was; peak RSS ${Math.round(tally.peakRss / 2 ** 20)} MB (${Math.round(baseline / 2 ** 20)} MB at the start)`,
      );
    } finally {
      await sync.stop();
      client.stop();
      await server.stop();
      process.off('uncaughtException', onThrown);
      process.off('unhandledRejection', onThrown);
    }
  });

  s.run();
}
