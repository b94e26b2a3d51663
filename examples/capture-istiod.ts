// Captures what a real istiod sends the bookinfo productpage sidecar, as an xDS resource list in
// proto3 JSON that `amesh translate` reads (the bundled `bookinfo` example):
//   npx tsx examples/capture-istiod.ts [--out examples/bookinfo/istiod-capture.json]
// Needs the istiod test peer (`bash scripts/peers/build-peers.sh`, see scripts/peers/README.md). It
// starts istiod on loopback with test/peers/bookinfo-istio, connects as the productpage sidecar on one
// SotW ADS stream as Envoy does (CDS, EDS for the EDS clusters, LDS, RDS for the route tables the
// listeners name; each response ACKed), stops istiod, and writes the resources sorted by type and name,
// so a refresh diffs only where istiod's output changed. Provenance (Istio pin, date, node, config
// dir) goes into a marked block of the README.md beside the output, since JSON has no comments.
//
// istiod does not serve a sidecar's workload certificate: Envoy gets SDS secrets `default` and
// `ROOTCA` from istio-agent on the pod. Without them every mTLS cluster would reference missing
// secrets, so the capture appends the two Secrets of the hand-written example (a throwaway self-signed
// certificate for spiffe://cluster.local/ns/default/sa/bookinfo-productpage), as the agent would serve.
//
// proto3 JSON needs a descriptor for every `Any` payload, and istiod sends extensions amesh has none
// for: Istio's own (the istio.alpn filter; stats.PluginConfig when telemetry is on) and Envoy ones
// outside amesh's proto closure (raw_buffer, grpc_stats, the uuid request id, listener filters, retry
// predicates). Each resource is decoded with protobuf-es against amesh's descriptor set and walked:
// an Any of a described type is decoded, walked and re-encoded (so nesting at any depth is handled,
// not only the types message-registry.ts has ts-proto codecs for); an Any of any other type becomes a
// `udpa.type.v1.TypedStruct` naming the original type with an empty value. That payload is dropped:
// the translator treats these filters as opaque anyway and its fidelity report still names their
// type. (Istio's metadata-exchange filters already arrive as TypedStructs and keep their payload.)
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary, toJson, type DescField, type DescMessage, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { parse } from 'yaml';
import { resourcesOfDocument } from '../src/adapters/envoy/config-document.js';
import { Cluster, Cluster_DiscoveryType } from '../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { Listener } from '../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import { Secret } from '../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { descriptorRegistry } from '../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL, XDS_RESOURCE_TYPE_URLS, typeNameOf } from '../src/adapters/envoy/proto/type-urls.js';
import { unpackAny, type AnyLike } from '../src/adapters/envoy/proto/unpack-any.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// --- binary xDS resource -> proto3 JSON ----------------------------------------------------------

const ANY = 'google.protobuf.Any';
type AnyMessage = { $typeName: typeof ANY; typeUrl: string; value: Uint8Array };
type Fields = Record<string, unknown>;

/** What a conversion met that its JSON cannot show. */
export interface ConversionNotes {
  /** Type URLs of `Any` payloads replaced by an empty TypedStruct, with how often. */
  readonly opaque: Map<string, number>;
  /** `message type #field number` of fields outside amesh's protos (newer Envoy API), with how often. */
  readonly unknownFields: Map<string, number>;
}

export const newNotes = (): ConversionNotes => ({ opaque: new Map(), unknownFields: new Map() });
const count = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

function typedStructDesc(): DescMessage {
  const desc = descriptorRegistry().getMessage('udpa.type.v1.TypedStruct');
  if (!desc) throw new Error('udpa.type.v1.TypedStruct is not in the descriptor set');
  return desc;
}

/** The TypedStruct Any that stands for a payload of a type without a descriptor. */
function opaqueAny(any: AnyMessage, notes: ConversionNotes): AnyMessage {
  count(notes.opaque, any.typeUrl);
  const desc = typedStructDesc();
  const struct = create(desc, { typeUrl: any.typeUrl, value: {} });
  return { ...any, typeUrl: TYPE_URL.UdpaTypedStruct, value: toBinary(desc, struct) };
}

