// A generated mesh as an Envoy admin config dump (proto3 JSON, as `istioctl proxy-config all -o json`
// prints it), for measuring the file source on the same input as the xDS path.
import { create, createFileRegistry, fromBinary, toJson, type DescMessage, type JsonObject, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { descriptorRegistry } from '../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL, typeNameOf, type XdsResourceTypeUrl } from '../src/adapters/envoy/proto/type-urls.js';
import type { EncodedResource } from './translate.bench.js';

/** An empty message named `typeName`, standing in for a type amesh has no descriptor of. */
function emptyMessage(typeName: string): DescMessage {
  const dot = typeName.lastIndexOf('.');
  const file = create(FileDescriptorProtoSchema, {
    name: `${typeName}.proto`,
    package: typeName.slice(0, dot),
    syntax: 'proto3',
    messageType: [{ name: typeName.slice(dot + 1) }],
  });
  return createFileRegistry(file, () => undefined).getMessage(typeName)!;
}

/**
 * The registry, plus empty messages for the unmodelled Any payloads the generator uses (Istio's
 * `stats.PluginConfig`, …, all empty), which then print as `{"@type": …}` as a real dump has them.
 */
function lenientRegistry(): Registry {
  const registry = descriptorRegistry();
  const stand = new Map<string, DescMessage>();
  const getMessage = (name: string): DescMessage => registry.getMessage(name) ?? stand.get(name) ?? stand.set(name, emptyMessage(name)).get(name)!;
  return Object.assign(Object.create(registry) as Registry, { getMessage });
}

function resourceJson({ typeUrl, bytes }: EncodedResource, registry: Registry): JsonObject {
  const desc = registry.getMessage(typeNameOf(typeUrl)!)!;
  const json = toJson(desc, fromBinary(desc, bytes), { registry, useProtoFieldName: true }) as JsonObject;
  return { '@type': typeUrl, ...json };
}

export function configDumpJson(resources: readonly EncodedResource[]): string {
  const registry = lenientRegistry();
  const of = (typeUrl: XdsResourceTypeUrl): JsonObject[] => resources.filter((r) => r.typeUrl === typeUrl).map((r) => resourceJson(r, registry));
  const configs = [
    { '@type': TYPE_URL.ListenersConfigDump, dynamic_listeners: of(TYPE_URL.Listener).map((listener) => ({ name: listener['name'], active_state: { listener } })) },
    { '@type': TYPE_URL.ClustersConfigDump, dynamic_active_clusters: of(TYPE_URL.Cluster).map((cluster) => ({ cluster })) },
    { '@type': TYPE_URL.RoutesConfigDump, dynamic_route_configs: of(TYPE_URL.RouteConfiguration).map((route_config) => ({ route_config })) },
    { '@type': TYPE_URL.EndpointsConfigDump, dynamic_endpoint_configs: of(TYPE_URL.ClusterLoadAssignment).map((endpoint_config) => ({ endpoint_config })) },
    { '@type': TYPE_URL.SecretsConfigDump, dynamic_active_secrets: of(TYPE_URL.Secret).map((secret) => ({ name: secret['name'], secret })) },
  ];
  return JSON.stringify({ configs }, null, 1);
}
