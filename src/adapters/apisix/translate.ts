// MeshSnapshot → GatewayConfig: the whole Envoy → APISIX translation, pure. Every field that
// cannot be carried over is recorded in the fidelity report; invalid input is an error value.
import { FidelityReport, KeyedFidelity, type FidelityRecord, type FidelitySink, type ResourceRef } from '../../domain/fidelity.js';
import { patchedKeys, patchMap } from '../../domain/patched-map.js';
import type { ChangeSet, Change } from '../../domain/diff.js';
import { GatewayConfig, objectKey, type GatewayObject } from '../../domain/gateway-config.js';
import { canonicalJson, type JsonObject } from '../../domain/json.js';
import type { Cluster } from '../../domain/mesh/cluster.js';
import type { EndpointSet } from '../../domain/mesh/endpoint.js';
import type { RouteTable } from '../../domain/mesh/route.js';
import { err, ok, type Result } from '../../domain/result.js';
import { snapshotOfMaps, type MeshSnapshot } from '../../domain/snapshot.js';
import type { ApisixLabels, ApisixSsl, ApisixStreamRoute, ApisixUpstream } from './apisix-types.js';
import { IdRegistry } from './ids.js';
import { renderRouteTable, type MirrorTarget, type RenderedRoute, type RouteOrigin, type TranslationError } from './render-route-table.js';
import { renderClientSsl, sslId } from './render-ssl.js';
import { orderStreamRoutes, renderStreamRoute } from './render-stream-route.js';
import { DEFAULT_SETTINGS, renderUpstream, settingsSuffix, STREAM_SETTINGS, upstreamId, type UpstreamSettings } from './render-upstream.js';

export type { RouteOrigin, TranslationError } from './render-route-table.js';

export const OWNER_LABEL = 'managed-by';
export const OWNER_VALUE = 'amesh-ts';

export interface TranslateOptions {
  /**
   * nginx variable holding the port the client connected to. When set, each route table only
   * matches on the ports of the listeners that serve it (Envoy's per-port RDS); when unset, route
   * tables share one router and host conflicts between them are reported.
   */
  readonly portVariable?: string | undefined;
  /** Extra labels on every object; the ownership label is always added. */
  readonly labels?: ApisixLabels | undefined;
}

export interface Translation {
  readonly config: GatewayConfig;
  readonly report: FidelityReport;
  /** Route id → the Envoy route it stands for. */
  readonly routeOrigins: ReadonlyMap<string, RouteOrigin>;
  /**
   * Set when this translation was derived from the previous one: exactly the changes from `from` (that
   * translation's config) to `config`, as diffConfigs(from, config) would list them.
   */
  readonly delta?: { readonly from: GatewayConfig; readonly changes: ChangeSet };
}

interface TableBinding {
  readonly table: RouteTable;
  readonly ports: Set<number>;
  websocket: boolean;
}

function bindRouteTables(snapshot: MeshSnapshot, report: FidelitySink): Map<string, TableBinding> {
  const bindings = new Map<string, TableBinding>();
  for (const table of snapshot.routeTables.values()) bindings.set(table.name, { table, ports: new Set(), websocket: false });
  for (const listener of snapshot.listeners.values()) {
    const ref: ResourceRef = { type: 'Listener', name: listener.name };
    listener.chains.forEach((chain, c) => {
      const protocol = chain.protocol;
      if (chain.tls) {
        report.record({ resource: ref, field: `filter_chains[${c}].transport_socket`, severity: 'dropped', reason: 'TLS termination on listeners is not translated yet' });
      }
      if (protocol.kind === 'opaque') {
        report.record({
          resource: ref,
          field: `filter_chains[${c}].filters`,
          severity: 'dropped',
          reason: `no APISIX equivalent for network filters ${protocol.filters.join(', ')}`,
        });
        return;
      }
      if (protocol.kind !== 'http') return;
      const port = chain.match.destinationPort ?? (listener.role === 'regular' ? listener.address?.port : undefined);
      let binding: TableBinding | undefined;
      if (protocol.routes.kind === 'rds') binding = bindings.get(protocol.routes.name);
      else {
        const table = protocol.routes.table.name ? protocol.routes.table : { ...protocol.routes.table, name: `${listener.name}#${c}` };
        binding = bindings.get(table.name) ?? { table, ports: new Set(), websocket: false };
        bindings.set(table.name, binding);
      }
      if (!binding) return; // dangling RDS name: reported by the consistency check
      if (port !== undefined) binding.ports.add(port);
      binding.websocket ||= protocol.websocket;
    });
  }
  return bindings;
}

