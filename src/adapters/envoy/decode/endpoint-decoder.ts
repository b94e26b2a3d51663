// ClusterLoadAssignment → EndpointSet.
import { isIP } from 'node:net';
import type { Endpoint, EndpointSet, HealthStatus as DomainHealth, LocalityEndpoints } from '../../../domain/mesh/endpoint.js';
import type { ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint.js';
import type { LbEndpoint } from '../generated/envoy/config/endpoint/v3/endpoint_components.js';
import { HealthStatus } from '../generated/envoy/config/core/v3/health_check.js';
import type { Address } from '../generated/envoy/config/core/v3/address.js';
import type { DecodeContext } from './decode-context.js';

const HEALTH: Record<HealthStatus, DomainHealth> = {
  [HealthStatus.UNKNOWN]: 'unknown',
  [HealthStatus.HEALTHY]: 'healthy',
  [HealthStatus.UNHEALTHY]: 'unhealthy',
  [HealthStatus.DRAINING]: 'draining',
  [HealthStatus.TIMEOUT]: 'timeout',
  [HealthStatus.DEGRADED]: 'degraded',
  [HealthStatus.UNRECOGNIZED]: 'unknown',
};

/** host and port of a socket address; undefined (reported) for pipes and internal addresses. */
export function socketAddress(address: Address | undefined, field: string, ctx: DecodeContext): { host: string; port: number } | undefined {
  const spec = address?.address;
  if (!spec) {
    ctx.fail(field, 'missing address');
    return undefined;
  }
  if (spec.$case !== 'socketAddress') {
    ctx.dropped(field, `${spec.$case} addresses have no APISIX equivalent`);
    return undefined;
  }
  const port = spec.value.portSpecifier;
  if (port?.$case !== 'portValue') {
    ctx.fail(`${field}.socket_address.port_specifier`, port ? 'named ports are not supported' : 'missing port_value');
    return undefined;
  }
  if (spec.value.address === '') {
    ctx.fail(`${field}.socket_address.address`, 'empty address');
    return undefined;
  }
  return { host: spec.value.address, port: port.value };
}

function tlsModeOf(endpoint: LbEndpoint): string | undefined {
  const match = endpoint.metadata?.filterMetadata?.['envoy.transport_socket_match'];
  const mode = match?.['tlsMode'];
  return typeof mode === 'string' ? mode : undefined;
}

/**
 * What an endpoint's address must be: an IP address (Envoy resolves no names for STATIC and EDS
 * endpoints and refuses the configuration: "malformed IP address"), or for DNS clusters a name to
 * resolve.
 */
export type EndpointAddresses = 'ip' | 'name';

/** A DNS name (labels of letters, digits, '-' and '_' as service records use): what APISIX's node host accepts as one. */
const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function decodeEndpoint(lb: LbEndpoint, field: string, ctx: DecodeContext, addresses: EndpointAddresses): Endpoint | undefined {
  const id = lb.hostIdentifier;
  if (id?.$case !== 'endpoint') {
    ctx.dropped(`${field}.endpoint_name`, 'named endpoints are not supported');
    return undefined;
  }
  const at = `${field}.endpoint.address`;
  const address = socketAddress(id.value.address, at, ctx);
  if (!address) return undefined;
  const socket = `${at}.socket_address`;
  if (address.port > 65535) {
    ctx.fail(`${socket}.port_value`, `port ${address.port} is over 65535`);
    return undefined;
  }
  if (address.port === 0) {
    // Envoy accepts it, but no connection can be made to port 0; APISIX refuses such a node.
    ctx.dropped(`${socket}.port_value`, 'port 0: the endpoint cannot be connected to and is left out');
    return undefined;
  }
  if (addresses === 'ip' && isIP(address.host) === 0) {
    ctx.fail(`${socket}.address`, `${JSON.stringify(clip(address.host))} is not an IP address (Envoy resolves no names for STATIC and EDS endpoints)`);
    return undefined;
  }
  if (addresses === 'name' && isIP(address.host) === 0 && !DNS_NAME.test(address.host)) {
    // Envoy would try to resolve it and never find it; APISIX refuses the whole upstream for one bad node.
    ctx.dropped(`${socket}.address`, `${JSON.stringify(clip(address.host))} is not a host name; the endpoint is left out`);
    return undefined;
  }
  return { ...address, weight: lb.loadBalancingWeight, health: HEALTH[lb.healthStatus] ?? 'unknown', tlsMode: tlsModeOf(lb) };
}

const clip = (text: string): string => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

/** `addresses`: ClusterLoadAssignment resources (EDS) and STATIC clusters take IP addresses, DNS clusters names. */
export function decodeClusterLoadAssignment(assignment: ClusterLoadAssignment, ctx: DecodeContext, field = '', addresses: EndpointAddresses = 'ip'): EndpointSet {
  const at = (name: string): string => (field ? `${field}.${name}` : name);
  const localities: LocalityEndpoints[] = assignment.endpoints.map((group, g) => {
    const l = group.locality;
    return {
      locality: l ? [l.region, l.zone, l.subZone].filter((part) => part !== '').join('/') : '',
      priority: group.priority,
      weight: group.loadBalancingWeight,
      endpoints: group.lbEndpoints.map((lb, e) => decodeEndpoint(lb, at(`endpoints[${g}].lb_endpoints[${e}]`), ctx, addresses)).filter((e): e is Endpoint => e !== undefined),
    };
  });
  if (assignment.policy?.overprovisioningFactor !== undefined) ctx.approximated(at('policy.overprovisioning_factor'), 'APISIX fails over only when a whole priority is down');
  return { name: assignment.clusterName, localities };
}
