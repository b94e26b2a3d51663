// MeshSnapshot → GatewayConfig: the whole Envoy → APISIX translation, pure. Every field that
// cannot be carried over is recorded in the fidelity report; invalid input is an error value.
import { FidelityReport, type FidelityRecord, type FidelitySink, type ResourceRef } from '../../domain/fidelity.js';
import { GatewayConfig, type GatewayObject } from '../../domain/gateway-config.js';
import type { JsonObject } from '../../domain/json.js';
import type { Cluster } from '../../domain/mesh/cluster.js';
import type { EndpointSet } from '../../domain/mesh/endpoint.js';
import type { RouteTable } from '../../domain/mesh/route.js';
import { err, ok, type Result } from '../../domain/result.js';
import { snapshotOfMaps, type MeshSnapshot } from '../../domain/snapshot.js';
import type { ApisixLabels, ApisixSsl, ApisixStreamRoute, ApisixUpstream } from './apisix-types.js';
import { IdRegistry } from './ids.js';
import { renderRouteTable, type RenderedRoute, type RouteOrigin, type TranslationError } from './render-route-table.js';
import { renderClientSsl, sslId } from './render-ssl.js';
import { orderStreamRoutes, renderStreamRoute } from './render-stream-route.js';
import { DEFAULT_SETTINGS, renderUpstream, settingsSuffix, upstreamId, type UpstreamSettings } from './render-upstream.js';

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
}

interface TableBinding {
  readonly table: RouteTable;
  readonly ports: Set<number>;
  websocket: boolean;
}

function bindRouteTables(snapshot: MeshSnapshot, report: FidelityReport): Map<string, TableBinding> {
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
        report.record({ resource: ref, field: `filter_chains[${c}].filters`, severity: 'dropped', reason: `no APISIX equivalent for network filters ${protocol.filters.join(', ')}` });
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

function mirrorTarget(snapshot: MeshSnapshot, clusterName: string): string | undefined {
  const istio = /^outbound\|(\d+)\|[^|]*\|(.+)$/.exec(clusterName);
  if (istio) return `http://${istio[2]}:${istio[1]}`;
  const cluster = snapshot.clusters.get(clusterName);
  const endpoints = cluster?.inlineEndpoints ?? (cluster ? snapshot.endpoints.get(cluster.edsName) : undefined);
  const first = endpoints?.localities[0]?.endpoints[0];
  return first ? `http://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}` : undefined;
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

const hasMirrors = (table: RouteTable): boolean =>
  table.virtualHosts.some((vh) => vh.routes.some((r) => r.action.kind === 'forward' && r.action.mirrors.length > 0));

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

  translate(input: MeshSnapshot, options: TranslateOptions = {}, report = new FidelityReport()): Result<Translation, TranslationError[]> {
    const snapshot = this.withLocalInbound(input, report);
    const labels: ApisixLabels = { ...(options.labels ?? {}), [OWNER_LABEL]: OWNER_VALUE };
    const labelsKey = JSON.stringify(labels);
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
      const reusable =
        memo && memo.table === binding.table && memo.clusters === snapshot.clusters && memo.key === key && (!mirrors || memo.endpoints === snapshot.endpoints);
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
        memo = { table: binding.table, clusters: snapshot.clusters, endpoints: mirrors ? snapshot.endpoints : undefined, key, result, records: recording.records, demands: tableDemands };
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
          report.record({ resource: ref, field: `${field}.cluster`, severity: 'dropped', reason: cluster ? `"${backend.cluster}" forwards to the original destination, which APISIX stream routes cannot do` : `cluster "${backend.cluster}" is not in the configuration` });
          return;
        }
        if (others.length > 0) report.record({ resource: ref, field: `${field}.weighted_clusters`, severity: 'approximated', reason: 'weighted TCP clusters: all traffic goes to the first cluster' });
        demand(backend.cluster, DEFAULT_SETTINGS);
        streamRoutes.push(renderStreamRoute({ listener, chain, chainIndex, upstreamId: upstreamId(backend.cluster, DEFAULT_SETTINGS) }, labels));
      });
    }

    const ssls = new Map<string, ApisixSsl>();
    const upstreams: ApisixUpstream[] = [];
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
        report.recordAll(memo.records);
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
    return ok({ config: GatewayConfig.of(snapshot.version, objects), report, routeOrigins });
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
  private reportConflicts(bindings: readonly TableBinding[], portVariable: string | undefined, report: FidelityReport): void {
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
