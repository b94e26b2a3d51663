// `amesh sidecar` options (flags, with environment variables as fallbacks) → typed configuration.
import { err, ok, type Result } from '../../domain/result.js';
import { parseOrigin } from '../../adapters/apisix/http-json.js';
import type { LogLevel } from '../../adapters/logging/pino-logger.js';
import type { SecretText } from '../../domain/secret-text.js';
import { DEFAULT_MAX_INPUT_BYTES } from '../../adapters/fs/bounded-read.js';
import { parseByteCount } from '../cli-io.js';

export type SourceConfig =
  | {
      readonly kind: 'xds';
      readonly target: string;
      readonly mode: 'sotw' | 'delta';
      readonly tls: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string; readonly serverName?: string } | undefined;
      readonly tokenFile: string | undefined;
    }
  /** `allowEmpty`: a file without resources is applied (else refused); `maxInputBytes`: the input's size limit. */
  | { readonly kind: 'file'; readonly path: string; readonly allowEmpty: boolean; readonly maxInputBytes: number };

/** Where the Admin API key comes from: never a command-line argument. */
export type AdminKeySource = { readonly from: 'none' } | { readonly from: 'env'; readonly value: SecretText } | { readonly from: 'file'; readonly path: string };

export type SinkConfig =
  | { readonly kind: 'memory' }
  | { readonly kind: 'admin' | 'standalone'; readonly url: string; readonly apiKey: AdminKeySource }
  /** `streamMode`: whether the data planes serve stream routes (`?stream=off` says they do not; etcd cannot tell). */
  | { readonly kind: 'etcd'; readonly endpoints: readonly string[]; readonly prefix: string; readonly streamMode: 'on' | 'off' }
  /** `group`: nginx workers' group (name or gid) given to the file or the shared-memory file. */
  | { readonly kind: 'file' | 'shdict'; readonly path: string; readonly group: string | undefined };

export type NodeConfig = { readonly kind: 'environment'; readonly podInfoDir: string | undefined } | { readonly kind: 'grpc-bootstrap'; readonly path: string };

export interface SidecarConfig {
  readonly source: SourceConfig;
  readonly sinks: readonly SinkConfig[];
  readonly node: NodeConfig;
  readonly cachePath: string | undefined;
  readonly outputCertsDir: string | undefined;
  /** pilot-agent's SDS socket, when the workload certificates come from there. */
  readonly sdsTarget: string | undefined;
  readonly readyAddress: string | undefined;
  readonly metricsAddress: string | undefined;
  /** The config dump (and probes, metrics): loopback by default, as Envoy's admin. */
  readonly adminAddress: string | undefined;
  readonly portVariable: string | undefined;
  /** How long the verdict on an xDS update waits for its first apply; undefined = the SyncService's default. */
  readonly verdictWaitMs?: number | undefined;
  /** How often a sink that held objects back as unserved is applied again; undefined = the SyncService's default (no flag: tests shorten it). */
  readonly unservedProbeMs?: number | undefined;
  readonly once: boolean;
  /** With `once`: how long sinks may go on failing (from the first failure) before the run gives up. */
  readonly onceWaitMs: number;
  readonly logLevel: LogLevel;
  /** AmeshPluginConfig plugins from `amesh controller`; undefined = none. */
  readonly plugins?: PluginsConfig | undefined;
}

