// The composition root: binds each port to the adapter the configuration chooses. Adapters are
// plain classes; inversify lives here only. `overrides` lets tests and embedders rebind any port.
import 'reflect-metadata';
import { Container } from 'inversify';
import { FileConfigSource } from '../adapters/file-source/file-config-source.js';
import { FileConfigSink } from '../adapters/file-sink/file-sink.js';
import { PinoLogger } from '../adapters/logging/pino-logger.js';
import { ConfigSink } from '../ports/config-sink.js';
import { ConfigSource } from '../ports/config-source.js';
import { Logger } from '../ports/logger.js';
import type { TranslateConfig } from './config.js';
import { StreamConfigSink } from '../adapters/file-sink/stream-sink.js';
import { TranslateApp, type Progress } from './translate/translate-app.js';

export const TranslateAppToken = Symbol.for('amesh.TranslateApp');

export interface ContainerOverrides {
  readonly source?: ConfigSource;
  readonly sink?: ConfigSink;
  readonly logger?: Logger;
}

/** `progress`: told what a long run is doing (a terminal's progress line). */
export function buildTranslateContainer(config: TranslateConfig, overrides: ContainerOverrides = {}, progress?: Progress): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Logger>(Logger).toDynamicValue(() => overrides.logger ?? new PinoLogger({ level: config.logLevel }));
  container
    .bind<ConfigSource>(ConfigSource)
    .toDynamicValue(
      () =>
        overrides.source ??
        new FileConfigSource({ path: config.input, maxInputBytes: config.maxInputBytes, allowEmpty: config.allowEmpty, ...(progress ? { progress: progress.update } : {}) }),
    );
  container
    .bind<ConfigSink>(ConfigSink)
    .toDynamicValue(
      () => overrides.sink ?? (config.output ? new FileConfigSink({ path: config.output, format: config.format }) : new StreamConfigSink(process.stdout, config.format ?? 'yaml')),
    );
  container
    .bind<TranslateApp>(TranslateAppToken)
    .toDynamicValue((ctx) => new TranslateApp({ source: ctx.get(ConfigSource), sink: ctx.get(ConfigSink), logger: ctx.get(Logger), progress }, config.pipeline));
  return container;
}
