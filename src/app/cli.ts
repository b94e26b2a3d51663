// The `amesh` command line: parses arguments, runs the chosen app, maps the outcome to an exit code.
// Exit codes: 0 ok, 1 bad input or translation error, 2 usage error, 3 output could not be written.
import { Command, CommanderError } from 'commander';
import { buildTranslateContainer, TranslateAppToken, type ContainerOverrides } from './container.js';
import { parseTranslateConfig, type TranslateFlags } from './config.js';
import type { TranslateApp, TranslateFailure, TranslateOutcome } from './translate/translate-app.js';
import { formatSummaryLine } from './translate/translate-app.js';
import { ok } from '../domain/result.js';
import type { Node } from '../adapters/envoy/ads-protocol.js';
import { resolveNode } from './sidecar/node-resolution.js';
import { parseSidecarConfig, type SidecarFlags } from './sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken, type SidecarOverrides } from './sidecar/sidecar-container.js';
import type { SidecarApp } from './sidecar/sidecar-app.js';
import type { ControllerFlags } from './controller/controller-config.js';
import type { InjectorFlags } from './injector/injector-config.js';

/** Announced to the control plane as the agent's version. */
export const AGENT_VERSION = '0.1.0';

/** A file source talks to no control plane; the node is only a placeholder. */
const FILE_SOURCE_NODE: Node = { id: 'file', cluster: 'file', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };

export const EXIT = { ok: 0, input: 1, usage: 2, output: 3 } as const;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Environment variables (flags fall back to them). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGTERM/SIGINT by main.ts: long-running commands stop gracefully. */
  readonly signal?: AbortSignal;
}

const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function describeFailure(failure: TranslateFailure): string {
  switch (failure.kind) {
    case 'input':
      return `error: ${failure.error.location}: ${failure.error.message}\n`;
    case 'translation':
      return failure.errors.map((e) => `error: ${e.resource}${e.field ? ` field ${e.field}` : ''}: ${e.message}\n`).join('');
    case 'output':
      return `error: could not write the output: ${failure.reason}\n`;
  }
}

function summary(outcome: TranslateOutcome, target: string): string {
  const { snapshot } = outcome.update;
  const counts = outcome.translation.config.counts();
  const records = outcome.translation.report.records;
  const dropped = records.filter((r) => r.severity === 'dropped').length;
  const approximated = records.length - dropped;
  return (
    `translated ${snapshot.listeners.size} listeners, ${snapshot.routeTables.size} route configurations, ${snapshot.clusters.size} clusters, ` +
    `${snapshot.endpoints.size} endpoint sets, ${snapshot.secrets.size} secrets\n` +
    `  → ${counts.routes} routes, ${counts.upstreams} upstreams, ${counts.ssls} ssls, ${counts.stream_routes} stream routes ` +
    `in ${outcome.elapsedMs.toFixed(0)} ms, written to ${target}\n` +
    `  fidelity: ${dropped} fields dropped, ${approximated} approximated${records.length > 0 ? ' (--explain for details)' : ''}\n`
  );
}

/** Environment variables stand in for flags that were not given. */
function withEnvironment(flags: SidecarFlags, env: Readonly<Record<string, string | undefined>>): SidecarFlags {
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] || undefined);
  const sinks = flags.sink ?? env.AMESH_SINKS?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return {
    ...flags,
    xds: pick(flags.xds, 'AMESH_XDS'),
    xdsMode: pick(flags.xdsMode, 'AMESH_XDS_MODE'),
    file: pick(flags.file, 'AMESH_FILE'),
    ...(sinks ? { sink: sinks } : {}),
    caFile: pick(flags.caFile, 'AMESH_XDS_CA_FILE'),
    certFile: pick(flags.certFile, 'AMESH_XDS_CERT_FILE'),
    keyFile: pick(flags.keyFile, 'AMESH_XDS_KEY_FILE'),
    serverName: pick(flags.serverName, 'AMESH_XDS_SERVER_NAME'),
    tokenFile: pick(flags.tokenFile, 'AMESH_XDS_TOKEN_FILE'),
    nodeFrom: pick(flags.nodeFrom, 'AMESH_NODE_FROM'),
    podInfoDir: pick(flags.podInfoDir, 'AMESH_POD_INFO_DIR'),
    cache: pick(flags.cache, 'AMESH_CACHE'),
    outputCerts: pick(flags.outputCerts, 'OUTPUT_CERTS'),
    sds: pick(flags.sds, 'AMESH_SDS'),
    readyAddress: pick(flags.readyAddress, 'AMESH_READY_ADDRESS'),
    metricsAddress: pick(flags.metricsAddress, 'AMESH_METRICS_ADDRESS'),
    portVariable: pick(flags.portVariable, 'AMESH_PORT_VARIABLE'),
    logLevel: pick(flags.logLevel, 'AMESH_LOG_LEVEL'),
    pluginsFrom: pick(flags.pluginsFrom, 'AMESH_PLUGINS_FROM'),
    pluginsCaFile: pick(flags.pluginsCaFile, 'AMESH_PLUGINS_CA_FILE'),
    pluginsCertFile: pick(flags.pluginsCertFile, 'AMESH_PLUGINS_CERT_FILE'),
    pluginsKeyFile: pick(flags.pluginsKeyFile, 'AMESH_PLUGINS_KEY_FILE'),
    podName: env.POD_NAME || undefined,
    podNamespace: env.POD_NAMESPACE || undefined,
  };
}

