// `amesh sidecar`: keeps APISIX in step with a control plane (or a file) until stopped.
import type { Node } from '../../adapters/envoy/ads-protocol.js';
import { displayText } from '../../domain/display-text.js';
import { ok } from '../../domain/result.js';
import { SecretText } from '../../domain/secret-text.js';
import { adminKeyProblem } from './admin-key.js';
import { EXIT, flagOrEnv, whenAborted, type CliIo } from '../cli-io.js';
import { packageVersion } from '../package-info.js';
import { resolveNode } from './node-resolution.js';
import type { SidecarApp } from './sidecar-app.js';
import { parseSidecarConfig, type SidecarFlags } from './sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken, type SidecarOverrides } from './sidecar-container.js';

/** A file source talks to no control plane; the node is only a placeholder. */
const FILE_SOURCE_NODE: Node = { id: 'file', cluster: 'file', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };

/** Environment variables stand in for flags that were not given. */
export function withEnvironment(flags: SidecarFlags, env: Readonly<Record<string, string | undefined>>): SidecarFlags {
  const pick = flagOrEnv(env);
  const sinks =
    flags.sink ??
    env.AMESH_SINKS?.split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  return {
    ...flags,
    xds: pick(flags.xds, 'AMESH_XDS'),
    xdsMode: pick(flags.xdsMode, 'AMESH_XDS_MODE'),
    file: pick(flags.file, 'AMESH_FILE'),
    allowEmpty: flags.allowEmpty ?? (env.AMESH_ALLOW_EMPTY === 'true' || env.AMESH_ALLOW_EMPTY === '1'),
    maxInputBytes: pick(flags.maxInputBytes, 'AMESH_MAX_INPUT_BYTES'),
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
    adminAddress: pick(flags.adminAddress, 'AMESH_ADMIN_ADDRESS'),
    portVariable: pick(flags.portVariable, 'AMESH_PORT_VARIABLE'),
    verdictWait: pick(flags.verdictWait, 'AMESH_VERDICT_WAIT_MS'),
    onceWait: pick(flags.onceWait, 'AMESH_ONCE_WAIT_MS'),
    logLevel: pick(flags.logLevel, 'AMESH_LOG_LEVEL'),
    adminKeyFile: pick(flags.adminKeyFile, 'AMESH_ADMIN_KEY_FILE'),
    ...(env.AMESH_ADMIN_KEY ? { adminKey: new SecretText(env.AMESH_ADMIN_KEY) } : {}),
    etcdPrefix: pick(flags.etcdPrefix, 'AMESH_ETCD_PREFIX'),
    pluginsFrom: pick(flags.pluginsFrom, 'AMESH_PLUGINS_FROM'),
    pluginsCaFile: pick(flags.pluginsCaFile, 'AMESH_PLUGINS_CA_FILE'),
    pluginsCertFile: pick(flags.pluginsCertFile, 'AMESH_PLUGINS_CERT_FILE'),
    pluginsKeyFile: pick(flags.pluginsKeyFile, 'AMESH_PLUGINS_KEY_FILE'),
    once: flags.once ?? (env.AMESH_ONCE === undefined ? undefined : /^(1|true|yes)$/i.test(env.AMESH_ONCE)),
    podName: env.POD_NAME || undefined,
    podNamespace: env.POD_NAMESPACE || undefined,
  };
}

export async function runSidecar(flags: SidecarFlags, io: CliIo, overrides: SidecarOverrides = {}): Promise<number> {
  const config = parseSidecarConfig(flags);
  if (!config.ok) {
    io.err(`error: ${config.error}\n`);
    return EXIT.usage;
  }
  const keyProblem = adminKeyProblem(config.value);
  if (keyProblem) {
    io.err(`error: ${keyProblem}\n`);
    return EXIT.usage;
  }
  const node = config.value.source.kind === 'xds' ? resolveNode(config.value.node, io.env ?? {}, packageVersion()) : ok(FILE_SOURCE_NODE);
  if (!node.ok) {
    io.err(`error: ${node.error}\n`);
    return EXIT.usage;
  }
  let failure: string | undefined;
  let giveUp: () => void = () => undefined;
  const gaveUp = new Promise<void>((resolve) => (giveUp = resolve));
  let onceTimer: NodeJS.Timeout | undefined;
  let lastApplyFailure = '';
  const container = await buildSidecarContainer(config.value, node.value, {
    ...overrides,
    onSourceError: (message) => {
      overrides.onSourceError?.(message);
      // Run-once has nothing to serve if its one read fails.
      if (config.value.once) {
        failure = message;
        giveUp();
      }
    },
    onApplyFailed: (sink, reason) => {
      overrides.onApplyFailed?.(sink, reason);
      if (!config.value.once) return;
      // Run-once retries a failing sink for a while (a target restarting comes back), then names it and ends.
      lastApplyFailure = `${sink}: ${reason}`;
      onceTimer ??= setTimeout(() => {
        failure = `--once: the sinks still fail after ${config.value.onceWaitMs} ms of retries: ${lastApplyFailure}`;
        giveUp();
      }, config.value.onceWaitMs);
    },
  });
  const app = container.get<SidecarApp>(SidecarAppToken);
  // Node ends a process that waits for nothing: with a file source and the endpoints off nothing else is
  // open (the file watcher does not hold the process), and the sidecar runs until it is stopped.
  const alive = setInterval(() => undefined, 2 ** 30);
  try {
    try {
      await app.start();
    } catch (error) {
      // A busy or forbidden address is the operator's to fix: told in one line, not as a crash.
      if ((error as NodeJS.ErrnoException).syscall !== 'listen') throw error;
      await app.stop();
      io.err(`error: cannot serve the operations endpoints (--ready-address, --metrics-address): ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    const stopped = whenAborted(io.signal);
    await Promise.race([config.value.once ? app.sync.applied : new Promise<never>(() => undefined), stopped, gaveUp]);
    await app.stop();
  } finally {
    clearInterval(alive);
    clearTimeout(onceTimer);
  }
  if (failure) {
    // The source's error echoes its input (file names, resource names): one bounded line, no keys.
    io.err(`error: ${displayText(failure)}\n`);
    return EXIT.input;
  }
  return EXIT.ok;
}
