// Composition root of `amesh sidecar`: binds the ports to the adapters the configuration picks.
import 'reflect-metadata';
import { Container } from 'inversify';
import { FileConfigCache } from '../../adapters/file-cache/file-config-cache.js';
import { FileConfigSink } from '../../adapters/file-sink/file-sink.js';
import { FileConfigSource } from '../../adapters/file-source/file-config-source.js';
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { MemoryConfigSink } from '../../adapters/memory/memory-config-sink.js';
import { PrometheusMetrics } from '../../adapters/metrics/prometheus-metrics.js';
import { AdsClient, type AdsEvents } from '../../adapters/xds/ads-client.js';
import { SdsSecretSource } from '../../adapters/xds/sds-secret-source.js';
import { OutputCertsSource } from '../../adapters/istio/output-certs-source.js';
import type { Node } from '../../adapters/envoy/ads-protocol.js';
import { ConfigCache } from '../../ports/config-cache.js';
import { ConfigSink } from '../../ports/config-sink.js';
import { ConfigSource } from '../../ports/config-source.js';
import { Logger } from '../../ports/logger.js';
import { Metrics } from '../../ports/metrics.js';
import { SecretSource } from '../../ports/secret-source.js';
import { OpsServer } from './ops-server.js';
import { SidecarApp } from './sidecar-app.js';
import type { SidecarConfig, SinkConfig } from './sidecar-config.js';
import { SyncService } from './sync-service.js';
import { GrpcPluginConfigSource } from '../../adapters/plugin-grpc/grpc-plugin-config-source.js';
import { PluginConfigSource } from '../../ports/plugin-config-source.js';

export const SidecarAppToken = Symbol.for('amesh.SidecarApp');

/** Istio's workload certificates, delivered by pilot-agent rather than over ADS. */
export const ISTIO_WORKLOAD_SECRETS: ReadonlySet<string> = new Set(['default', 'ROOTCA']);

export interface SidecarOverrides {
  readonly source?: ConfigSource;
  readonly sinks?: readonly ConfigSink[];
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly cache?: ConfigCache;
  readonly secrets?: SecretSource;
  readonly onSourceError?: (message: string) => void;
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

function sinkOf(spec: SinkConfig): ConfigSink {
  return spec.kind === 'file' ? new FileConfigSink({ path: spec.path }) : new MemoryConfigSink();
}

export function buildSidecarContainer(config: SidecarConfig, node: Node, overrides: SidecarOverrides = {}): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  const prometheus = overrides.metrics ? undefined : new PrometheusMetrics();
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: config.logLevel }));
  container.bind<Metrics>(Metrics).toDynamicValue(() => overrides.metrics ?? prometheus!);
  container.bind<ConfigSource>(ConfigSource).toDynamicValue((ctx) => {
    if (overrides.source) return overrides.source;
    const source = config.source;
    if (source.kind === 'file') return new FileConfigSource({ path: source.path, follow: !config.once });
    const metrics = ctx.get<Metrics>(Metrics);
    return new AdsClient({
      target: source.target,
      mode: source.mode,
      node,
      ...(source.tls ? { tls: source.tls } : {}),
      ...(source.tokenFile ? { tokenFile: source.tokenFile } : {}),
      logger: ctx.get<Logger>(Logger),
      // istiod never serves these to a sidecar (istio-agent does): asking would only hold the first
      // apply for the 15 s does-not-exist timer. Without --output-certs, mTLS goes without a client cert (reported).
      localSecretNames: ISTIO_WORKLOAD_SECRETS,
      events: adsMetricsEvents(metrics),
    });
  });
  container.bind<readonly ConfigSink[]>(ConfigSink).toDynamicValue(() => overrides.sinks ?? config.sinks.map(sinkOf));
  container.bind<ConfigCache | undefined>(ConfigCache).toDynamicValue((ctx) =>
    overrides.cache ?? (config.cachePath ? new FileConfigCache({ path: config.cachePath }, { logger: ctx.get<Logger>(Logger) }) : undefined),
  );
  container
    .bind<SecretSource | undefined>(SecretSource)
    .toDynamicValue((ctx) => {
      if (overrides.secrets) return overrides.secrets;
      if (config.outputCertsDir) return new OutputCertsSource({ directory: config.outputCertsDir });
      if (config.sdsTarget) return new SdsSecretSource({ target: config.sdsTarget, node, logger: ctx.get<Logger>(Logger) });
      return undefined;
    });
  container.bind<PluginConfigSource | undefined>(PluginConfigSource).toDynamicValue((ctx) => {
    if (overrides.plugins) return overrides.plugins;
    const plugins = config.plugins;
    if (!plugins) return undefined;
    const tls = plugins.caFile ? { caFile: plugins.caFile, ...(plugins.certFile && plugins.keyFile ? { certFile: plugins.certFile, keyFile: plugins.keyFile } : {}) } : undefined;
    return new GrpcPluginConfigSource({ target: plugins.target, pod: plugins.pod, ...(tls ? { tls } : {}), logger: ctx.get<Logger>(Logger) });
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
        onSourceError: overrides.onSourceError,
        plugins: ctx.get<PluginConfigSource | undefined>(PluginConfigSource),
      },
      { partial: config.source.kind === 'xds', portVariable: config.portVariable },
    );
    const ops = new OpsServer({
      status: () => sync.state,
      registry: prometheus?.registry,
      xdsConnected: () => (source instanceof AdsClient ? source.connected : undefined),
    });
    const addresses = [config.readyAddress, config.metricsAddress].filter((a): a is string => a !== undefined);
    return new SidecarApp({ sync, ops, logger, addresses, closeSource: () => (source instanceof AdsClient ? source.stop() : undefined) });
  });
  return container;
}
