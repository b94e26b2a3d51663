// Listener → domain Listener: filter chains with their match, TLS and terminal filter (HTTP
// connection manager or TCP proxy). Non-terminal filters (RBAC, Istio telemetry…) are reported.
import type { ChainMatch, ChainProtocol, FilterChain as DomainChain, Listener as DomainListener, ListenerRole } from '../../../domain/mesh/listener.js';
import type { Listener } from '../generated/envoy/config/listener/v3/listener.js';
import type { FilterChain } from '../generated/envoy/config/listener/v3/listener_components.js';
import type { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { TcpProxy } from '../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { TYPE_URL } from '../proto/type-urls.js';
import { unpackAny } from '../proto/unpack-any.js';
import type { DecodeContext } from './decode-context.js';
import { socketAddress } from './endpoint-decoder.js';
import { decodeRouteConfiguration } from './route-decoder.js';
import { downstreamTls } from './tls-decoder.js';

/** HTTP filters whose effect the route translation carries (router) or reads per route (fault, cors). */
const TRANSLATED_HTTP_FILTERS: ReadonlySet<string> = new Set([TYPE_URL.Router, TYPE_URL.HTTPFault, TYPE_URL.Cors]);

const HCM_HANDLED = ['routeSpecifier', 'httpFilters', 'upgradeConfigs'];
const HCM_INERT = [
  'statPrefix',
  'codecType',
  'accessLog',
  'accessLogOptions',
  'tracing',
  'generateRequestId',
  'preserveExternalRequestId',
  'alwaysSetRequestIdInResponse',
  'serverName',
  'serverHeaderTransformation',
  'via',
  'forwardClientCertDetails',
  'setCurrentClientCertDetails',
  'useRemoteAddress',
  'xffNumTrustedHops',
  'skipXffAppend',
  'internalAddressConfig',
  'addUserAgent',
  'proxyStatusConfig',
  'streamIdleTimeout',
  'normalizePath',
  'mergeSlashes',
  'pathWithEscapedSlashesAction',
  'commonHttpProtocolOptions',
  'httpProtocolOptions',
  'http2ProtocolOptions',
  'localReplyConfig',
  'delayedCloseTimeout',
  'drainTimeout',
  'requestHeadersTimeout',
  'streamErrorOnInvalidHttpMessage',
  'maxRequestHeadersKb',
  'originalIpDetectionExtensions',
  'proxy100Continue',
];

function chainMatch(chain: FilterChain): ChainMatch {
  const match = chain.filterChainMatch;
  return {
    destinationPort: match?.destinationPort,
    serverNames: match?.serverNames ?? [],
    transportProtocol: match?.transportProtocol || undefined,
    applicationProtocols: match?.applicationProtocols ?? [],
    prefixRanges: (match?.prefixRanges ?? []).map((r) => `${r.addressPrefix}/${r.prefixLen ?? (r.addressPrefix.includes(':') ? 128 : 32)}`),
  };
}

function httpProtocol(hcm: HttpConnectionManager, field: string, ctx: DecodeContext): ChainProtocol | undefined {
  const spec = hcm.routeSpecifier;
  hcm.httpFilters.forEach((filter, i) => {
    if (filter.disabled) return;
    const config = filter.configType;
    const unpacked = config?.$case === 'typedConfig' ? unpackAny(config.value) : undefined;
    const typeUrl = unpacked?.typeUrl ?? filter.name;
    if (!TRANSLATED_HTTP_FILTERS.has(typeUrl)) ctx.dropped(`${field}.http_filters[${i}]`, `HTTP filter "${filter.name}" (${typeUrl}) is not enforced by APISIX`);
  });
  ctx.unhandled(hcm, field, HCM_HANDLED, HCM_INERT);
  const websocket = hcm.upgradeConfigs.some((u) => u.upgradeType.toLowerCase() === 'websocket' && u.enabled !== false);
  switch (spec?.$case) {
    case 'rds':
      return { kind: 'http', routes: { kind: 'rds', name: spec.value.routeConfigName }, websocket };
    case 'routeConfig':
      return { kind: 'http', routes: { kind: 'inline', table: decodeRouteConfiguration(spec.value, ctx, `${field}.route_config`) }, websocket };
    default:
      ctx.dropped(`${field}.${spec ? 'scoped_routes' : 'route_specifier'}`, spec ? 'scoped routes are not supported' : 'no route configuration');
      return undefined;
  }
}

function tcpProtocol(proxy: TcpProxy, field: string, ctx: DecodeContext): ChainProtocol | undefined {
  const spec = proxy.clusterSpecifier;
  ctx.unhandled(proxy, field, ['clusterSpecifier'], ['statPrefix', 'accessLog', 'accessLogOptions', 'idleTimeout', 'metadataMatch', 'maxConnectAttempts']);
  if (spec?.$case === 'cluster') return { kind: 'tcp', backends: [{ cluster: spec.value, weight: 1 }] };
  if (spec?.$case === 'weightedClusters') return { kind: 'tcp', backends: spec.value.clusters.map((c) => ({ cluster: c.name, weight: c.weight })) };
  ctx.fail(`${field}.cluster_specifier`, 'tcp_proxy without a cluster');
  return undefined;
}

function decodeChain(chain: FilterChain, field: string, ctx: DecodeContext): DomainChain | undefined {
  const opaque: string[] = [];
  let protocol: ChainProtocol | undefined;
  chain.filters.forEach((filter, i) => {
    const at = `${field}.filters[${i}]`;
    const config = filter.configType;
    if (config?.$case !== 'typedConfig') {
      ctx.dropped(at, `filter "${filter.name}" has no inline configuration`);
      return;
    }
    const unpacked = unpackAny(config.value);
    if (unpacked.kind === 'invalid') ctx.fail(`${at}.typed_config`, `cannot decode ${unpacked.typeUrl}: ${unpacked.error}`);
    else if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.HttpConnectionManager) protocol = httpProtocol(unpacked.message, `${at}.typed_config`, ctx);
    else if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.TcpProxy) protocol = tcpProtocol(unpacked.message, `${at}.typed_config`, ctx);
    else {
      opaque.push(filter.name);
      ctx.dropped(at, `network filter "${filter.name}" (${unpacked.typeUrl}) is not enforced by APISIX`);
    }
  });
  if (!protocol && opaque.length > 0) protocol = { kind: 'opaque', filters: opaque };
  if (!protocol) return undefined;
  return { name: chain.name || undefined, match: chainMatch(chain), tls: downstreamTls(chain.transportSocket, `${field}.transport_socket`, ctx), protocol };
}

