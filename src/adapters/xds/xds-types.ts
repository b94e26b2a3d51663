// The five resource types the sidecar subscribes to, in istiod's push order, and how the protocol
// treats each: LDS and CDS are wildcard and sent in full in SotW (a missing name means deleted);
// RDS, EDS and SDS are named, derived from what LDS and CDS reference.
import type { ResourceType } from '../../domain/fidelity.js';
import { TYPE_URL } from '../envoy/proto/type-urls.js';

export interface XdsType {
  readonly kind: ResourceType;
  readonly typeUrl: string;
  /** Short name for logs and metrics. */
  readonly short: 'lds' | 'rds' | 'cds' | 'eds' | 'sds';
  readonly wildcard: boolean;
}

export const XDS_TYPES: readonly XdsType[] = [
  { kind: 'Cluster', typeUrl: TYPE_URL.Cluster, short: 'cds', wildcard: true },
  { kind: 'ClusterLoadAssignment', typeUrl: TYPE_URL.ClusterLoadAssignment, short: 'eds', wildcard: false },
  { kind: 'Listener', typeUrl: TYPE_URL.Listener, short: 'lds', wildcard: true },
  { kind: 'RouteConfiguration', typeUrl: TYPE_URL.RouteConfiguration, short: 'rds', wildcard: false },
  { kind: 'Secret', typeUrl: TYPE_URL.Secret, short: 'sds', wildcard: false },
];

const BY_URL = new Map(XDS_TYPES.map((t) => [t.typeUrl, t]));
const BY_KIND = new Map(XDS_TYPES.map((t) => [t.kind, t]));

export const xdsTypeOfUrl = (typeUrl: string): XdsType | undefined => BY_URL.get(typeUrl);
export const xdsTypeOf = (kind: ResourceType): XdsType => BY_KIND.get(kind)!;