async function runSidecar(flags: SidecarFlags, io: CliIo, overrides: SidecarOverrides = {}): Promise<number> {
  const config = parseSidecarConfig(flags);
  if (!config.ok) {
    io.err(`error: ${config.error}\n`);
    return EXIT.usage;
  }
  const node = config.value.source.kind === 'xds' ? resolveNode(config.value.node, io.env ?? {}, AGENT_VERSION) : ok(FILE_SOURCE_NODE);
  if (!node.ok) {
    io.err(`error: ${node.error}\n`);
    return EXIT.usage;
  }
  let failure: string | undefined;
  let giveUp: () => void = () => undefined;
  const gaveUp = new Promise<void>((resolve) => (giveUp = resolve));
  const container = buildSidecarContainer(config.value, node.value, {
    ...overrides,
    onSourceError: (message) => {
      overrides.onSourceError?.(message);
      // Run-once has nothing to serve if its one read fails.
      if (config.value.once) {
        failure = message;
        giveUp();
      }
    },
  });
  const app = container.get<SidecarApp>(SidecarAppToken);
  await app.start();
  const stopped = new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([config.value.once ? app.sync.applied : new Promise<never>(() => undefined), stopped, gaveUp]);
  await app.stop();
  if (failure) {
    io.err(`error: ${failure}\n`);
    return EXIT.input;
  }
  return EXIT.ok;
}

export interface CliOverrides extends ContainerOverrides {
  readonly sidecar?: SidecarOverrides;
}

