// `amesh controller` options (flags, environment variables as fallbacks) → typed configuration.
import { err, ok, type Result } from '../../domain/result.js';
import type { LogLevel } from '../../adapters/logging/pino-logger.js';

export interface ControllerConfig {
  /** Kubeconfig file; absent: in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** gRPC plugin delivery, host:port. */
  readonly listen: string;
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile?: string } | undefined;
  /** /healthz and /readyz, host:port; undefined = off. */
  readonly healthAddress: string | undefined;
  readonly resyncMs: number;
  readonly logLevel: LogLevel;
  /** Directory of APISIX plugin schemas (`<plugin>.schema.json`); undefined: structural checks only. */
  readonly pluginSchemas: string | undefined;
}

export interface ControllerFlags {
  readonly kubeconfig?: string;
  readonly listen?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly clientCaFile?: string;
  readonly healthAddress?: string;
  readonly resync?: string;
  readonly logLevel?: string;
  readonly pluginSchemas?: string;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/;
const DURATION = /^(\d+)(ms|s|m)$/;

function duration(flag: string, value: string): Result<number, string> {
  const m = DURATION.exec(value);
  if (!m) return err(`${flag}: "${value}" is not a duration (e.g. 500ms, 30s, 5m)`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  return n >= 1000 ? ok(n) : err(`${flag}: at least 1s`);
}

export function parseControllerConfig(flags: ControllerFlags): Result<ControllerConfig, string> {
  const listen = flags.listen ?? '0.0.0.0:15810';
  if (!ADDRESS.test(listen)) return err(`--listen: "${listen}" is not host:port`);
  const health = flags.healthAddress ?? '0.0.0.0:18081';
  if (health !== 'off' && !ADDRESS.test(health)) return err(`--health-address: "${health}" is not host:port or off`);
  if ((flags.tlsCertFile === undefined) !== (flags.tlsKeyFile === undefined)) return err('--tls-cert-file and --tls-key-file go together');
  if (flags.clientCaFile && !flags.tlsCertFile) return err('--client-ca-file needs --tls-cert-file and --tls-key-file');
  const resync = duration('--resync', flags.resync ?? '60s');
  if (!resync.ok) return resync;
  const logLevel = (flags.logLevel ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) return err('--log-level: expected debug, info, warn, error or silent');
  return ok({
    kubeconfig: flags.kubeconfig || undefined,
    listen,
    tls: flags.tlsCertFile && flags.tlsKeyFile ? { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile, ...(flags.clientCaFile ? { clientCaFile: flags.clientCaFile } : {}) } : undefined,
    healthAddress: health === 'off' ? undefined : health,
    resyncMs: resync.value,
    logLevel,
    pluginSchemas: flags.pluginSchemas || undefined,
  });
}
