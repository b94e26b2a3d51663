export * from './config-source.js';
export * from './config-sink.js';
export * from './logger.js';