export interface PluginsConfig {
  readonly target: string;
  readonly pod: { readonly namespace: string; readonly name: string };
  readonly caFile: string | undefined;
  /** Client certificate for a controller that requires one (--client-ca-file). */
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

export interface SidecarFlags {
  readonly xds?: string;
  readonly xdsMode?: string;
  readonly file?: string;
  readonly allowEmpty?: boolean;
  readonly maxInputBytes?: string;
  readonly sink?: readonly string[];
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  readonly tokenFile?: string;
  readonly nodeFrom?: string;
  readonly podInfoDir?: string;
  readonly cache?: string;
  readonly outputCerts?: string;
  readonly sds?: string;
  readonly readyAddress?: string;
  readonly metricsAddress?: string;
  readonly adminAddress?: string;
  readonly portVariable?: string;
  /** --verdict-wait, milliseconds. */
  readonly verdictWait?: string | undefined;
  readonly once?: boolean;
  /** --once-wait, milliseconds. */
  readonly onceWait?: string | undefined;
  readonly logLevel?: string;
  /** A file holding the Admin API key (admin: and standalone: sinks). */
  readonly adminKeyFile?: string;
  /** The Admin API key itself: from the environment (AMESH_ADMIN_KEY) only, never a flag. */
  readonly adminKey?: SecretText;
  /** APISIX's deployment.etcd.prefix for etcd: sinks; default /apisix. */
  readonly etcdPrefix?: string;
  readonly pluginsFrom?: string;
  readonly pluginsCaFile?: string;
  readonly pluginsCertFile?: string;
  readonly pluginsKeyFile?: string;
  /** The pod's identity for --plugins-from (POD_NAME / POD_NAMESPACE from the downward API). */
  readonly podName?: string;
  readonly podNamespace?: string;
}

function pluginsConfig(flags: SidecarFlags): Result<PluginsConfig | undefined, string> {
  if (!flags.pluginsFrom) return ok(undefined);
  if (!ADDRESS.test(flags.pluginsFrom)) return err(`--plugins-from: "${flags.pluginsFrom}" is not host:port`);
  if (!flags.podName || !flags.podNamespace) return err('--plugins-from needs the pod identity: POD_NAME and POD_NAMESPACE (downward API)');
  if ((flags.pluginsCertFile === undefined) !== (flags.pluginsKeyFile === undefined)) return err('--plugins-cert-file and --plugins-key-file go together');
  if (flags.pluginsCertFile && !flags.pluginsCaFile) return err('--plugins-cert-file needs --plugins-ca-file (client certificates only make sense over TLS)');
  return ok({
    target: flags.pluginsFrom,
    pod: { namespace: flags.podNamespace, name: flags.podName },
    caFile: flags.pluginsCaFile || undefined,
    certFile: flags.pluginsCertFile || undefined,
    keyFile: flags.pluginsKeyFile || undefined,
  });
}

/** Envoy's admin port, free in a pod whose proxy is APISIX; loopback: the config dump is for this pod's own debugging. */
export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:15000';

/**
 * Half a minute of retries (the sinks back off up to 10 s): a target that is restarting comes back within
 * it, one that refuses the configuration or cannot be written to does not, and a run-once job must end.
 */
export const DEFAULT_ONCE_WAIT_MS = 30_000;

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/;

const ENDPOINT = /^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** `admin:`/`standalone:` take an origin; credentials in it are refused (they would end up in logs). */
function origin(flag: string, value: string): Result<string, string> {
  const url = parseOrigin(value);
  return typeof url === 'string' ? err(`${flag} ${url}`) : ok(url.origin);
}

function sink(spec: string, flags: SidecarFlags): Result<SinkConfig, string> {
  if (spec === 'memory') return ok({ kind: 'memory' });
  const colon = spec.indexOf(':');
  const [kind, value] = colon === -1 ? [spec, ''] : [spec.slice(0, colon), spec.slice(colon + 1)];
  if ((kind === 'file' || kind === 'shdict') && value) {
    const [path = '', group, ...extra] = value.split('?group=');
    if (!path || extra.length > 0) return err(`--sink: "${spec}": expected ${kind}:<path>[?group=<name|gid>]`);
    if (kind === 'shdict' && !path.startsWith('/')) return err(`--sink: "${spec}": the shared-memory path must be absolute`);
    if (group !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(group)) return err(`--sink: "${spec}": group must be a group name or gid`);
    return ok({ kind, path, group });
  }
  if ((kind === 'admin' || kind === 'standalone') && value) {
    const url = origin(`--sink ${kind}:`, value);
    if (!url.ok) return url;
    if (flags.adminKey && flags.adminKeyFile) return err('give the Admin API key either in AMESH_ADMIN_KEY or with --admin-key-file, not both');
    const apiKey: AdminKeySource = flags.adminKeyFile ? { from: 'file', path: flags.adminKeyFile } : flags.adminKey ? { from: 'env', value: flags.adminKey } : { from: 'none' };
    return ok({ kind, url: url.value, apiKey });
  }
  if (kind === 'etcd' && value) {
    const [list = '', query] = value.split('?');
    const streamMode = query === undefined ? 'on' : query === 'stream=on' ? 'on' : query === 'stream=off' ? 'off' : undefined;
    if (streamMode === undefined) return err(`--sink etcd: "${spec}": the only option is stream=on or stream=off (whether the data planes run APISIX's stream mode)`);
    const endpoints = list.split(',').map((e) => e.trim());
    const bad = endpoints.find((e) => !ENDPOINT.test(e));
    if (bad !== undefined) return err(`--sink etcd: "${bad}" is not an etcd client URL (http://host:port or host:port, comma-separated)`);
    const prefix = flags.etcdPrefix ?? '/apisix';
    if (!/^\/[^\s]*[^/\s]$/.test(prefix)) return err(`--etcd-prefix: "${prefix}" must start with / and not end with one`);
    return ok({ kind: 'etcd', endpoints: endpoints.map((e) => (e.startsWith('http') ? e : `http://${e}`)), prefix, streamMode });
  }
  return err(
    `--sink: "${spec}" is not a sink (supported: file:<path>[?group=<name|gid>], shdict:<path>[?group=<name|gid>], admin:<url>, standalone:<url>, etcd:<endpoints>[?stream=off], memory)`,
  );
}

function address(flag: string, value: string | undefined): Result<string | undefined, string> {
  if (value === undefined || value === '' || value === 'off') return ok(undefined);
  return ADDRESS.test(value) ? ok(value) : err(`${flag}: "${value}" is not host:port`);
}

export function parseSidecarConfig(flags: SidecarFlags): Result<SidecarConfig, string> {
  if (flags.xds && flags.file) return err('give either --xds or --file, not both');
  let source: SourceConfig;
  if (flags.xds) {
    const mode = flags.xdsMode ?? 'delta';
    if (mode !== 'delta' && mode !== 'sotw') return err(`--xds-mode: expected delta or sotw, got "${mode}"`);
    if (!flags.xds.startsWith('unix:') && !ADDRESS.test(flags.xds)) return err(`--xds: "${flags.xds}" is neither host:port nor unix:<path>`);
    const tlsFlags = { caFile: flags.caFile, certFile: flags.certFile, keyFile: flags.keyFile, serverName: flags.serverName };
    const tlsWanted = Object.values(tlsFlags).some((v) => v !== undefined);
    if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) return err('--cert-file and --key-file go together');
    source = {
      kind: 'xds',
      target: flags.xds,
      mode,
      tls: tlsWanted ? Object.fromEntries(Object.entries(tlsFlags).filter(([, v]) => v !== undefined)) : undefined,
      tokenFile: flags.tokenFile,
    };
  } else if (flags.file) {
    const maxInputBytes = flags.maxInputBytes === undefined ? ok(DEFAULT_MAX_INPUT_BYTES) : parseByteCount('--max-input-bytes', flags.maxInputBytes);
    if (!maxInputBytes.ok) return maxInputBytes;
    source = { kind: 'file', path: flags.file, allowEmpty: flags.allowEmpty ?? false, maxInputBytes: maxInputBytes.value };
  } else {
    return err('missing source: --xds <host:port|unix:path> or --file <path> (or AMESH_XDS / AMESH_FILE)');
  }
  const sinks: SinkConfig[] = [];
  for (const spec of flags.sink && flags.sink.length > 0 ? flags.sink : []) {
    const parsed = sink(spec, flags);
    if (!parsed.ok) return parsed;
    sinks.push(parsed.value);
  }
  if (sinks.length === 0) return err('missing --sink (e.g. --sink file:/usr/local/apisix/conf/apisix.yaml)');
  let node: NodeConfig = { kind: 'environment', podInfoDir: flags.podInfoDir };
  if (flags.nodeFrom && flags.nodeFrom !== 'env') {
    if (!flags.nodeFrom.startsWith('grpc-bootstrap:')) return err(`--node-from: expected env or grpc-bootstrap:<path>, got "${flags.nodeFrom}"`);
    node = { kind: 'grpc-bootstrap', path: flags.nodeFrom.slice('grpc-bootstrap:'.length) };
  }
  const ready = address('--ready-address', flags.readyAddress ?? '0.0.0.0:15021');
  if (!ready.ok) return ready;
  const metrics = address('--metrics-address', flags.metricsAddress ?? '0.0.0.0:15090');
  if (!metrics.ok) return metrics;
  const admin = address('--admin-address', flags.adminAddress ?? DEFAULT_ADMIN_ADDRESS);
  if (!admin.ok) return admin;
  if (flags.sds !== undefined && !flags.sds.startsWith('unix:')) return err(`--sds: expected unix:<path>, got "${flags.sds}"`);
  if (flags.sds && flags.outputCerts) return err('give either --sds or --output-certs, not both');
  const logLevel = (flags.logLevel ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) return err('--log-level: expected debug, info, warn, error or silent');
  if (flags.portVariable !== undefined && !/^[a-z_][a-z0-9_]*$/.test(flags.portVariable)) return err(`--port-variable: "${flags.portVariable}" is not an nginx variable name`);
  const verdictWaitMs = flags.verdictWait === undefined ? undefined : Number(flags.verdictWait);
  if (verdictWaitMs !== undefined && !(Number.isInteger(verdictWaitMs) && verdictWaitMs >= 1 && verdictWaitMs <= 60_000)) {
    return err(`--verdict-wait: expected milliseconds from 1 to 60000, got "${flags.verdictWait}"`);
  }
  const onceWaitMs = flags.onceWait === undefined ? DEFAULT_ONCE_WAIT_MS : Number(flags.onceWait);
  if (!(Number.isInteger(onceWaitMs) && onceWaitMs >= 1 && onceWaitMs <= 3_600_000)) {
    return err(`--once-wait: expected milliseconds from 1 to 3600000, got "${flags.onceWait}"`);
  }
  const plugins = pluginsConfig(flags);
  if (!plugins.ok) return plugins;
  return ok({
    ...(verdictWaitMs !== undefined ? { verdictWaitMs } : {}),
    plugins: plugins.value,
    source,
    sinks,
    node,
    cachePath: flags.cache || undefined,
    outputCertsDir: flags.outputCerts || undefined,
    sdsTarget: flags.sds || undefined,
    readyAddress: ready.value,
    metricsAddress: metrics.value,
    adminAddress: admin.value,
    portVariable: flags.portVariable,
    once: flags.once ?? false,
    onceWaitMs,
    logLevel,
  });
}