function roleOf(listener: Listener): ListenerRole {
  if (listener.name === 'virtualInbound') return 'virtual-inbound';
  if (listener.name === 'virtualOutbound' || listener.useOriginalDst) return 'virtual-outbound';
  return 'regular';
}

export function decodeListener(listener: Listener, ctx: DecodeContext): DomainListener {
  const address = listener.address?.address?.$case === 'socketAddress' ? socketAddress(listener.address, 'address', ctx) : undefined;
  if (listener.address && listener.address.address?.$case !== 'socketAddress') ctx.dropped('address', 'only socket addresses can be served by APISIX');
  if (listener.filterChainMatcher) ctx.dropped('filter_chain_matcher', 'the unified filter chain matcher is not supported; filter chains are matched by filter_chain_match');
  const chains = listener.filterChains.map((chain, i) => decodeChain(chain, `filter_chains[${i}]`, ctx));
  if (listener.defaultFilterChain) chains.push(decodeChain(listener.defaultFilterChain, 'default_filter_chain', ctx));
  listener.listenerFilters.forEach((filter, i) =>
    ctx.approximated(`listener_filters[${i}]`, `listener filter "${filter.name}" is not run: APISIX chooses routes by its own listen ports and protocol`),
  );
  ctx.unhandled(
    listener,
    '',
    ['name', 'address', 'filterChains', 'defaultFilterChain', 'filterChainMatcher', 'useOriginalDst', 'listenerFilters'],
    [
      'statPrefix',
      'metadata',
      'listenerFiltersTimeout',
      'continueOnListenerFiltersTimeout',
      'trafficDirection',
      'accessLog',
      'socketOptions',
      'bindToPort',
      'transparent',
      'freebind',
      'perConnectionBufferLimitBytes',
      'drainType',
      'connectionBalanceConfig',
      'reusePort',
      'enableReusePort',
    ],
  );
  return { name: listener.name, address, role: roleOf(listener), chains: chains.filter((c): c is DomainChain => c !== undefined) };
}
