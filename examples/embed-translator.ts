// Embedding the translator: Envoy resources in, APISIX objects out, then an incremental update
// applied through a sink. Run with `npx tsx examples/embed-translator.ts`.
import {
  FidelityReport,
  GatewayConfig,
  MemoryConfigSink,
  createSnapshot,
  decodeXdsResources,
  diffConfigs,
  renderStandalone,
  resourcesOfDocument,
  translateSnapshot,
} from '../src/index.js';

/** One route table and one cluster, as a tool might receive them (proto3 JSON). */
function envoyDocument(weightV2: number): unknown {
  return {
    resources: [
      {
        '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
        name: 'web',
        virtual_hosts: [
          {
            name: 'shop',
            domains: ['shop.example.com'],
            routes: [
              { match: { prefix: '/api/', headers: [{ name: 'x-beta', present_match: true }] }, route: { cluster: 'api-v2' } },
              {
                match: { prefix: '/api/' },
                route: {
                  weighted_clusters: {
                    clusters: [
                      { name: 'api-v1', weight: 100 - weightV2 },
                      { name: 'api-v2', weight: weightV2 },
                    ],
                  },
                },
              },
            ],
          },
        ],
      },
      ...['api-v1', 'api-v2'].map((name, i) => ({
        '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
        name,
        type: 'STATIC',
        connect_timeout: '0.25s',
        load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: `10.0.0.${i + 1}`, port_value: 8080 } } } }] }] },
      })),
    ],
  };
}

export function translate(weightV2: number, version: string): GatewayConfig {
  const document = resourcesOfDocument(envoyDocument(weightV2));
  if (!document.ok) throw new Error(JSON.stringify(document.error));
  const report = new FidelityReport();
  const decoded = decodeXdsResources(document.value.resources, report);
  if (decoded.errors.length > 0) throw new Error(JSON.stringify(decoded.errors));
  const translation = translateSnapshot(createSnapshot(version, decoded.resources), {}, report);
  if (!translation.ok) throw new Error(JSON.stringify(translation.error));
  return translation.value.config;
}

export async function main(print: (text: string) => void = console.log): Promise<MemoryConfigSink> {
  const sink = new MemoryConfigSink();
  const first = translate(10, 'v1');
  await sink.apply({ desired: first, changes: diffConfigs(GatewayConfig.empty(), first) });
  print(renderStandalone(first, 'yaml'));
  // Shift traffic: only the route holding the split changes.
  const second = translate(50, 'v2');
  const changes = diffConfigs(sink.applied, second);
  await sink.apply({ desired: second, changes });
  print(`changed: ${changes.changes.map((c) => `${c.op} ${c.key}`).join(', ')}`);
  return sink;
}

// Run when executed directly (not when imported by the test).
if (process.argv[1]?.endsWith('embed-translator.ts')) void main();
