// Composition root of `amesh intercept`: the TrafficInterceptor is iptables unless a test overrides it.
import 'reflect-metadata';
import { Container } from 'inversify';
import { IptablesInterceptor } from '../../adapters/iptables/iptables-interceptor.js';
import { PinoLogger, type LogLevel } from '../../adapters/logging/pino-logger.js';
import { Logger } from '../../ports/logger.js';
import { TrafficInterceptor } from '../../ports/traffic-interceptor.js';
import { InterceptApp } from './intercept-app.js';
import type { InterceptConfig } from './intercept-config.js';

export const InterceptAppToken = Symbol.for('amesh.InterceptApp');

export interface InterceptOverrides {
  readonly interceptor?: TrafficInterceptor;
  readonly logger?: Logger;
}

export function buildInterceptContainer(config: InterceptConfig, logLevel: LogLevel, overrides: InterceptOverrides = {}): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: logLevel }));
  container
    .bind<TrafficInterceptor>(TrafficInterceptor)
    .toDynamicValue(
      (ctx) => overrides.interceptor ?? new IptablesInterceptor({ logger: ctx.get<Logger>(Logger) }, { backend: config.backend, ...(config.netns ? { netns: config.netns } : {}) }),
    );
  container
    .bind<InterceptApp>(InterceptAppToken)
    .toDynamicValue((ctx) => new InterceptApp({ interceptor: ctx.get<TrafficInterceptor>(TrafficInterceptor), logger: ctx.get<Logger>(Logger) }, config));
  return container;
}
