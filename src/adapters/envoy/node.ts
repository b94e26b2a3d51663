// The Envoy `Node` an xDS client presents, as a plain value (XdsNode) and its conversion to the
// generated proto message. The value is built elsewhere (adapters/istio/ for an Istio sidecar); only
// this file turns it into generated code, since envoy/ is the one importer of generated protos.
import type { JsonValue } from '../../domain/json.js';
import { Node } from './generated/envoy/config/core/v3/base.js';

export const USER_AGENT_NAME = 'amesh-ts';

export interface XdsLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

export interface XdsNode {
  /** Istio's `type~ip~pod.namespace~domain` for a sidecar. */
  readonly id: string;
  readonly cluster: string;
  /** Becomes a google.protobuf.Struct: JSON values only. */
  readonly metadata: { readonly [key: string]: JsonValue };
  readonly locality?: XdsLocality;
  readonly userAgentName: typeof USER_AGENT_NAME;
  readonly userAgentVersion: string;
}

/**
 * The generated message for a DiscoveryRequest's `node`. Struct fields are typed `unknown` in the
 * generated code and wrapped at encode time, so the JSON metadata goes in as is.
 */
export function toEnvoyNode(node: XdsNode): Node {
  return Node.fromPartial({
    id: node.id,
    cluster: node.cluster,
    metadata: { ...node.metadata },
    ...(node.locality ? { locality: { region: node.locality.region, zone: node.locality.zone, subZone: node.locality.subZone } } : {}),
    userAgentName: node.userAgentName,
    userAgentVersionType: { $case: 'userAgentVersion', value: node.userAgentVersion },
  });
}
