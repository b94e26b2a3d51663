// The objects an APISIX object points at by id (route → upstream, service, plugin_config; upstream →
// client ssl; traffic-split → upstreams). A sink uses them to hold back what depends on a write that
// failed, instead of sending a request APISIX would refuse for a missing reference.
import { objectKey, type GatewayKind } from '../../domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../domain/json.js';

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const idOf = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);

function upstreamRefs(upstream: JsonValue | undefined, out: Set<string>): void {
  if (!isObject(upstream) || !isObject(upstream.tls)) return;
  const cert = idOf(upstream.tls.client_cert_id);
  if (cert) out.add(objectKey('ssls', cert));
}

function pluginRefs(plugins: JsonValue | undefined, out: Set<string>): void {
  if (!isObject(plugins)) return;
  const split = plugins['traffic-split'];
  if (!isObject(split) || !Array.isArray(split.rules)) return;
  for (const rule of split.rules) {
    if (!isObject(rule) || !Array.isArray(rule.weighted_upstreams)) continue;
    for (const weighted of rule.weighted_upstreams) {
      if (!isObject(weighted)) continue;
      const id = idOf(weighted.upstream_id);
      if (id) out.add(objectKey('upstreams', id));
      upstreamRefs(weighted.upstream, out);
    }
  }
}

/** `kind/id` keys of every object `value` (of `kind`) references. */
export function referencesOf(kind: GatewayKind, value: JsonObject): string[] {
  const out = new Set<string>();
  const upstream = idOf(value.upstream_id);
  if (upstream) out.add(objectKey('upstreams', upstream));
  upstreamRefs(value.upstream, out);
  pluginRefs(value.plugins, out);
  if (kind === 'upstreams') upstreamRefs(value, out);
  if (kind === 'routes' || kind === 'stream_routes') {
    const service = idOf(value.service_id);
    if (service) out.add(objectKey('services', service));
  }
  if (kind === 'routes') {
    const pluginConfig = idOf(value.plugin_config_id);
    if (pluginConfig) out.add(objectKey('plugin_configs', pluginConfig));
  }
  return [...out];
}
