// The configuration as it may be shown (the sidecar's config dump): an APISIX standalone document
// whose private keys are replaced, whatever their form: every ssl object's `key` and `keys`, an
// upstream's inline `tls.client_key`, and any PEM private key elsewhere (a plugin's configuration).
// What the sinks write is never passed through here.
import type { GatewayConfig } from '../../domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../domain/json.js';
import { REDACTED_PRIVATE_KEY, redactJsonStrings } from '../../domain/redaction.js';
import { standaloneDocument } from './standalone-document.js';

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function redactSsl(ssl: JsonObject): JsonObject {
  const copy = { ...ssl };
  if (copy.key !== undefined) copy.key = REDACTED_PRIVATE_KEY;
  if (Array.isArray(copy.keys)) copy.keys = copy.keys.map(() => REDACTED_PRIVATE_KEY);
  return copy;
}

function redactUpstream(upstream: JsonObject): JsonObject {
  const tls = upstream.tls;
  if (!isObject(tls) || tls.client_key === undefined) return upstream;
  return { ...upstream, tls: { ...tls, client_key: REDACTED_PRIVATE_KEY } };
}

export function redactedDocument(config: GatewayConfig): JsonObject {
  const document = standaloneDocument(config);
  const copy: JsonObject = { ...document };
  const ssls = document.ssls;
  if (Array.isArray(ssls)) copy.ssls = ssls.map((ssl) => (isObject(ssl) ? redactSsl(ssl) : ssl));
  const upstreams = document.upstreams;
  if (Array.isArray(upstreams)) copy.upstreams = upstreams.map((upstream) => (isObject(upstream) ? redactUpstream(upstream) : upstream));
  return redactJsonStrings(copy);
}
