export * from './config-source.js';
export * from './config-sink.js';
export * from './logger.js';
export * from './config-cache.js';
export * from './metrics.js';
export * from './secret-source.js';
export * from './traffic-interceptor.js';
