// The ADS wire protocol as the xDS client and server adapters use it: the gRPC service definition
// and the request/response messages. Re-exported here because envoy/ is the only importer of
// generated code.
export { AggregatedDiscoveryServiceClient, AggregatedDiscoveryServiceService, type AggregatedDiscoveryServiceServer } from './generated/envoy/service/discovery/v3/ads.js';
export {
  DiscoveryRequest,
  DiscoveryResponse,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  Resource as DeltaResource,
  Resource,
} from './generated/envoy/service/discovery/v3/discovery.js';
export type { Any } from './generated/google/protobuf/any.js';
export type { ControlPlane, Node } from './generated/envoy/config/core/v3/base.js';
export type { Status } from './generated/google/rpc/status.js';
export { SecretDiscoveryServiceClient, SecretDiscoveryServiceService, type SecretDiscoveryServiceServer } from './generated/envoy/service/secret/v3/sds.js';
