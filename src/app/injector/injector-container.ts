// Composition root of `amesh injector`.
import 'reflect-metadata';
import { Container } from 'inversify';
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { Logger } from '../../ports/logger.js';
import { InjectorApp } from './injector-app.js';
import type { InjectorConfig } from './injector-config.js';

export const InjectorAppToken = Symbol.for('amesh.InjectorApp');

export interface InjectorOverrides {
  readonly logger?: Logger;
}

export function buildInjectorContainer(config: InjectorConfig, overrides: InjectorOverrides = {}): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  const { logLevel, ...options } = config;
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: logLevel }));
  container.bind<InjectorApp>(InjectorAppToken).toDynamicValue((ctx) => new InjectorApp({ ...options, logger: ctx.get<Logger>(Logger) }));
  return container;
}