/**
 * A host served by two route tables that APISIX cannot tell apart: on any port without a port
 * variable; on a shared port with one (e.g. Istio's inbound and outbound tables for one port).
 */
function reportTableConflicts(tables: readonly TableBinding[], portVariable: string | undefined, report: FidelitySink): void {
  const owners = new Map<string, string>();
  for (const { table, ports } of tables) {
    const scopes = portVariable && ports.size > 0 ? [...ports].map(String) : [''];
    table.virtualHosts.forEach((vhost, v) => {
      for (const domain of vhost.domains) {
        const host = domain.toLowerCase().replace(/:\d+$/, '');
        for (const scope of scopes) {
          const key = `${host} ${scope}`;
          const owner = owners.get(key);
          if (owner === undefined) owners.set(key, table.name);
          else if (owner !== table.name) {
            report.record({
              resource: { type: 'RouteConfiguration', name: table.name },
              field: `virtual_hosts[${v}].domains`,
              severity: 'approximated',
              reason: scope
                ? `host "${host}" on port ${scope} is also served by route table "${owner}", which APISIX tries first`
                : `host "${host}" is also served by route table "${owner}"; without --port-variable APISIX cannot tell the ports apart and "${owner}" is tried first`,
            });
          }
        }
      }
    });
  }
}

/**
 * Where proxy-mirror (one host, no load balancing) sends a copy. An Istio cluster of a whole service
 * goes to the service's name, which DNS balances; a subset cluster (`outbound|port|v2|host`) must not,
 * or the copies would reach every version: it goes to one endpoint of the subset instead.
 */
function mirrorTarget(snapshot: MeshSnapshot, clusterName: string): MirrorTarget | undefined {
  const istio = /^outbound\|(\d+)\|([^|]*)\|(.+)$/.exec(clusterName);
  if (istio && !istio[2]) return { url: `http://${istio[3]}:${istio[1]}`, approximation: undefined };
  const cluster = snapshot.clusters.get(clusterName);
  const endpoints = cluster?.inlineEndpoints ?? (cluster ? snapshot.endpoints.get(cluster.edsName) : undefined);
  const all = endpoints?.localities.flatMap((l) => l.endpoints) ?? [];
  const first = all[0];
  if (!first) return undefined;
  return {
    url: `http://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}`,
    approximation: all.length > 1 ? `APISIX mirrors to one host: only ${first.host}:${first.port} of the ${all.length} endpoints of "${clusterName}" gets the copies` : undefined,
  };
}

const INBOUND_CLUSTER = /^inbound\|(\d+)\|/;

/** One-shot translation (the CLI, the library). A sidecar keeps a Translator to reuse work. */
export function translateSnapshot(snapshot: MeshSnapshot, options: TranslateOptions = {}, report = new FidelityReport()): Result<Translation, TranslationError[]> {
  return new Translator().translate(snapshot, options, report);
}

/** Collects what one rendering records, so that a reused rendering can record it again. */
class RecordingSink implements FidelitySink {
  readonly records: FidelityRecord[] = [];
  record(entry: FidelityRecord): void {
    this.records.push(entry);
  }
}

/**
 * The records of one translation in order, as arrays: memoised renderings' arrays by reference, loose
 * records gathered between them. Kept so that the next translation can replay them with a few replaced.
 */
class PartList implements FidelitySink {
  readonly parts: (readonly FidelityRecord[])[] = [];
  private loose: FidelityRecord[] = [];
  record(entry: FidelityRecord): void {
    this.loose.push(entry);
  }
  recordAll(entries: readonly FidelityRecord[]): void {
    if (entries.length > 0) this.slot(entries);
  }
  /** Adds `entries` (even empty) and returns its index, so that it can be replaced later. */
  slot(entries: readonly FidelityRecord[]): number {
    this.flush();
    this.parts.push(entries);
    return this.parts.length - 1;
  }
  flush(): void {
    if (this.loose.length === 0) return;
    this.parts.push(this.loose);
    this.loose = [];
  }
}

interface UpstreamSlot {
  readonly memoKey: string;
  /** undefined for inline endpoints (not from EDS). */
  readonly edsName: string | undefined;
  readonly settings: UpstreamSettings;
  readonly clientCertId: string | undefined;
  readonly part: number;
}

