// The `amesh` command line: parses arguments, runs the chosen app, maps the outcome to an exit code.
// Exit codes: 0 ok, 1 bad input or translation error, 2 usage error, 3 output could not be written.
// Each command's modules are imported when it runs: a sidecar never loads the translate command's (and
// the reverse), which keeps a sidecar's resident memory down.
import { Command, CommanderError } from 'commander';
import { DEFAULT_MAX_INPUT_BYTES } from '../adapters/fs/bounded-read.js';
import { debugRequested, defaultIo, EXIT, unexpectedErrorText, type CliIo } from './cli-io.js';
import { packageVersion } from './package-info.js';
import type { ContainerOverrides } from './container.js';
import type { TranslateFlags } from './config.js';
import type { SidecarFlags } from './sidecar/sidecar-config.js';
import type { SidecarOverrides } from './sidecar/sidecar-container.js';
import { addInterceptCommand } from './intercept/intercept-command.js';
import type { InterceptOverrides } from './intercept/intercept-container.js';
import type { ControllerFlags } from './controller/controller-config.js';
import type { InjectorFlags } from './injector/injector-config.js';

export { EXIT, type CliIo } from './cli-io.js';

export interface CliOverrides extends ContainerOverrides {
  readonly sidecar?: SidecarOverrides;
  readonly intercept?: InterceptOverrides;
}

export async function runCli(argv: readonly string[], io: CliIo = defaultIo, overrides: CliOverrides = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('amesh')
    .description('Apache APISIX as the data plane of an Istio service mesh')
    .version(packageVersion(), '-V, --version', 'print the version of amesh')
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
    .option('--allow-empty', 'translate an input without any resource (to an empty configuration) instead of refusing it')
    .option('--max-input-bytes <size>', `refuse inputs larger than this, all files together (bytes, or 512Mi; default ${DEFAULT_MAX_INPUT_BYTES}) [AMESH_MAX_INPUT_BYTES]`)
    .option('--port-variable <var>', 'nginx variable holding the destination port, to keep per-port route tables apart')
    .option('--example <name>', 'translate a bundled example instead of a file (bookinfo)')
    .option('--log-level <level>', 'debug, info, warn, error or silent', 'warn')
    .action(async (input: string | undefined, flags: TranslateFlags) => {
      const { runTranslate } = await import('./translate/translate-command.js');
      exitCode = await runTranslate(input, flags, io, overrides);
    });

  program
    .command('sidecar')
    .description('keep APISIX in step with an xDS control plane (istiod) or a configuration file')
    .option('--xds <target>', 'xDS server: host:port (istiod 15010/15012) or unix:<path> (pilot-agent ./etc/istio/proxy/XDS) [AMESH_XDS]')
    .option('--xds-mode <mode>', 'delta (Istio default) or sotw [AMESH_XDS_MODE]')
    .option('--file <path>', 'instead of xDS: a config dump, bootstrap or resource file/directory, re-read on change [AMESH_FILE]')
    .option('--allow-empty', '--file: apply a file without any resource (removing every route) instead of keeping the last good configuration [AMESH_ALLOW_EMPTY=true]')
    .option('--max-input-bytes <size>', `--file: refuse inputs larger than this, all files together (bytes, or 512Mi; default ${DEFAULT_MAX_INPUT_BYTES}) [AMESH_MAX_INPUT_BYTES]`)
    .option(
      '--sink <spec...>',
      'where to write: file:<apisix.yaml|json>[?group=<APISIX workers group>], shdict:<shm file>[?group=<nginx group>], admin:<url>, standalone:<url>, etcd:<endpoints>[?stream=off], memory [AMESH_SINKS, comma-separated]',
    )
    .option('--admin-key-file <file>', 'file holding the APISIX Admin API key for admin:/standalone: sinks (or the key itself in AMESH_ADMIN_KEY) [AMESH_ADMIN_KEY_FILE]')
    .option('--etcd-prefix <prefix>', "APISIX's etcd prefix for etcd: sinks, default /apisix [AMESH_ETCD_PREFIX]")
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
    .option('--admin-address <addr>', 'admin endpoints (/debug/config_dump, keys redacted), host:port or off; default 127.0.0.1:15000 [AMESH_ADMIN_ADDRESS]')
    .option('--port-variable <var>', 'nginx variable holding the destination port [AMESH_PORT_VARIABLE]')
    .option('--verdict-wait <ms>', 'how long an xDS ACK/NACK waits for the first apply to the sinks (default 3000) [AMESH_VERDICT_WAIT_MS]')
    .option('--plugins-from <addr>', 'amesh controller (host:port): AmeshPluginConfig plugins for this pod (POD_NAME/POD_NAMESPACE) [AMESH_PLUGINS_FROM]')
    .option('--plugins-ca-file <file>', 'TLS to the controller: CA bundle [AMESH_PLUGINS_CA_FILE]')
    .option('--plugins-cert-file <file>', 'client certificate for the controller [AMESH_PLUGINS_CERT_FILE]')
    .option('--plugins-key-file <file>', 'its key [AMESH_PLUGINS_KEY_FILE]')
    .option('--once', 'exit after the first configuration is applied [AMESH_ONCE=true]')
    .option('--once-wait <ms>', 'with --once: how long failing sinks are retried before giving up with exit 1 (default 30000) [AMESH_ONCE_WAIT_MS]')
    .option('--log-level <level>', 'debug, info, warn, error or silent [AMESH_LOG_LEVEL]')
    .action(async (flags: SidecarFlags) => {
      const { runSidecar, withEnvironment } = await import('./sidecar/sidecar-command.js');
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
    .option('--metrics-address <addr>', 'Prometheus /metrics, host:port or off (default 0.0.0.0:15014) [AMESH_CONTROLLER_METRICS_ADDRESS]')
    .option('--leader-elect <on|off>', 'elect a leader among the replicas through a Lease; only the leader delivers and writes status (default on) [AMESH_LEADER_ELECT]')
    .option('--leader-elect-resource-namespace <ns>', "the Lease's namespace (default: the pod's, POD_NAMESPACE, else default) [AMESH_LEADER_ELECT_RESOURCE_NAMESPACE]")
    .option('--leader-elect-resource-name <name>', 'the Lease (default amesh-controller) [AMESH_LEADER_ELECT_RESOURCE_NAME]')
    .option('--leader-elect-lease-duration <duration>', 'how long followers wait on a lease nobody renews (default 15s) [AMESH_LEADER_ELECT_LEASE_DURATION]')
    .option('--leader-elect-renew-deadline <duration>', 'the leader steps down when it could not renew for this long (default 10s) [AMESH_LEADER_ELECT_RENEW_DEADLINE]')
    .option('--leader-elect-retry-period <duration>', 'how often candidates try and the leader renews (default 2s) [AMESH_LEADER_ELECT_RETRY_PERIOD]')
    .option(
      '--plugin-schemas <dir>',
      "APISIX's plugin schemas, <plugin>.schema.json each: configs that do not match are marked Invalid and never delivered; without it only structural checks run [AMESH_PLUGIN_SCHEMAS]",
    )
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

  addInterceptCommand(program, { out: io.out, err: io.err, env: io.env ?? process.env }, (code) => (exitCode = code), overrides.intercept);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    // No command lets an exception out on purpose: one line for whoever runs it, never a stack trace dump.
    io.err(unexpectedErrorText(error, debugRequested(argv, io.env ?? {})));
    return EXIT.internal;
  }
  return exitCode;
}
