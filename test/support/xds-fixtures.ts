// xDS resources for feeding XdsServer in client tests: the bookinfo sidecar example (optionally edited
// as text first, as a control plane would change it), or any resource list, encoded per type URL into
// the server's ResourceInput form.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { resourcesOfDocument } from '../../src/adapters/envoy/config-document.js';
import { Cluster } from '../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import { Secret } from '../../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { TYPE_URL } from '../../src/adapters/envoy/proto/type-urls.js';
import { xdsResourceName, type XdsResource } from '../../src/adapters/envoy/xds-resources.js';
import type { ResourceInput, XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import { repoRoot } from './shared-fixtures.js';

export const CDS = TYPE_URL.Cluster;
export const EDS = TYPE_URL.ClusterLoadAssignment;
export const LDS = TYPE_URL.Listener;
export const RDS = TYPE_URL.RouteConfiguration;
export const SDS = TYPE_URL.Secret;
/** istiod's push order. */
export const TYPE_URLS = [CDS, EDS, LDS, RDS, SDS] as const;
export type XdsTypeUrl = (typeof TYPE_URLS)[number];

export type XdsFixture = Record<XdsTypeUrl, ResourceInput[]>;

export const BOOKINFO_PATH = path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');

export function encodeResource(resource: XdsResource): ResourceInput {
  const name = xdsResourceName(resource);
  switch (resource.type) {
    case 'Listener':
      return { name, resource: Listener.encode(resource.message).finish() };
    case 'RouteConfiguration':
      return { name, resource: RouteConfiguration.encode(resource.message).finish() };
    case 'Cluster':
      return { name, resource: Cluster.encode(resource.message).finish() };
    case 'ClusterLoadAssignment':
      return { name, resource: ClusterLoadAssignment.encode(resource.message).finish() };
    case 'Secret':
      return { name, resource: Secret.encode(resource.message).finish() };
  }
}

/** A parsed document (`{resources: [{"@type": …}]}`, a config dump…) encoded per type URL. */
export function fixtureOf(document: unknown): XdsFixture {
  const parsed = resourcesOfDocument(document);
  if (!parsed.ok) throw new Error(parsed.error.map((e) => `${e.path}: ${e.message}`).join('\n'));
  const fixture: XdsFixture = { [CDS]: [], [EDS]: [], [LDS]: [], [RDS]: [], [SDS]: [] };
  for (const resource of parsed.value.resources) fixture[TYPE_URL[resource.type] as XdsTypeUrl].push(encodeResource(resource));
  return fixture;
}

/** The bookinfo example, after `edit` on its YAML text (which must change something when given). */
export function bookinfoFixture(edit?: (yaml: string) => string): XdsFixture {
  const text = readFileSync(BOOKINFO_PATH, 'utf8');
  const edited = edit ? edit(text) : text;
  if (edit && edited === text) throw new Error('bookinfoFixture: the edit changed nothing');
  return fixtureOf(parse(edited));
}

/** One list of resources of one type, from `{"@type": …}` JSON objects. */
export function resourcesOf(typeUrl: XdsTypeUrl, ...items: Record<string, unknown>[]): ResourceInput[] {
  return fixtureOf({ resources: items.map((item) => ({ '@type': typeUrl, ...item })) })[typeUrl];
}

/** A ClusterLoadAssignment with one locality of healthy hosts. */
export function loadAssignment(clusterName: string, hosts: readonly string[], port = 9080): ResourceInput {
  const lbEndpoints = hosts.map((address) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, health_status: 'HEALTHY' }));
  return resourcesOf(EDS, { cluster_name: clusterName, endpoints: [{ lb_endpoints: lbEndpoints }] })[0]!;
}

/** An EDS cluster whose endpoints come from `edsName`. */
export function edsCluster(name: string, edsName = name): ResourceInput {
  return resourcesOf(CDS, { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: edsName }, connect_timeout: '10s' })[0]!;
}

/** Replaces the entry named `name` (or appends it) in a copy of `list`. */
export function withResource(list: readonly ResourceInput[], replacement: ResourceInput): ResourceInput[] {
  const index = list.findIndex((r) => r.name === replacement.name);
  return index < 0 ? [...list, replacement] : list.map((r, i) => (i === index ? replacement : r));
}

/** Sets every type of `fixture` on the server, in istiod's push order. */
export function serve(server: XdsServer, fixture: XdsFixture, types: readonly XdsTypeUrl[] = TYPE_URLS): void {
  for (const typeUrl of types) server.setResources(typeUrl, fixture[typeUrl]);
}
