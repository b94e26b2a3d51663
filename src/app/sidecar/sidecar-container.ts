// Composition root of `amesh sidecar`: binds the ports to the adapters the configuration picks. Adapter
// modules are imported only when picked (a sidecar on xDS never loads the file source's JSON/YAML
// parsing, nor a sink it does not write to): resident memory is a goal of the sidecar.
import 'reflect-metadata';
import { Container } from 'inversify';
import { isAgentSecret } from '../../adapters/istio/sds-names.js';
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { PrometheusMetrics } from '../../adapters/metrics/prometheus-metrics.js';
import type { AdsEvents } from '../../adapters/xds/ads-client.js';
import type { Node } from '../../adapters/envoy/ads-protocol.js';
import { ConfigCache } from '../../ports/config-cache.js';
import { ConfigSink } from '../../ports/config-sink.js';
import { ConfigSource } from '../../ports/config-source.js';
import { Logger } from '../../ports/logger.js';
import { Metrics } from '../../ports/metrics.js';
import { SecretFiles, SecretSource } from '../../ports/secret-source.js';
import { readAdminKey } from './admin-key.js';
import { OpsServer, type OpsAddress } from './ops-server.js';
import { SidecarApp } from './sidecar-app.js';
import type { SidecarConfig, SinkConfig } from './sidecar-config.js';
import { SyncService } from './sync-service.js';
import { PluginConfigSource } from '../../ports/plugin-config-source.js';

export const SidecarAppToken = Symbol.for('amesh.SidecarApp');

export interface SidecarOverrides {
  readonly source?: ConfigSource;
  readonly sinks?: readonly ConfigSink[];
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly cache?: ConfigCache;
  readonly secrets?: SecretSource;
  readonly secretFiles?: SecretFiles;
  readonly onSourceError?: (message: string) => void;
  readonly onApplyFailed?: (sink: string, reason: string) => void;
  readonly plugins?: PluginConfigSource;
}

/** The ADS client's events, counted as the sidecar's metrics. */
export function adsMetricsEvents(metrics: Metrics): AdsEvents {
  return {
    connected: () => metrics.xdsConnected(true),
    disconnected: () => metrics.xdsConnected(false),
    response: (type, resources) => metrics.xdsResponse(type.short, resources),
    ack: (type) => metrics.xdsAck(type.short),
    nack: (type) => metrics.xdsNack(type.short),
  };
}

/** Makes a sink once the container can give it its dependencies. */
type SinkFactory = (deps: { readonly logger: Logger }) => ConfigSink;

async function sinkFactoryOf(spec: SinkConfig): Promise<SinkFactory> {
  switch (spec.kind) {
    case 'file': {
      const { FileConfigSink } = await import('../../adapters/file-sink/file-sink.js');
      return ({ logger }) => new FileConfigSink({ path: spec.path, group: spec.group, logger });
    }
    case 'shdict': {
      const { ShdictConfigSink } = await import('../../adapters/shdict-sink/shdict-sink.js');
      return ({ logger }) => new ShdictConfigSink({ path: spec.path, ...(spec.group !== undefined ? { group: spec.group } : {}), logger });
    }
    case 'memory': {
      const { MemoryConfigSink } = await import('../../adapters/memory/memory-config-sink.js');
      return () => new MemoryConfigSink();
    }
    case 'admin':
    case 'standalone': {
      const key = readAdminKey(spec.apiKey);
      if (!key.ok) throw new Error(key.error);
      const apiKey = key.value;
      if (spec.kind === 'admin') {
        const { AdminApiSink } = await import('../../adapters/admin-api-sink/admin-api-sink.js');
        return ({ logger }) => new AdminApiSink({ url: spec.url, apiKey, logger });
      }
      const { StandaloneApiSink } = await import('../../adapters/standalone-api-sink/standalone-api-sink.js');
      return ({ logger }) => new StandaloneApiSink({ url: spec.url, apiKey, logger });
    }
    case 'etcd': {
      const { EtcdSink } = await import('../../adapters/etcd-sink/etcd-sink.js');
      return ({ logger }) => new EtcdSink({ endpoints: spec.endpoints, prefix: spec.prefix, streamMode: spec.streamMode, logger });
    }
  }
}