/** Decodes, walks and re-encodes an Any whose type has a descriptor; replaces it otherwise. */
function visitAny(any: AnyMessage, notes: ConversionNotes): AnyMessage {
  const name = typeNameOf(any.typeUrl);
  const desc = name === undefined ? undefined : descriptorRegistry().getMessage(name);
  if (!desc) return opaqueAny(any, notes);
  const inner = fromBinary(desc, any.value);
  visit(desc, inner, notes);
  return { ...any, value: toBinary(desc, inner) };
}

/** A message-typed value: Anys are converted, other messages walked (wrappers arrive unboxed). */
function visit(desc: DescMessage, value: unknown, notes: ConversionNotes): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (desc.typeName === ANY) return visitAny(value as AnyMessage, notes);
  walkFields(desc, value as Fields, notes);
  return value;
}

/** Converts every Any below `message` in place and orders map entries by key (Go sends them in random order). */
function walkFields(desc: DescMessage, message: Fields, notes: ConversionNotes): void {
  for (const unknown of (message['$unknown'] as { no: number }[] | undefined) ?? []) count(notes.unknownFields, `${desc.typeName} #${unknown.no}`);
  const field = (f: DescField, value: unknown): unknown => {
    switch (f.fieldKind) {
      case 'message':
        return visit(f.message, value, notes);
      case 'list':
        return f.listKind === 'message' ? (value as unknown[]).map((item) => visit(f.message, item, notes)) : value;
      case 'map': {
        const entries = Object.entries(value as Fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return Object.fromEntries(f.mapKind === 'message' ? entries.map(([k, v]) => [k, visit(f.message, v, notes)]) : entries);
      }
      default:
        return value;
    }
  };
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const selected = message[member.localName] as { case?: string; value?: unknown } | undefined;
      const chosen = member.fields.find((f) => f.localName === selected?.case);
      if (selected && chosen) selected.value = field(chosen, selected.value);
    } else if (message[member.localName] !== undefined) {
      message[member.localName] = field(member, message[member.localName]);
    }
  }
}

/**
 * One xDS resource (wire bytes) as a proto3-JSON object with `@type`, snake_case field names, map
 * entries sorted, and every Any of a type amesh has no descriptor for turned into an empty TypedStruct.
 */
export function resourceToProtoJson(typeUrl: string, bytes: Uint8Array, notes: ConversionNotes = newNotes()): JsonObject {
  const name = typeNameOf(typeUrl);
  const desc = name === undefined ? undefined : descriptorRegistry().getMessage(name);
  if (!desc) throw new Error(`no descriptor for resource type ${typeUrl}`);
  const message = fromBinary(desc, bytes);
  walkFields(desc, message as unknown as Fields, notes);
  const json = toJson(desc, message, { registry: descriptorRegistry(), useProtoFieldName: true });
  return typeFirst({ '@type': typeUrl, ...(json as JsonObject) }) as JsonObject;
}

/** The same JSON with `@type` as the first key of each Any (protobuf-es prints it last), for the reader. */
function typeFirst(json: JsonValue): JsonValue {
  if (Array.isArray(json)) return json.map(typeFirst);
  if (json === null || typeof json !== 'object') return json;
  const out: JsonObject = '@type' in json ? { '@type': json['@type']! } : {};
  for (const [key, value] of Object.entries(json)) if (key !== '@type') out[key] = typeFirst(value);
  return out;
}

const TYPE_ORDER: readonly string[] = XDS_RESOURCE_TYPE_URLS;
const resourceName = (r: JsonObject): string => String(r['@type'] === TYPE_URL.ClusterLoadAssignment ? r['cluster_name'] : r['name']);