/** What the last full translation depended on and produced: an update that changed only endpoints patches it. */
interface LastTranslation {
  readonly listeners: MeshSnapshot['listeners'];
  readonly routeTables: MeshSnapshot['routeTables'];
  readonly clusters: MeshSnapshot['clusters'];
  readonly secrets: MeshSnapshot['secrets'];
  endpoints: MeshSnapshot['endpoints'];
  readonly optionsKey: string;
  readonly labels: ApisixLabels;
  readonly slots: readonly UpstreamSlot[];
  /** EDS name → the upstreams rendered from it. */
  readonly slotsByEds: ReadonlyMap<string, readonly UpstreamSlot[]>;
  /** The records of everything but the upstreams, in order, as one group (recorded in O(1) per update). */
  readonly otherParts: KeyedFidelity<number>;
  /** The upstreams' records, per memo key. */
  upstreamFidelity: KeyedFidelity<string>;
  config: GatewayConfig;
  readonly routeOrigins: ReadonlyMap<string, RouteOrigin>;
}

interface TableMemo {
  readonly table: RouteTable;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly endpoints: ReadonlyMap<string, EndpointSet> | undefined;
  readonly key: string;
  readonly result: Result<RenderedRoute[], TranslationError[]>;
  readonly records: readonly FidelityRecord[];
  readonly demands: readonly (readonly [string, UpstreamSettings])[];
}

interface UpstreamMemo {
  readonly cluster: Cluster;
  readonly endpoints: EndpointSet | undefined;
  readonly key: string;
  readonly upstream: ApisixUpstream;
  readonly records: readonly FidelityRecord[];
}

const hasMirrors = (table: RouteTable): boolean => table.virtualHosts.some((vh) => vh.routes.some((r) => r.action.kind === 'forward' && r.action.mirrors.length > 0));

/**
 * Translation that reuses its previous work: a route table is rendered again only if it, the
 * clusters map or its listener binding changed; an upstream only if its cluster, endpoints or
 * certificate did. Domain values are immutable and the xDS source keeps unchanged ones (and
 * unchanged maps) identical, so an endpoint change costs one upstream, not the mesh.
 */
export class Translator {
  private tables = new Map<string, TableMemo>();
  private upstreams = new Map<string, UpstreamMemo>();
  private conflicts: { readonly tables: readonly RouteTable[]; readonly portVariable: string | undefined; readonly records: readonly FidelityRecord[] } | undefined;

  private last: LastTranslation | undefined;

