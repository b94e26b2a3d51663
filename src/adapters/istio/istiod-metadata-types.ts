// The node metadata keys istiod decodes into typed fields, with the JSON shape each must have.
// istiod unmarshals the whole metadata Struct into its BootstrapNodeMetadata (pilot/pkg/model/
// context.go ParseBootstrapNodeMetadata) and refuses the connection if any field has the wrong
// shape, with an error the operator only sees in istiod's log. Checking here names the env var
// instead. Mirrors pkg/model/proxy.go at istio/istio@86c9f01; keys not listed are free-form.
import type { JsonValue } from '../../domain/json.js';

type Shape = 'string' | 'string-map' | 'string-array' | 'string-bool' | 'int' | 'pod-ports' | 'object';

const SHAPES: Readonly<Record<string, Shape>> = {
  // Plain strings; StringList fields (comma-joined) are strings on the wire too.
  ...Object.fromEntries(
    [
      'NAME',
      'OWNER',
      'OUTLIER_LOG_PATH',
      'APP_CONTAINERS',
      'ISTIO_PROXY_SHA',
      'ISTIO_VERSION',
      'ISTIO_REVISION',
      'NAMESPACE',
      'NODE_NAME',
      'WORKLOAD_NAME',
      'INTERCEPTION_MODE',
      'SERVICE_ACCOUNT',
      'HTTP_PROXY_PORT',
      'MESH_ID',
      'CLUSTER_ID',
      'NETWORK',
      'INSTANCE_IPS',
      'REQUESTED_NETWORK_VIEW',
      'TLS_SERVER_CERT_CHAIN',
      'TLS_SERVER_KEY',
      'TLS_SERVER_ROOT_CERT',
      'TLS_CLIENT_CERT_CHAIN',
      'TLS_CLIENT_KEY',
      'TLS_CLIENT_ROOT_CERT',
      'BASE',
      'IDLE_TIMEOUT',
      'HTTP10',
      'GENERATOR',
      'DNS_PROXY_ADDR',
      'AUTO_REGISTER_GROUP',
      'WORKLOAD_ENTRY',
      'UNPRIVILEGED_POD',
      'STS_PORT',
      'CLOUDRUN_ADDR',
      'WORKLOAD_IDENTITY_SOCKET_FILE',
    ].map((key) => [key, 'string' as const]),
  ),
  LABELS: 'string-map',
  STATIC_LABELS: 'string-map',
  ANNOTATIONS: 'string-map',
  PLATFORM_METADATA: 'string-map',
  PILOT_SAN: 'string-array',
  // StringBool: a JSON string that Go's strconv.ParseBool accepts.
  ...Object.fromEntries(
    [
      'ENABLE_SELF_DISCOVERY',
      'DNS_CAPTURE',
      'DNS_AUTO_ALLOCATE',
      'ENABLE_HBONE',
      'DISABLE_HBONE_SEND',
      'EXIT_ON_ZERO_ACTIVE_CONNECTIONS',
      'INBOUND_LISTENER_EXACT_BALANCE',
      'OUTBOUND_LISTENER_EXACT_BALANCE',
      'METADATA_DISCOVERY',
      'ENVOY_SKIP_DEPRECATED_LOGS',
    ].map((key) => [key, 'string-bool' as const]),
  ),
  ENVOY_STATUS_PORT: 'int',
  ENVOY_PROMETHEUS_PORT: 'int',
  ENVOY_SECURE_METRICS_PORT: 'int',
  ENVOY_SECURE_MERGED_METRICS_PORT: 'int',
  // PodPortList: a JSON string holding a JSON array of {name?, containerPort, protocol}.
  POD_PORTS: 'pod-ports',
  PROXY_CONFIG: 'object',
};

const GO_BOOLS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

const isObject = (value: JsonValue): value is { [key: string]: JsonValue } => typeof value === 'object' && value !== null && !Array.isArray(value);

function podPortsProblem(text: string): string | undefined {
  let ports: unknown;
  try {
    ports = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (!Array.isArray(ports)) return 'not a JSON array';
  for (const [i, port] of ports.entries()) {
    if (typeof port !== 'object' || port === null || Array.isArray(port)) return `[${i}] is not an object`;
    const { name, containerPort, protocol } = port as Record<string, unknown>;
    if (name !== undefined && name !== null && typeof name !== 'string') return `[${i}].name is not a string`;
    if (containerPort !== undefined && containerPort !== null && !Number.isInteger(containerPort)) return `[${i}].containerPort is not an integer`;
    if (protocol !== undefined && protocol !== null && typeof protocol !== 'string') return `[${i}].protocol is not a string`;
  }
  return undefined;
}

function shapeProblem(shape: Shape, value: JsonValue): string | undefined {
  if (value === null) return undefined; // Go leaves the field unset
  switch (shape) {
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'string-map':
      return isObject(value) && Object.values(value).every((v) => typeof v === 'string' || v === null) ? undefined : 'must be an object of strings';
    case 'string-array':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' || v === null) ? undefined : 'must be an array of strings';
    case 'string-bool':
      return typeof value === 'string' && GO_BOOLS.has(value) ? undefined : 'must be the string "true" or "false"';
    case 'int':
      return Number.isInteger(value) ? undefined : 'must be an integer (a number, not a string)';
    case 'pod-ports': {
      if (typeof value !== 'string') return 'must be a string holding a JSON array of ports';
      const problem = podPortsProblem(value);
      return problem && `must hold a JSON array of {name, containerPort, protocol}: ${problem}`;
    }
    case 'object':
      return isObject(value) ? undefined : 'must be an object';
  }
}

/**
 * The first key whose value istiod would fail to decode, described. Go's encoding/json matches
 * keys to fields case-insensitively, so `labels` is checked as `LABELS`.
 */
export function istiodMetadataProblem(metadata: { readonly [key: string]: JsonValue }): { key: string; problem: string } | undefined {
  for (const [key, value] of Object.entries(metadata)) {
    const shape = SHAPES[key.toUpperCase()];
    if (!shape) continue;
    const problem = shapeProblem(shape, value);
    if (problem) return { key, problem };
  }
  return undefined;
}