export async function runCli(argv: readonly string[], io: CliIo = defaultIo, overrides: CliOverrides = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('amesh')
    .description('Apache APISIX as the data plane of an Istio service mesh')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('translate')
    .description('translate Envoy configuration (config dump, bootstrap, xDS resource files) into APISIX configuration')
    .argument('[input]', 'a file or a directory of .json/.yaml files')
    .option('-o, --output <file>', 'write apisix.yaml or apisix.json (atomically); default: stdout')
    .option('--format <format>', 'yaml or json (default: from the output extension, else yaml)')
    .option('--explain [format]', 'print what could not be carried over, per resource and field (text or json)')
    .option('--partial', 'accept references to resources missing from the input (partial dumps): report them instead of failing')
    .option('--port-variable <var>', 'nginx variable holding the destination port, to keep per-port route tables apart')
    .option('--example <name>', 'translate a bundled example instead of a file (bookinfo)')
    .option('--log-level <level>', 'debug, info, warn, error or silent', 'warn')
    .action(async (input: string | undefined, flags: TranslateFlags) => {
      const config = parseTranslateConfig(input, flags);
      if (!config.ok) {
        io.err(`error: ${config.error}\n`);
        exitCode = EXIT.usage;
        return;
      }
      const container = buildTranslateContainer(config.value, overrides);
      const app = container.get<TranslateApp>(TranslateAppToken);
      const outcome = await app.run();
      if (!outcome.ok) {
        io.err(describeFailure(outcome.error));
        exitCode = outcome.error.kind === 'output' ? EXIT.output : EXIT.input;
        return;
      }
      const report = outcome.value.translation.report;
      // With the document on stdout, everything else goes to stderr.
      const side = config.value.output ? io.out : io.err;
      if (config.value.explain === 'json') side(`${JSON.stringify(report.records, null, 2)}\n`);
      else if (config.value.explain === 'text') side(report.summary().map((line) => `${formatSummaryLine(line)}\n`).join(''));
      side(summary(outcome.value, config.value.output ?? 'stdout'));
    });

  program
    .command('sidecar')
    .description('keep APISIX in step with an xDS control plane (istiod) or a configuration file')
    .option('--xds <target>', 'xDS server: host:port (istiod 15010/15012) or unix:<path> (pilot-agent ./etc/istio/proxy/XDS) [AMESH_XDS]')
    .option('--xds-mode <mode>', 'delta (Istio default) or sotw [AMESH_XDS_MODE]')
    .option('--file <path>', 'instead of xDS: a config dump, bootstrap or resource file/directory, re-read on change [AMESH_FILE]')
    .option('--sink <spec...>', 'where to write: file:<apisix.yaml|json>, memory [AMESH_SINKS, comma-separated]')
    .option('--ca-file <file>', 'TLS to the xDS server: CA bundle [AMESH_XDS_CA_FILE]')
    .option('--cert-file <file>', 'mTLS client certificate [AMESH_XDS_CERT_FILE]')
    .option('--key-file <file>', 'mTLS client key [AMESH_XDS_KEY_FILE]')
    .option('--server-name <name>', 'TLS server name to verify (istiod.istio-system.svc) [AMESH_XDS_SERVER_NAME]')
    .option('--token-file <file>', 'JWT sent as a bearer token (istiod 15012) [AMESH_XDS_TOKEN_FILE]')
    .option('--node-from <source>', 'node identity: env (Istio injector variables) or grpc-bootstrap:<path> [AMESH_NODE_FROM]')
    .option('--pod-info-dir <dir>', 'downward-API files (labels, annotations) [AMESH_POD_INFO_DIR]')
    .option('--sds <socket>', "workload certificates from pilot-agent's SDS socket, unix:<path> [AMESH_SDS]")
    .option('--cache <file>', 'last-known-good configuration, served at start while the control plane is unreachable [AMESH_CACHE]')
    .option('--output-certs <dir>', "pilot-agent's OUTPUT_CERTS directory with the workload certificates [OUTPUT_CERTS]")
    .option('--ready-address <addr>', 'readiness endpoint (/healthz/ready), host:port or off [AMESH_READY_ADDRESS]')
    .option('--metrics-address <addr>', 'Prometheus endpoint (/stats/prometheus), host:port or off [AMESH_METRICS_ADDRESS]')
    .option('--port-variable <var>', 'nginx variable holding the destination port [AMESH_PORT_VARIABLE]')
    .option('--plugins-from <addr>', 'amesh controller (host:port): AmeshPluginConfig plugins for this pod (POD_NAME/POD_NAMESPACE) [AMESH_PLUGINS_FROM]')
    .option('--plugins-ca-file <file>', 'TLS to the controller: CA bundle [AMESH_PLUGINS_CA_FILE]')
    .option('--plugins-cert-file <file>', 'client certificate for the controller [AMESH_PLUGINS_CERT_FILE]')
    .option('--plugins-key-file <file>', 'its key [AMESH_PLUGINS_KEY_FILE]')
    .option('--once', 'exit after the first configuration is applied')
    .option('--log-level <level>', 'debug, info, warn, error or silent [AMESH_LOG_LEVEL]')
    .action(async (flags: SidecarFlags) => {
      exitCode = await runSidecar(withEnvironment(flags, io.env ?? {}), io, overrides.sidecar);
    });

  program
    .command('controller')
    .description('watch AmeshPluginConfigs and pods, deliver each pod its merged APISIX plugins over gRPC')
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config) [KUBECONFIG]')
    .option('--listen <addr>', 'gRPC plugin delivery, host:port (default 0.0.0.0:15810) [AMESH_CONTROLLER_LISTEN]')
    .option('--tls-cert-file <file>', 'serve the delivery over TLS with this certificate [AMESH_CONTROLLER_TLS_CERT_FILE]')
    .option('--tls-key-file <file>', 'the key of --tls-cert-file [AMESH_CONTROLLER_TLS_KEY_FILE]')
    .option('--client-ca-file <file>', 'require sidecar client certificates signed by this CA [AMESH_CONTROLLER_CLIENT_CA_FILE]')
    .option('--health-address <addr>', '/healthz and /readyz, host:port or off (default 0.0.0.0:18081)')
    .option('--resync <duration>', 'full reconcile period (default 60s)')
    .option('--log-level <level>', 'debug, info, warn, error or silent [AMESH_LOG_LEVEL]')
    .action(async (flags: ControllerFlags) => {
      // Loaded only for this command: @kubernetes/client-node stays out of the sidecar's memory.
      const { runController } = await import('./controller/controller-command.js');
      exitCode = await runController(flags, io);
    });

  program
    .command('injector')
    .description('mutating admission webhook (HTTPS) that adds the amesh sidecar to pods of opted-in namespaces')
    .option('--listen <addr>', 'host:port (default 0.0.0.0:9443)')
    .option('--tls-cert-file <file>', 'serving certificate (re-read when it changes) [AMESH_INJECTOR_TLS_CERT_FILE]')
    .option('--tls-key-file <file>', 'its key [AMESH_INJECTOR_TLS_KEY_FILE]')
    .option('--image <image>', 'image with APISIX and amesh, for amesh-init and amesh-proxy [AMESH_INJECTOR_IMAGE]')
    .option('--pilot-agent-image <image>', "Istio's proxyv2 image, for pilot-agent [AMESH_INJECTOR_PILOT_AGENT_IMAGE]")
    .option('--controller <addr>', 'amesh controller plugin delivery (default amesh-controller.amesh-system.svc:15810)')
    .option('--ca-address <addr>', 'istiod certificate endpoint (default istiod.istio-system.svc:15012)')
    .option('--cluster-domain <domain>', 'default cluster.local')
    .option('--log-level <level>', 'debug, info, warn, error or silent [AMESH_LOG_LEVEL]')
    .action(async (flags: InjectorFlags) => {
      const { runInjector } = await import('./injector/injector-command.js');
      exitCode = await runInjector(flags, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return exitCode;
}