/** The adapter classes this configuration uses, imported (see the header). */
async function adaptersFor(config: SidecarConfig, overrides: SidecarOverrides) {
  const wanted = <T>(needed: boolean, load: () => Promise<T>): Promise<T | undefined> => (needed ? load() : Promise.resolve(undefined));
  const [xds, file, cache, outputCerts, sds, secretCheck, fileSecrets, plugins, sinks] = await Promise.all([
    wanted(!overrides.source && config.source.kind === 'xds', () => import('../../adapters/xds/ads-client.js')),
    wanted(!overrides.source && config.source.kind === 'file', () => import('../../adapters/file-source/file-config-source.js')),
    wanted(!overrides.cache && config.cachePath !== undefined, () => import('../../adapters/file-cache/file-config-cache.js')),
    wanted(!overrides.secrets && config.outputCertsDir !== undefined, () => import('../../adapters/istio/output-certs-source.js')),
    wanted(!overrides.secrets && config.sdsTarget !== undefined, () => import('../../adapters/xds/sds-secret-source.js')),
    wanted(!overrides.secrets && config.sdsTarget !== undefined, () => import('../../adapters/istio/secret-check.js')),
    wanted(!overrides.secretFiles && config.source.kind === 'xds', () => import('../../adapters/istio/file-secrets.js')),
    wanted(!overrides.plugins && config.plugins !== undefined, () => import('../../adapters/plugin-grpc/grpc-plugin-config-source.js')),
    overrides.sinks ? [] : Promise.all(config.sinks.map(sinkFactoryOf)),
  ]);
  return {
    AdsClient: xds?.AdsClient,
    FileConfigSource: file?.FileConfigSource,
    FileConfigCache: cache?.FileConfigCache,
    OutputCertsSource: outputCerts?.OutputCertsSource,
    SdsSecretSource: sds?.SdsSecretSource,
    checkSecret: secretCheck?.checkSecret,
    IstioFileSecrets: fileSecrets?.IstioFileSecrets,
    GrpcPluginConfigSource: plugins?.GrpcPluginConfigSource,
    sinks,
  };
}

