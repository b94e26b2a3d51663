// Logger port over pino: JSON lines on stderr (stdout may carry the translated configuration).
// Private keys never reach a log line: every string in the fields and the message is redacted
// (a key can travel in an error message, a target's answer or an object logged whole).
import { pino, type Logger as PinoInstance } from 'pino';
import { containsPrivateKey, redactJsonStrings, redactPrivateKeys } from '../../domain/redaction.js';
import type { LogFields, Logger } from '../../ports/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Errors' message and stack are not enumerable: a redacted one is logged as a plain object. */
function redactValue(value: unknown): unknown {
  if (value instanceof Error) {
    if (!containsPrivateKey(`${value.message}${value.stack ?? ''}`)) return value;
    return { type: value.name, message: redactPrivateKeys(value.message), stack: redactPrivateKeys(value.stack ?? '') };
  }
  return redactJsonStrings(value);
}

function redactFields(fields: LogFields): LogFields {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    const redacted = redactValue(value);
    if (redacted !== value) (copy ??= { ...fields })[key] = redacted;
  }
  return copy ?? fields;
}

export class PinoLogger implements Logger {
  private readonly pino: PinoInstance;

  constructor(options: { level: LogLevel; name?: string; destination?: NodeJS.WritableStream }) {
    this.pino = pino({ level: options.level, name: options.name ?? 'amesh', base: undefined }, options.destination ?? process.stderr);
  }

  debug(fields: LogFields, message: string): void {
    if (this.pino.isLevelEnabled('debug')) this.pino.debug(redactFields(fields), redactPrivateKeys(message));
  }
  info(fields: LogFields, message: string): void {
    if (this.pino.isLevelEnabled('info')) this.pino.info(redactFields(fields), redactPrivateKeys(message));
  }
  warn(fields: LogFields, message: string): void {
    if (this.pino.isLevelEnabled('warn')) this.pino.warn(redactFields(fields), redactPrivateKeys(message));
  }
  error(fields: LogFields, message: string): void {
    if (this.pino.isLevelEnabled('error')) this.pino.error(redactFields(fields), redactPrivateKeys(message));
  }
}
