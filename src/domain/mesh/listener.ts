// Listeners: where traffic enters and which filter chain handles it.
import type { WeightedBackend, RouteTable } from './route.js';

export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

export interface ChainMatch {
  readonly destinationPort: number | undefined;
  readonly serverNames: readonly string[];
  readonly transportProtocol: string | undefined;
  readonly applicationProtocols: readonly string[];
  readonly prefixRanges: readonly string[];
}

export interface DownstreamTls {
  readonly certificateSecrets: readonly string[];
  readonly validationSecret: string | undefined;
  readonly requireClientCertificate: boolean;
}

export type ChainProtocol =
  | {
      readonly kind: 'http';
      readonly routes: { readonly kind: 'rds'; readonly name: string } | { readonly kind: 'inline'; readonly table: RouteTable };
      /** The connection manager allows websocket upgrades (upgrade_configs). */
      readonly websocket: boolean;
    }
  | { readonly kind: 'tcp'; readonly backends: readonly WeightedBackend[] }
  /** A chain with no terminal filter we translate (redis, mysql, …); kept so it can be reported. */
  | { readonly kind: 'opaque'; readonly filters: readonly string[] };

export interface FilterChain {
  readonly name: string | undefined;
  readonly match: ChainMatch;
  readonly tls: DownstreamTls | undefined;
  readonly protocol: ChainProtocol;
}

export type ListenerRole = 'virtual-outbound' | 'virtual-inbound' | 'regular';

export interface Listener {
  readonly name: string;
  readonly address: SocketAddress | undefined;
  readonly role: ListenerRole;
  readonly chains: readonly FilterChain[];
}
