// `amesh controller` options (flags, environment variables as fallbacks) → typed configuration.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { checkLeaseTiming, type LeaseTiming } from '../../domain/leader/lease.js';
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
  /** Prometheus /metrics, host:port; undefined = off. */
  readonly metricsAddress: string | undefined;
  /** The Lease the replicas elect a leader with; undefined: no election, this replica leads alone. */
  readonly leaderElection: LeaderElectionConfig | undefined;
}

export interface LeaderElectionConfig {
  readonly namespace: string;
  readonly name: string;
  /** Unique per process: a restarted replica is a new candidate. */
  readonly identity: string;
  readonly timing: LeaseTiming;
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
  readonly metricsAddress?: string;
  /** on/off (true/false). */
  readonly leaderElect?: string;
  readonly leaderElectResourceNamespace?: string;
  readonly leaderElectResourceName?: string;
  readonly leaderElectLeaseDuration?: string;
  readonly leaderElectRenewDeadline?: string;
  readonly leaderElectRetryPeriod?: string;
  /** Default: host name plus a random suffix. */
  readonly leaderElectIdentity?: string;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/;
const DURATION = /^(\d+)(ms|s|m)$/;

function duration(flag: string, value: string, minMs = 1000): Result<number, string> {
  const m = DURATION.exec(value);
  if (!m) return err(`${flag}: "${value}" is not a duration (e.g. 500ms, 30s, 5m)`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  return n >= minMs ? ok(n) : err(`${flag}: at least ${minMs >= 1000 ? `${minMs / 1000}s` : `${minMs}ms`}`);
}

const ON = ['on', 'true', '1', 'yes'];
const OFF = ['off', 'false', '0', 'no'];
// A DNS-1123 subdomain, as Lease names and namespaces are.
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function leaderElection(flags: ControllerFlags): Result<LeaderElectionConfig | undefined, string> {
  const enabled = (flags.leaderElect ?? 'on').toLowerCase();
  if (OFF.includes(enabled)) return ok(undefined);
  if (!ON.includes(enabled)) return err(`--leader-elect: "${flags.leaderElect}" is not on or off`);
  const namespace = flags.leaderElectResourceNamespace || 'default';
  const name = flags.leaderElectResourceName || 'amesh-controller';
  if (!K8S_NAME.test(namespace)) return err(`--leader-elect-resource-namespace: "${namespace}" is not a namespace name`);
  if (!K8S_NAME.test(name)) return err(`--leader-elect-resource-name: "${name}" is not a Lease name`);
  const lease = duration('--leader-elect-lease-duration', flags.leaderElectLeaseDuration ?? '15s');
  if (!lease.ok) return lease;
  const renew = duration('--leader-elect-renew-deadline', flags.leaderElectRenewDeadline ?? '10s', 100);
  if (!renew.ok) return renew;
  const retry = duration('--leader-elect-retry-period', flags.leaderElectRetryPeriod ?? '2s', 100);
  if (!retry.ok) return retry;
  const timing = checkLeaseTiming({ leaseDurationMs: lease.value, renewDeadlineMs: renew.value, retryPeriodMs: retry.value });
  if (!timing.ok) return err(`--leader-elect-lease-duration/--leader-elect-renew-deadline/--leader-elect-retry-period: ${timing.error}`);
  const identity = flags.leaderElectIdentity || `${hostname()}_${randomBytes(4).toString('hex')}`;
  return ok({ namespace, name, identity, timing: timing.value });
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
  const metrics = flags.metricsAddress ?? '0.0.0.0:15014';
  if (metrics !== 'off' && !ADDRESS.test(metrics)) return err(`--metrics-address: "${metrics}" is not host:port or off`);
  const election = leaderElection(flags);
  if (!election.ok) return election;
  const logLevel = (flags.logLevel ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) return err('--log-level: expected debug, info, warn, error or silent');
  return ok({
    kubeconfig: flags.kubeconfig || undefined,
    listen,
    tls:
      flags.tlsCertFile && flags.tlsKeyFile
        ? { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile, ...(flags.clientCaFile ? { clientCaFile: flags.clientCaFile } : {}) }
        : undefined,
    healthAddress: health === 'off' ? undefined : health,
    resyncMs: resync.value,
    logLevel,
    pluginSchemas: flags.pluginSchemas || undefined,
    metricsAddress: metrics === 'off' ? undefined : metrics,
    leaderElection: election.value,
  });
}