/** The document `amesh translate` reads: resources ordered by type (CDS, EDS, LDS, RDS, SDS), then name. */
export function captureDocument(resources: readonly AnyLike[], notes: ConversionNotes = newNotes()): { resources: JsonObject[] } {
  const converted = resources.map((r) => resourceToProtoJson(r.typeUrl, r.value, notes));
  converted.sort((a, b) => {
    const byType = TYPE_ORDER.indexOf(String(a['@type'])) - TYPE_ORDER.indexOf(String(b['@type']));
    if (byType !== 0) return byType;
    const [x, y] = [resourceName(a), resourceName(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return { resources: converted };
}

// --- what Envoy would subscribe to ------------------------------------------------------------

/** EDS names: `eds_cluster_config.service_name`, else the name, of every EDS cluster. */
export function edsNames(clusters: readonly AnyLike[]): string[] {
  const names = new Set<string>();
  for (const any of clusters) {
    const cluster = Cluster.decode(any.value);
    if (cluster.clusterDiscoveryType?.$case === 'type' && cluster.clusterDiscoveryType.value === Cluster_DiscoveryType.EDS) {
      names.add(cluster.edsClusterConfig?.serviceName || cluster.name);
    }
  }
  return [...names].sort();
}

/** RDS names: the `rds.route_config_name` of every HTTP connection manager in the listeners' filter chains. */
export function rdsNames(listeners: readonly AnyLike[]): string[] {
  const names = new Set<string>();
  for (const any of listeners) {
    const listener = Listener.decode(any.value);
    const chains = [...listener.filterChains, ...(listener.defaultFilterChain ? [listener.defaultFilterChain] : [])];
    for (const filter of chains.flatMap((c) => c.filters)) {
      if (filter.configType?.$case !== 'typedConfig') continue;
      const unpacked = unpackAny(filter.configType.value);
      if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.HttpConnectionManager && unpacked.message.routeSpecifier?.$case === 'rds') {
        names.add(unpacked.message.routeSpecifier.value.routeConfigName);
      }
    }
  }
  return [...names].sort();
}

/** The SDS secrets istio-agent serves a sidecar (`default`, `ROOTCA`), taken from a resource file. */
export async function agentSecrets(file: string): Promise<AnyLike[]> {
  const found = resourcesOfDocument(parse(await readFile(file, 'utf8')) as unknown);
  if (!found.ok) throw new Error(`${file}: ${found.error.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  const secrets = found.value.resources.flatMap((r) => (r.type === 'Secret' && AGENT_SECRETS.includes(r.message.name) ? [r.message] : []));
  const missing = AGENT_SECRETS.filter((name) => !secrets.some((s) => s.name === name));
  if (missing.length > 0) throw new Error(`${file} has no Secret ${missing.join(', ')}`);
  return secrets.map((secret) => ({ typeUrl: TYPE_URL.Secret, value: Secret.encode(secret).finish() }));
}

const AGENT_SECRETS = ['default', 'ROOTCA'];

// --- the capture --------------------------------------------------------------------------------

const PROVENANCE_BEGIN = '<!-- istiod-capture: begin (written by examples/capture-istiod.ts) -->';
const PROVENANCE_END = '<!-- istiod-capture: end -->';

/** Replaces the marked provenance block of `readme` (appends one when there is none). */
function withProvenance(readme: string, block: string): string {
  const fenced = `${PROVENANCE_BEGIN}\n${block.trim()}\n${PROVENANCE_END}`;
  const start = readme.indexOf(PROVENANCE_BEGIN);
  const end = readme.indexOf(PROVENANCE_END);
  if (start >= 0 && end > start) return readme.slice(0, start) + fenced + readme.slice(end + PROVENANCE_END.length);
  return `${readme.trimEnd()}${readme.trim() === '' ? '' : '\n\n'}${fenced}\n`;
}

async function main(): Promise<void> {
  // Imported here so that the conversion above can be used (and unit-tested) without the peer helpers.
  const { peersAvailable, peersStamp, startIstiod } = await import('../test/support/peers.js');
  const { CDS, EDS, LDS, RDS, istioSidecarNode, sotwFetch } = await import('../test/support/sotw-fetch.js');

  const outArg = process.argv.indexOf('--out');
  const out = resolve(outArg >= 0 && process.argv[outArg + 1] ? process.argv[outArg + 1]! : resolve(repoRoot, 'examples/bookinfo/istiod-capture.json'));
  const configDir = resolve(repoRoot, 'test/peers/bookinfo-istio');
  if (!peersAvailable().istiod) throw new Error(`istiod is not built: run bash scripts/peers/build-peers.sh (${peersAvailable().reason ?? ''})`);
  const node = istioSidecarNode({ ip: '10.244.0.7', pod: 'productpage-v1-abc', namespace: 'default', labels: { app: 'productpage', version: 'v1' } });

  const istiod = await startIstiod({ configDir });
  let got: Awaited<ReturnType<typeof sotwFetch>>;
  try {
    // First look: which clusters and listeners, hence which EDS and RDS names Envoy would ask for.
    const first = await sotwFetch({ address: istiod.address, node, requests: [{ typeUrl: CDS }, { typeUrl: LDS }] });
    const eds = edsNames(first.get(CDS)?.resources ?? []);
    const rds = rdsNames(first.get(LDS)?.resources ?? []);
    // The capture: one stream in Envoy's order, so every type comes from the same push.
    got = await sotwFetch({
      address: istiod.address,
      node,
      requests: [{ typeUrl: CDS }, { typeUrl: EDS, resourceNames: eds }, { typeUrl: LDS }, { typeUrl: RDS, resourceNames: rds }],
    });
    for (const [type, wanted] of [
      [EDS, eds],
      [RDS, rds],
    ] as const) {
      const missing = wanted.filter((n) => !(got.get(type)?.names ?? []).includes(n));
      if (missing.length > 0) console.warn(`warning: ${type.split('.').pop()} lacks ${missing.join(', ')}`);
    }
    const errors = istiod
      .logs()
      .split('\n')
      .filter((l) => /\terror\t/.test(l));
    if (errors.length > 0) console.warn(`warning: istiod logged errors:\n${errors.join('\n')}`);
  } finally {
    await istiod.stop();
  }

  const secretsFile = resolve(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');
  const secrets = await agentSecrets(secretsFile);
  const notes = newNotes();
  const opaque = (): [string, number][] => [...notes.opaque].sort(([a], [b]) => (a < b ? -1 : 1));
  const resources = [...[CDS, EDS, LDS, RDS].flatMap((t) => got.get(t)?.resources ?? []), ...secrets];
  const document = captureDocument(resources, notes);
  await mkdir(dirname(out), { recursive: true });
  const text = `${JSON.stringify(document, null, 2)}\n`;
  await writeFile(out, text);

  const counts = [...[CDS, EDS, LDS, RDS].map((t) => `${got.get(t)?.resources.length ?? 0} ${t.split('.').pop()}`), `${secrets.length} Secret (istio-agent's)`].join(', ');
  const stamp = peersStamp() ?? '(no stamp)';
  const istio = /istio\.io\/istio=(\S+)/.exec(stamp)?.[1] ?? 'unknown';
  const commit = /-([0-9a-f]{12})$/.exec(istio)?.[1];
  const rel = (p: string): string => relative(repoRoot, p) || '.';
  const readmePath = resolve(dirname(out), 'README.md');
  const block = [
    `\`${rel(out)}\` was captured on ${new Date().toISOString().slice(0, 10)} by \`npx tsx examples/capture-istiod.ts\`:`,
    '',
    `- istiod: \`istiod-kubeless\` (scripts/peers) built from \`istio.io/istio@${istio}\`` +
      `${commit ? ` (commit [${commit}](https://github.com/istio/istio/commit/${commit}))` : ''}`,
    `- peers stamp: \`${stamp}\``,
    `- config: \`${rel(configDir)}\`; node \`${node.id}\` (metadata ISTIO_VERSION ${String(node.metadata['ISTIO_VERSION'])})`,
    `- push version \`${got.get(CDS)?.versionInfo ?? '?'}\`; ${counts}; ${Buffer.byteLength(text)} bytes`,
    `- not from istiod: Secrets ${AGENT_SECRETS.map((n) => `\`${n}\``).join(' and ')}, which istio-agent would serve the sidecar over SDS, ` +
      `copied from \`${rel(secretsFile)}\` (a throwaway certificate for spiffe://cluster.local/ns/default/sa/bookinfo-productpage)`,
    `- Any payloads of types amesh has no descriptor for, replaced by an empty \`udpa.type.v1.TypedStruct\` naming their type: ` +
      (opaque()
        .map(([t, n]) => `\`${t}\` ×${n}`)
        .join(', ') || 'none'),
  ].join('\n');
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
  await writeFile(readmePath, withProvenance(readme, block));

  console.log(`wrote ${rel(out)} (${Buffer.byteLength(text)} bytes): ${counts}`);
  console.log(
    `opaque Any types: ${
      opaque()
        .map(([t, n]) => `${t} x${n}`)
        .join(', ') || 'none'
    }`,
  );
  if (notes.unknownFields.size > 0) {
    console.log(`fields outside amesh's protos (dropped from the JSON): ${[...notes.unknownFields].map(([f, n]) => `${f} x${n}`).join(', ')}`);
  }
  console.log(`provenance: ${rel(readmePath)}`);
}

// Run when executed directly (not when imported by a test).
if (process.argv[1]?.endsWith('capture-istiod.ts')) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