  translate(input: MeshSnapshot, options: TranslateOptions = {}, output = new FidelityReport()): Result<Translation, TranslationError[]> {
    const snapshot = this.withLocalInbound(input, output);
    const labels: ApisixLabels = { ...(options.labels ?? {}), [OWNER_LABEL]: OWNER_VALUE };
    const labelsKey = JSON.stringify(labels);
    const optionsKey = `${options.portVariable ?? ''}|${labelsKey}`;
    const patched = this.endpointsOnly(snapshot, optionsKey, output);
    if (patched) return ok(patched);
    this.last = undefined;
    const report = new PartList();
    const demands = new Map<string, Map<string, UpstreamSettings>>();
    const demand = (cluster: string, settings: UpstreamSettings): void => {
      let variants = demands.get(cluster);
      if (!variants) demands.set(cluster, (variants = new Map()));
      variants.set(settingsSuffix(settings), settings);
    };
    const bindings = [...bindRouteTables(snapshot, report).values()].sort((a, b) => (a.table.name < b.table.name ? -1 : 1));
    this.reportConflicts(bindings, options.portVariable, report);
    const errors: TranslationError[] = [];
    const routes: RenderedRoute[] = [];
    const tables = new Map<string, TableMemo>();
    bindings.forEach((binding, tableIndex) => {
      if (options.portVariable && binding.ports.size === 0) {
        report.record({
          resource: { type: 'RouteConfiguration', name: binding.table.name },
          field: 'name',
          severity: 'approximated',
          reason: 'no listener in the input serves this route configuration: it is matched on every port (Envoy would use it on none)',
        });
      }
      const ports = [...binding.ports].sort((a, b) => a - b);
      const key = [tableIndex, bindings.length, ports.join(','), options.portVariable ?? '', binding.websocket, labelsKey].join('|');
      const mirrors = hasMirrors(binding.table);
      let memo = this.tables.get(binding.table.name);
      const reusable = memo && memo.table === binding.table && memo.clusters === snapshot.clusters && memo.key === key && (!mirrors || memo.endpoints === snapshot.endpoints);
      if (!memo || !reusable) {
        const recording = new RecordingSink();
        const tableDemands: [string, UpstreamSettings][] = [];
        const result = renderRouteTable(binding.table, {
          plan: { tableCount: bindings.length },
          tableIndex,
          ports,
          portVariable: options.portVariable,
          labels,
          fidelity: recording,
          clusters: snapshot.clusters,
          useUpstream: (cluster, settings) => {
            tableDemands.push([cluster, settings]);
            return upstreamId(cluster, settings);
          },
          mirrorTarget: (cluster) => mirrorTarget(snapshot, cluster),
          websocket: binding.websocket,
        });
        memo = {
          table: binding.table,
          clusters: snapshot.clusters,
          endpoints: mirrors ? snapshot.endpoints : undefined,
          key,
          result,
          records: recording.records,
          demands: tableDemands,
        };
      }
      tables.set(binding.table.name, memo);
      report.recordAll(memo.records);
      for (const [cluster, settings] of memo.demands) demand(cluster, settings);
      // A loop, not push(...spread): a route table may render more routes than the call stack holds arguments.
      if (memo.result.ok) for (const route of memo.result.value) routes.push(route);
      else for (const error of memo.result.error) errors.push(error);
    });
    this.tables = tables;
    if (errors.length > 0) return err(errors);

    const streamRoutes: ApisixStreamRoute[] = [];
    for (const listener of snapshot.listeners.values()) {
      const ref: ResourceRef = { type: 'Listener', name: listener.name };
      listener.chains.forEach((chain, chainIndex) => {
        if (chain.protocol.kind !== 'tcp') return;
        const [backend, ...others] = chain.protocol.backends;
        if (!backend) return;
        const field = `filter_chains[${chainIndex}].filters.tcp_proxy`;
        const cluster = snapshot.clusters.get(backend.cluster);
        if (!cluster || cluster.discovery === 'original-dst') {
          report.record({
            resource: ref,
            field: `${field}.cluster`,
            severity: 'dropped',
            reason: cluster
              ? `"${backend.cluster}" forwards to the original destination, which APISIX stream routes cannot do`
              : `cluster "${backend.cluster}" is not in the configuration`,
          });
          return;
        }
        if (others.length > 0)
          report.record({ resource: ref, field: `${field}.weighted_clusters`, severity: 'approximated', reason: 'weighted TCP clusters: all traffic goes to the first cluster' });
        demand(backend.cluster, STREAM_SETTINGS);
        streamRoutes.push(renderStreamRoute({ listener, chain, chainIndex, upstreamId: upstreamId(backend.cluster, STREAM_SETTINGS) }, labels, report));
      });
    }

    const ssls = new Map<string, ApisixSsl>();
    const upstreams: ApisixUpstream[] = [];
    const slots: UpstreamSlot[] = [];
    let mirrors = false;
    for (const binding of bindings) mirrors ||= hasMirrors(binding.table);
    const upstreamMemos = new Map<string, UpstreamMemo>();
    for (const cluster of this.sortedClusters(snapshot.clusters)) {
      const ref: ResourceRef = { type: 'Cluster', name: cluster.name };
      if (cluster.discovery === 'original-dst') {
        report.record({ resource: ref, field: 'type', severity: 'dropped', reason: 'ORIGINAL_DST clusters have no APISIX upstream' });
        continue;
      }
      const clientCertId = clientCertificate(cluster, snapshot, labels, ssls);
      const endpoints = cluster.inlineEndpoints ?? snapshot.endpoints.get(cluster.edsName);
      const variants = demands.get(cluster.name) ?? new Map([['', DEFAULT_SETTINGS]]);
      const sorted = [...variants.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      for (const [suffix, settings] of sorted) {
        const memoKey = `${cluster.name}#${suffix}`;
        const key = `${clientCertId ?? ''}|${labelsKey}`;
        let memo = this.upstreams.get(memoKey);
        if (!memo || memo.cluster !== cluster || memo.endpoints !== endpoints || memo.key !== key) {
          const recording = new RecordingSink();
          memo = { cluster, endpoints, key, upstream: renderUpstream(cluster, endpoints, settings, { labels, fidelity: recording, clientCertId }), records: recording.records };
        }
        upstreamMemos.set(memoKey, memo);
        const part = report.slot(memo.records);
        slots.push({ memoKey, edsName: cluster.inlineEndpoints ? undefined : cluster.edsName, settings, clientCertId, part });
        upstreams.push(memo.upstream);
      }
    }
    this.upstreams = upstreamMemos;

    const ids = new IdRegistry();
    const objects: GatewayObject[] = [];
    const add = (kind: GatewayObject['kind'], value: { id: string }, original: string): void => {
      ids.claim(`${kind}/${value.id}`, original);
      objects.push({ kind, id: value.id, value: value as unknown as JsonObject });
    };
    for (const ssl of ssls.values()) add('ssls', ssl, `ssl:${ssl.id}`);
    for (const upstream of upstreams) add('upstreams', upstream, `${upstream.name}#${upstream.id}`);
    const routeOrigins = new Map<string, RouteOrigin>();
    for (const { route, origin } of routes) {
      add('routes', route, `${origin.table}\u0000${origin.virtualHost}\u0000${origin.route ?? '404'}\u0000${route.hosts?.[0] ?? ''}\u0000${route.priority}`);
      routeOrigins.set(route.id, origin);
    }
    for (const route of orderStreamRoutes(streamRoutes)) add('stream_routes', route, route.name);
    report.flush();
    for (const part of report.parts) output.recordAll(part);
    const config = GatewayConfig.of(snapshot.version, objects);
    // Tables with mirrors read endpoints: an endpoint change is then not confined to upstreams.
    if (!mirrors) {
      const { listeners, routeTables, clusters, secrets, endpoints } = snapshot;
      const slotsByEds = new Map<string, UpstreamSlot[]>();
      const upstreamRecords = new Map<string, readonly FidelityRecord[]>();
      for (const slot of slots) {
        upstreamRecords.set(slot.memoKey, report.parts[slot.part]!);
        if (slot.edsName === undefined) continue;
        const list = slotsByEds.get(slot.edsName);
        if (list) list.push(slot);
        else slotsByEds.set(slot.edsName, [slot]);
      }
      const upstreamParts = new Set(slots.map((s) => s.part));
      const otherParts = KeyedFidelity.of(new Map(report.parts.filter((_, i) => !upstreamParts.has(i)).map((part, i) => [i, part])));
      this.last = {
        listeners,
        routeTables,
        clusters,
        secrets,
        endpoints,
        optionsKey,
        labels,
        slots,
        slotsByEds,
        otherParts,
        upstreamFidelity: KeyedFidelity.of(upstreamRecords),
        config,
        routeOrigins,
      };
    }
    return ok({ config, report: output, routeOrigins });
  }

  /**
   * When only the endpoints map changed since the last full translation: renders again the upstreams
   * whose endpoints changed and patches the last config (a copy of its map), with the changes as a delta.
   */
  private endpointsOnly(snapshot: MeshSnapshot, optionsKey: string, report: FidelityReport): Translation | undefined {
    const last = this.last;
    if (!last || last.optionsKey !== optionsKey) return undefined;
    if (last.listeners !== snapshot.listeners || last.routeTables !== snapshot.routeTables || last.clusters !== snapshot.clusters || last.secrets !== snapshot.secrets)
      return undefined;
    const from = last.config;
    const replacedObjects = new Map<string, GatewayObject>();
    const replacedRecords = new Map<string, readonly FidelityRecord[]>();
    const changes: Change[] = [];
    if (snapshot.endpoints !== last.endpoints) {
      // The names whose endpoints changed, when the maps tell (patches of one map); else every upstream.
      const names = patchedKeys(last.endpoints, snapshot.endpoints);
      const candidates = names ? [...names].flatMap((name) => last.slotsByEds.get(name) ?? []) : last.slots;
      for (const slot of candidates) {
        if (slot.edsName === undefined) continue;
        const endpoints = snapshot.endpoints.get(slot.edsName);
        const memo = this.upstreams.get(slot.memoKey)!;
        if (memo.endpoints === endpoints) continue;
        const recording = new RecordingSink();
        let upstream = renderUpstream(memo.cluster, endpoints, slot.settings, { labels: last.labels, fidelity: recording, clientCertId: slot.clientCertId });
        const key = objectKey('upstreams', upstream.id);
        const previous = from.objects.get(key)!;
        if (canonicalJson(upstream as unknown as JsonObject) === from.canonicalOf(key)) upstream = previous.value as unknown as ApisixUpstream;
        else {
          const object: GatewayObject = { kind: 'upstreams', id: upstream.id, value: upstream as unknown as JsonObject };
          replacedObjects.set(key, object);
          changes.push({ op: 'update', key, object, previous });
        }
        this.upstreams.set(slot.memoKey, { ...memo, endpoints, upstream, records: recording.records });
        replacedRecords.set(slot.memoKey, recording.records);
      }
    }
    changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const objects = patchMap(from.objects, replacedObjects) ?? from.objects;
    const config = new GatewayConfig(snapshot.version, objects, from);
    last.endpoints = snapshot.endpoints;
    last.upstreamFidelity = last.upstreamFidelity.with(replacedRecords)!;
    last.config = config;
    report.recordGroup(last.otherParts);
    report.recordGroup(last.upstreamFidelity);
    return { config, report, routeOrigins: last.routeOrigins, delta: { from, changes: { fromVersion: from.version, toVersion: config.version, changes } } };
  }

  private sorted: { readonly source: ReadonlyMap<string, Cluster>; readonly clusters: readonly Cluster[] } | undefined;

  /** Clusters in name order, sorted again only when the clusters map changed. */
  private sortedClusters(clusters: ReadonlyMap<string, Cluster>): readonly Cluster[] {
    if (this.sorted?.source !== clusters) this.sorted = { source: clusters, clusters: [...clusters.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
    return this.sorted.clusters;
  }

  private inbound: { readonly source: ReadonlyMap<string, Cluster>; readonly clusters: ReadonlyMap<string, Cluster>; readonly records: readonly FidelityRecord[] } | undefined;

  /**
   * Istio's inbound clusters (`inbound|<port>||`) are ORIGINAL_DST since 1.10: the original
   * destination of inbound traffic is this pod, so they become the local application's port.
   */
  private withLocalInbound(snapshot: MeshSnapshot, report: FidelityReport): MeshSnapshot {
    if (this.inbound?.source !== snapshot.clusters) {
      const clusters = new Map<string, Cluster>();
      const records: FidelityRecord[] = [];
      for (const [name, cluster] of snapshot.clusters) {
        const port = cluster.discovery === 'original-dst' ? INBOUND_CLUSTER.exec(name)?.[1] : undefined;
        if (port === undefined) {
          clusters.set(name, cluster);
          continue;
        }
        const endpoint = { host: '127.0.0.1', port: Number(port), weight: undefined, health: 'healthy' as const, tlsMode: undefined };
        clusters.set(name, { ...cluster, discovery: 'static', inlineEndpoints: { name, localities: [{ locality: '', priority: 0, weight: undefined, endpoints: [endpoint] }] } });
        records.push({
          resource: { type: 'Cluster', name },
          field: 'type',
          severity: 'approximated',
          reason: `inbound ORIGINAL_DST cluster: forwarded to the local application at 127.0.0.1:${port} (the original destination is this pod)`,
        });
      }
      this.inbound = { source: snapshot.clusters, clusters: records.length > 0 ? clusters : snapshot.clusters, records };
    }
    report.recordAll(this.inbound.records);
    return this.inbound.clusters === snapshot.clusters ? snapshot : snapshotOfMaps(snapshot.version, { ...snapshot, clusters: this.inbound.clusters });
  }

  /** Host conflicts between tables only change when the set of tables does. */
  private reportConflicts(
    bindings: readonly TableBinding[],
    portVariable: string | undefined,
    report: FidelitySink & { recordAll(entries: readonly FidelityRecord[]): void },
  ): void {
    const tables = bindings.map((b) => b.table);
    const previous = this.conflicts;
    if (!previous || previous.portVariable !== portVariable || previous.tables.length !== tables.length || previous.tables.some((t, i) => t !== tables[i])) {
      const recording = new RecordingSink();
      reportTableConflicts(bindings, portVariable, recording);
      this.conflicts = { tables, portVariable, records: recording.records };
    }
    report.recordAll(this.conflicts!.records);
  }
}

function clientCertificate(cluster: Cluster, snapshot: MeshSnapshot, labels: ApisixLabels, ssls: Map<string, ApisixSsl>): string | undefined {
  const name = cluster.tls?.certificateSecret;
  if (name === undefined) return undefined;
  const existing = ssls.get(name);
  if (existing) return existing.id;
  const secret = snapshot.secrets.get(name);
  const ssl = secret ? renderClientSsl(secret, labels) : undefined;
  if (!ssl) return undefined;
  ssls.set(name, ssl);
  return sslId(name);
}
