// Composition root of `amesh controller`.
import 'reflect-metadata';
import { Container } from 'inversify';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeLeaseElection } from '../../adapters/kubernetes/kube-lease-election.js';
import { KubePluginConfigCluster } from '../../adapters/kubernetes/kube-plugin-config-cluster.js';
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { MemoryLeaderElection } from '../../adapters/memory/memory-leader-election.js';
import { PrometheusControllerMetrics } from '../../adapters/metrics/prometheus-controller-metrics.js';
import { GrpcPluginDelivery } from '../../adapters/plugin-grpc/grpc-plugin-delivery.js';
import { JsonSchemaPluginSchemas } from '../../adapters/plugin-schemas/json-schema-plugin-schemas.js';
import { VersionClock } from '../../domain/plugins/version-clock.js';
import { ControllerMetrics } from '../../ports/controller-metrics.js';
import { LeaderElection } from '../../ports/leader-election.js';
import { Logger } from '../../ports/logger.js';
import { PluginConfigCluster } from '../../ports/plugin-config-cluster.js';
import { PluginDelivery } from '../../ports/plugin-delivery.js';
import { PluginSchemas } from '../../ports/plugin-schemas.js';
import { ControllerApp } from './controller-app.js';
import type { ControllerConfig } from './controller-config.js';
import { PluginController } from './plugin-controller.js';

export const ControllerAppToken = Symbol.for('amesh.ControllerApp');

export interface ControllerOverrides {
  readonly kubeConfig?: KubeConfig;
  readonly logger?: Logger;
  /** Already loaded (the CLI reads them before starting); else loaded from config.pluginSchemas. */
  readonly pluginSchemas?: PluginSchemas;
  /** Recorded here instead of a Prometheus registry (the metrics endpoint then serves nothing). */
  readonly metrics?: ControllerMetrics;
}

function loadSchemas(config: ControllerConfig, overrides: ControllerOverrides): PluginSchemas | undefined {
  if (overrides.pluginSchemas) return overrides.pluginSchemas;
  if (config.pluginSchemas === undefined) return undefined;
  const loaded = JsonSchemaPluginSchemas.load(config.pluginSchemas);
  if (!loaded.ok) throw new Error(`--plugin-schemas: ${loaded.error}`);
  return loaded.value;
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function buildControllerContainer(config: ControllerConfig, overrides: ControllerOverrides = {}): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  const clock = new VersionClock(Date.now);
  const prometheus = overrides.metrics ? undefined : new PrometheusControllerMetrics();
  let kubeConfig: KubeConfig | undefined;
  const kube = (): KubeConfig => (kubeConfig ??= overrides.kubeConfig ?? loadKubeConfig(config.kubeconfig));
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: config.logLevel }));
  container.bind<ControllerMetrics>(ControllerMetrics).toDynamicValue(() => overrides.metrics ?? prometheus!);
  container.bind<PluginConfigCluster>(PluginConfigCluster).toDynamicValue((ctx) => new KubePluginConfigCluster({ kubeConfig: kube(), logger: ctx.get<Logger>(Logger) }));
  container.bind<LeaderElection>(LeaderElection).toDynamicValue((ctx) => {
    const election = config.leaderElection;
    // Without election this replica leads alone, from the start: run one replica only.
    if (!election) return new MemoryLeaderElection('sole', undefined, 'none (--leader-elect=off: this replica leads alone)');
    return new KubeLeaseElection({
      kubeConfig: kube(),
      namespace: election.namespace,
      name: election.name,
      identity: election.identity,
      timing: election.timing,
      logger: ctx.get<Logger>(Logger),
    });
  });
  container.bind<GrpcPluginDelivery>(PluginDelivery).toDynamicValue(
    (ctx) =>
      new GrpcPluginDelivery({
        address: config.listen,
        ...(config.tls ? { tls: config.tls } : {}),
        nextVersion: () => clock.next(),
        logger: ctx.get<Logger>(Logger),
        metrics: ctx.get<ControllerMetrics>(ControllerMetrics),
      }),
  );
  const schemas = loadSchemas(config, overrides);
  if (schemas) container.bind<PluginSchemas>(PluginSchemas).toConstantValue(schemas);
  container.bind<ControllerApp>(ControllerAppToken).toDynamicValue((ctx) => {
    const logger = ctx.get<Logger>(Logger);
    const delivery = ctx.get<GrpcPluginDelivery>(PluginDelivery);
    const metrics = ctx.get<ControllerMetrics>(ControllerMetrics);
    const pluginSchemas = schemas ? ctx.get<PluginSchemas>(PluginSchemas) : undefined;
    const controller = new PluginController(
      { cluster: ctx.get<PluginConfigCluster>(PluginConfigCluster), delivery, clock, logger, metrics, ...(pluginSchemas ? { schemas: pluginSchemas } : {}) },
      { resyncMs: config.resyncMs },
    );
    return new ControllerApp({
      controller,
      delivery,
      election: ctx.get<LeaderElection>(LeaderElection),
      clock,
      metrics,
      logger,
      healthAddress: config.healthAddress,
      metricsAddress: config.metricsAddress,
      registry: prometheus?.registry,
      pluginSchemas,
    });
  });
  return container;
}