export async function buildSidecarContainer(config: SidecarConfig, node: Node, overrides: SidecarOverrides = {}): Promise<Container> {
  const adapters = await adaptersFor(config, overrides);
  const container = new Container({ defaultScope: 'Singleton' });
  const prometheus = overrides.metrics ? undefined : new PrometheusMetrics();
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: config.logLevel }));
  container.bind<Metrics>(Metrics).toDynamicValue(() => overrides.metrics ?? prometheus!);
  container.bind<ConfigSource>(ConfigSource).toDynamicValue((ctx) => {
    if (overrides.source) return overrides.source;
    const source = config.source;
    if (source.kind === 'file')
      return new adapters.FileConfigSource!({
        path: source.path,
        follow: !config.once,
        logger: ctx.get<Logger>(Logger),
        allowEmpty: source.allowEmpty,
        maxInputBytes: source.maxInputBytes,
      });
    const metrics = ctx.get<Metrics>(Metrics);
    return new adapters.AdsClient!({
      target: source.target,
      mode: source.mode,
      node,
      ...(source.tls ? { tls: source.tls } : {}),
      ...(source.tokenFile ? { tokenFile: source.tokenFile } : {}),
      logger: ctx.get<Logger>(Logger),
      // istiod serves a sidecar credentialName secrets only; `default`, `ROOTCA`, `file-cert:…`,
      // `file-root:…` are pilot-agent's: asking istiod would only hold the first apply for the 15 s
      // does-not-exist timer. They come from the secret source and SecretFiles; what neither has
      // is absent (the translation reports it).
      isLocalSecret: isAgentSecret,
      events: adsMetricsEvents(metrics),
    });
  });
  container.bind<readonly ConfigSink[]>(ConfigSink).toDynamicValue((ctx) => overrides.sinks ?? adapters.sinks.map((make) => make({ logger: ctx.get<Logger>(Logger) })));
  container
    .bind<ConfigCache | undefined>(ConfigCache)
    .toDynamicValue((ctx) => overrides.cache ?? (config.cachePath ? new adapters.FileConfigCache!({ path: config.cachePath }, { logger: ctx.get<Logger>(Logger) }) : undefined));
  container.bind<SecretSource | undefined>(SecretSource).toDynamicValue((ctx) => {
    if (overrides.secrets) return overrides.secrets;
    if (config.outputCertsDir) return new adapters.OutputCertsSource!({ directory: config.outputCertsDir });
    // SDS secrets pass the check the istio adapters apply to OUTPUT_CERTS and file-named secrets.
    if (config.sdsTarget) return new adapters.SdsSecretSource!({ target: config.sdsTarget, node, logger: ctx.get<Logger>(Logger), check: adapters.checkSecret! });
    return undefined;
  });
  // istiod names files in the pod for DestinationRule TLS (file-cert:, file-root:); read as pilot-agent would.
  // A file source (a config dump) is translated as dumped: its secrets are in it, or redacted.
  container.bind<SecretFiles | undefined>(SecretFiles).toDynamicValue(() => overrides.secretFiles ?? (adapters.IstioFileSecrets ? new adapters.IstioFileSecrets() : undefined));
  container.bind<PluginConfigSource | undefined>(PluginConfigSource).toDynamicValue((ctx) => {
    if (overrides.plugins) return overrides.plugins;
    const plugins = config.plugins;
    if (!plugins) return undefined;
    const tls = plugins.caFile ? { caFile: plugins.caFile, ...(plugins.certFile && plugins.keyFile ? { certFile: plugins.certFile, keyFile: plugins.keyFile } : {}) } : undefined;
    return new adapters.GrpcPluginConfigSource!({ target: plugins.target, pod: plugins.pod, ...(tls ? { tls } : {}), logger: ctx.get<Logger>(Logger) });
  });
  container.bind<SidecarApp>(SidecarAppToken).toDynamicValue((ctx) => {
    const source = ctx.get<ConfigSource>(ConfigSource);
    const logger = ctx.get<Logger>(Logger);
    const sync = new SyncService(
      {
        source,
        sinks: ctx.get<readonly ConfigSink[]>(ConfigSink),
        logger,
        metrics: ctx.get<Metrics>(Metrics),
        cache: ctx.get<ConfigCache | undefined>(ConfigCache),
        secrets: ctx.get<SecretSource | undefined>(SecretSource),
        secretFiles: ctx.get<SecretFiles | undefined>(SecretFiles),
        onSourceError: overrides.onSourceError,
        onApplyFailed: overrides.onApplyFailed,
        plugins: ctx.get<PluginConfigSource | undefined>(PluginConfigSource),
        verdictWaitMs: config.verdictWaitMs,
        unservedProbeMs: config.unservedProbeMs,
      },
      { partial: config.source.kind === 'xds', portVariable: config.portVariable },
    );
    const ops = new OpsServer({
      status: () => sync.state,
      registry: prometheus?.registry,
      xdsConnected: () => source.connected,
    });
    const addresses: OpsAddress[] = [];
    if (config.readyAddress !== undefined) addresses.push({ role: 'ready', address: config.readyAddress });
    if (config.metricsAddress !== undefined) addresses.push({ role: 'metrics', address: config.metricsAddress });
    if (config.adminAddress !== undefined) addresses.push({ role: 'admin', address: config.adminAddress });
    return new SidecarApp({ sync, ops, logger, addresses, closeSource: () => source.stop?.() });
  });
  return container;
}
