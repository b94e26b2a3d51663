// ClusterLoadAssignment → EndpointSet.
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

function decodeEndpoint(lb: LbEndpoint, field: string, ctx: DecodeContext): Endpoint | undefined {
  const id = lb.hostIdentifier;
  if (id?.$case !== 'endpoint') {
    ctx.dropped(`${field}.endpoint_name`, 'named endpoints are not supported');
    return undefined;
  }
  const address = socketAddress(id.value.address, `${field}.endpoint.address`, ctx);
  if (!address) return undefined;
  return { ...address, weight: lb.loadBalancingWeight, health: HEALTH[lb.healthStatus] ?? 'unknown', tlsMode: tlsModeOf(lb) };
}

export function decodeClusterLoadAssignment(assignment: ClusterLoadAssignment, ctx: DecodeContext, field = ''): EndpointSet {
  const at = (name: string): string => (field ? `${field}.${name}` : name);
  const localities: LocalityEndpoints[] = assignment.endpoints.map((group, g) => {
    const l = group.locality;
    return {
      locality: l ? [l.region, l.zone, l.subZone].filter((part) => part !== '').join('/') : '',
      priority: group.priority,
      weight: group.loadBalancingWeight,
      endpoints: group.lbEndpoints
        .map((lb, e) => decodeEndpoint(lb, at(`endpoints[${g}].lb_endpoints[${e}]`), ctx))
        .filter((e): e is Endpoint => e !== undefined),
    };
  });
  if (assignment.policy?.overprovisioningFactor !== undefined) ctx.approximated(at('policy.overprovisioning_factor'), 'APISIX fails over only when a whole priority is down');
  return { name: assignment.clusterName, localities };
}
