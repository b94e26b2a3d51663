// Logger port over pino: JSON lines on stderr (stdout may carry the translated configuration).
import { pino, type Logger as PinoInstance } from 'pino';
import type { LogFields, Logger } from '../../ports/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export class PinoLogger implements Logger {
  private readonly pino: PinoInstance;

  constructor(options: { level: LogLevel; name?: string; destination?: NodeJS.WritableStream }) {
    this.pino = pino({ level: options.level, name: options.name ?? 'amesh', base: undefined }, options.destination ?? process.stderr);
  }

  debug(fields: LogFields, message: string): void {
    this.pino.debug(fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.pino.info(fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.pino.warn(fields, message);
  }
  error(fields: LogFields, message: string): void {
    this.pino.error(fields, message);
  }
}
