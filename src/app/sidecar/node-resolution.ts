// The Envoy node the sidecar presents: built from the injected environment (Istio's injector) or
// read from pilot-agent's grpc-bootstrap.json.
import { toEnvoyNode } from '../../adapters/envoy/node.js';
import type { Node } from '../../adapters/envoy/ads-protocol.js';
import { istioNodeFromEnvironment, istioNodeFromGrpcBootstrap } from '../../adapters/istio/node-identity.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { NodeConfig } from './sidecar-config.js';

export function resolveNode(config: NodeConfig, env: Readonly<Record<string, string | undefined>>, agentVersion: string): Result<Node, string> {
  const node =
    config.kind === 'grpc-bootstrap'
      ? istioNodeFromGrpcBootstrap(config.path, { agentVersion })
      : istioNodeFromEnvironment(env, { agentVersion, ...(config.podInfoDir ? { podInfoDir: config.podInfoDir } : {}) });
  return node.ok ? ok(toEnvoyNode(node.value)) : err(`node identity: ${node.error}`);
}
