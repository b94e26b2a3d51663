// istio-iptables' command line, as `amesh intercept` accepts it: the same long and short flags and the
// same environment variables (pkg/cmd/root.go; the fixtures' options.json lists them), so an existing
// istio-init container's arguments carry over. Flags win over environment variables.
import type { CaptureOptionName } from '../../domain/capture/capture-options.js';

export interface CaptureFlag {
  readonly option: CaptureOptionName;
  /** Long flag, without dashes; absent for options Istio reads from the environment only. */
  readonly flag?: string;
  readonly short?: string;
  readonly env: readonly string[];
  readonly boolean?: boolean;
  readonly description: string;
}

export const CAPTURE_FLAGS: readonly CaptureFlag[] = [
  { option: 'proxyPort', flag: 'envoy-port', short: 'p', env: [], description: 'port outbound traffic is redirected to (15001)' },
  { option: 'inboundCapturePort', flag: 'inbound-capture-port', short: 'z', env: ['INBOUND_CAPTURE_PORT'], description: 'port inbound traffic is redirected to (15006)' },
  { option: 'inboundTunnelPort', flag: 'inbound-tunnel-port', short: 'e', env: ['INBOUND_TUNNEL_PORT'], description: 'HBONE tunnel port, never captured (15008)' },
  { option: 'proxyUid', flag: 'proxy-uid', short: 'u', env: ['PROXY_UID'], description: 'proxy user id(s) whose traffic is not captured (default: uid of $ENVOY_USER, else 1337)' },
  { option: 'proxyGid', flag: 'proxy-gid', short: 'g', env: ['PROXY_GID'], description: 'proxy group id(s) (default: the proxy uid)' },
  { option: 'inboundInterceptionMode', flag: 'istio-inbound-interception-mode', short: 'm', env: ['ISTIO_INBOUND_INTERCEPTION_MODE'], description: 'REDIRECT or TPROXY' },
  { option: 'inboundTproxyMark', flag: 'istio-inbound-tproxy-mark', short: 't', env: ['ISTIO_INBOUND_TPROXY_MARK'], description: 'TPROXY packet mark (1337)' },
  { option: 'inboundTproxyRouteTable', flag: 'istio-inbound-tproxy-route-table', short: 'r', env: ['ISTIO_INBOUND_TPROXY_ROUTE_TABLE'], description: 'TPROXY route table (133)' },
  { option: 'inboundPortsInclude', flag: 'istio-inbound-ports', short: 'b', env: ['ISTIO_INBOUND_PORTS'], description: 'inbound ports to capture, "*" for all, empty for none' },
  { option: 'inboundPortsExclude', flag: 'istio-local-exclude-ports', short: 'd', env: ['ISTIO_LOCAL_EXCLUDE_PORTS'], description: 'inbound ports not captured (with "*")' },
  { option: 'outboundPortsInclude', flag: 'istio-outbound-ports', short: 'q', env: ['ISTIO_OUTBOUND_PORTS'], description: 'outbound ports always captured' },
  {
    option: 'outboundPortsExclude',
    flag: 'istio-local-outbound-ports-exclude',
    short: 'o',
    env: ['ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE'],
    description: 'outbound ports never captured',
  },
  { option: 'outboundIpRangesInclude', flag: 'istio-service-cidr', short: 'i', env: ['ISTIO_SERVICE_CIDR'], description: 'outbound CIDRs to capture, "*" for all' },
  { option: 'outboundIpRangesExclude', flag: 'istio-service-exclude-cidr', short: 'x', env: ['ISTIO_SERVICE_EXCLUDE_CIDR'], description: 'outbound CIDRs never captured' },
  { option: 'kubeVirtInterfaces', flag: 'kube-virt-interfaces', short: 'k', env: ['KUBE_VIRT_INTERFACES'], description: 'interfaces whose inbound traffic is treated as outbound' },
  { option: 'excludeInterfaces', flag: 'istio-exclude-interfaces', short: 'c', env: ['ISTIO_EXCLUDE_INTERFACES'], description: 'interfaces never captured' },
  { option: 'redirectDns', flag: 'redirect-dns', env: ['REDIRECT_DNS', 'ISTIO_META_DNS_CAPTURE'], boolean: true, description: 'send DNS to the agent (15053)' },
  { option: 'captureAllDns', flag: 'capture-all-dns', env: ['CAPTURE_ALL_DNS'], boolean: true, description: 'capture DNS to every server, not only those in resolv.conf' },
  { option: 'dropInvalid', flag: 'drop-invalid', env: ['DROP_INVALID', 'INVALID_DROP'], boolean: true, description: 'drop packets conntrack finds invalid' },
  { option: 'ownerGroupsInclude', env: ['ISTIO_OUTBOUND_OWNER_GROUPS'], description: 'groups whose outbound traffic is captured ("*")' },
  { option: 'ownerGroupsExclude', env: ['ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE'], description: 'groups whose outbound traffic is not captured' },
  { option: 'hostIpv4LoopbackCidr', env: ['ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR'], description: 'loopback range apps use for localhost (127.0.0.1/32)' },
  { option: 'ipv6', flag: 'ipv6', env: ['AMESH_INTERCEPT_IPV6'], boolean: true, description: 'also write the IPv6 (ip6tables) rules' },
  { option: 'chainPrefix', flag: 'chain-prefix', env: ['AMESH_CHAIN_PREFIX'], description: 'chain name prefix (ISTIO: ISTIO_OUTPUT, ISTIO_INBOUND, …)' },
];

/** How an option is named to the user: its flag (and the variable it came from, if any). */
export function describeOption(option: CaptureOptionName, fromEnv?: string): string {
  if (option === 'dnsServersV4' || option === 'dnsServersV6') return 'nameserver in --resolv-conf';
  const spec = CAPTURE_FLAGS.find((f) => f.option === option);
  if (!spec) return option;
  const flag = spec.flag ? `--${spec.flag}` : undefined;
  if (fromEnv) return flag ? `${flag} (from ${fromEnv})` : fromEnv;
  return flag ?? spec.env[0] ?? option;
}

/** Commander's camelCase key for a long flag. */
export function flagKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
