// Composition root of `amesh controller`.
import 'reflect-metadata';
import { Container } from 'inversify';
import { KubeConfig } from '@kubernetes/client-node';
import { KubePluginConfigCluster } from '../../adapters/kubernetes/kube-plugin-config-cluster.js';
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { GrpcPluginDelivery } from '../../adapters/plugin-grpc/grpc-plugin-delivery.js';
import { VersionClock } from '../../domain/plugins/version-clock.js';
import { Logger } from '../../ports/logger.js';
import { PluginConfigCluster } from '../../ports/plugin-config-cluster.js';
import { PluginDelivery } from '../../ports/plugin-delivery.js';
import { PluginSchemas } from '../../ports/plugin-schemas.js';
import { JsonSchemaPluginSchemas } from '../../adapters/plugin-schemas/json-schema-plugin-schemas.js';
import { ControllerApp } from './controller-app.js';
import type { ControllerConfig } from './controller-config.js';
import { PluginController } from './plugin-controller.js';

export const ControllerAppToken = Symbol.for('amesh.ControllerApp');

export interface ControllerOverrides {
  readonly kubeConfig?: KubeConfig;
  readonly logger?: Logger;
  /** Already loaded (the CLI reads them before starting); else loaded from config.pluginSchemas. */
  readonly pluginSchemas?: PluginSchemas;
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
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: config.logLevel }));
  container.bind<PluginConfigCluster>(PluginConfigCluster).toDynamicValue(
    (ctx) => new KubePluginConfigCluster({ kubeConfig: overrides.kubeConfig ?? loadKubeConfig(config.kubeconfig), logger: ctx.get<Logger>(Logger) }),
  );
  container.bind<GrpcPluginDelivery>(PluginDelivery).toDynamicValue(
    (ctx) => new GrpcPluginDelivery({ address: config.listen, ...(config.tls ? { tls: config.tls } : {}), nextVersion: () => clock.next(), logger: ctx.get<Logger>(Logger) }),
  );
  const schemas = loadSchemas(config, overrides);
  if (schemas) container.bind<PluginSchemas>(PluginSchemas).toConstantValue(schemas);
  container.bind<ControllerApp>(ControllerAppToken).toDynamicValue((ctx) => {
    const logger = ctx.get<Logger>(Logger);
    const delivery = ctx.get<GrpcPluginDelivery>(PluginDelivery);
    const pluginSchemas = schemas ? ctx.get<PluginSchemas>(PluginSchemas) : undefined;
    const controller = new PluginController(
      { cluster: ctx.get<PluginConfigCluster>(PluginConfigCluster), delivery, clock, logger, ...(pluginSchemas ? { schemas: pluginSchemas } : {}) },
      { resyncMs: config.resyncMs },
    );
    return new ControllerApp({ controller, delivery, logger, healthAddress: config.healthAddress, pluginSchemas });
  });
  return container;
}
