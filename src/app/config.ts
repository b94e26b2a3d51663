// Command-line options → typed configuration, validated in one place.
import { extname, resolve } from 'node:path';
import type { StandaloneFormat } from '../adapters/apisix/standalone-document.js';
import { DEFAULT_MAX_INPUT_BYTES } from '../adapters/fs/bounded-read.js';
import type { LogLevel } from '../adapters/logging/pino-logger.js';
import { err, ok, type Result } from '../domain/result.js';
import { parseByteCount } from './cli-io.js';
import type { PipelineOptions } from './pipeline.js';
import { packageRoot } from './package-info.js';

export interface TranslateConfig {
  readonly input: string;
  readonly output: string | undefined;
  readonly format: StandaloneFormat | undefined;
  readonly explain: 'text' | 'json' | undefined;
  readonly pipeline: PipelineOptions;
  readonly logLevel: LogLevel;
  /** The input's size limit, all files together. */
  readonly maxInputBytes: number;
  /** An input without resources is translated (to an empty configuration) instead of refused. */
  readonly allowEmpty: boolean;
}

export interface TranslateFlags {
  readonly output?: string;
  readonly format?: string;
  readonly explain?: string | boolean;
  readonly partial?: boolean;
  readonly portVariable?: string;
  readonly example?: string;
  readonly logLevel?: string;
  readonly allowEmpty?: boolean;
  /** --max-input-bytes, else AMESH_MAX_INPUT_BYTES. */
  readonly maxInputBytes?: string;
}

/** Examples bundled with the package, usable without any input file (see examples/bookinfo/README.md). */
export const EXAMPLES: Readonly<Record<string, string>> = {
  // What real istiod sends the bookinfo productpage sidecar (refreshed by examples/capture-istiod.ts).
  bookinfo: 'examples/bookinfo/istiod-capture.json',
  // Hand-written in istiod's shape, showing more translator features (redirect, direct response, retries).
  'bookinfo-handwritten': 'examples/bookinfo/sidecar-resources.yaml',
};

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export function parseTranslateConfig(input: string | undefined, flags: TranslateFlags, env: Readonly<Record<string, string | undefined>> = {}): Result<TranslateConfig, string> {
  let path = input;
  if (flags.example !== undefined) {
    const example = EXAMPLES[flags.example];
    if (!example) return err(`--example: unknown example "${flags.example}" (known: ${Object.keys(EXAMPLES).join(', ')})`);
    if (input !== undefined) return err('give either an input path or --example, not both');
    path = resolve(packageRoot(), example);
  }
  if (path === undefined) return err('missing input: a config dump, bootstrap, resource file or directory (or --example bookinfo)');
  let format: StandaloneFormat | undefined;
  if (flags.format !== undefined) {
    if (flags.format !== 'yaml' && flags.format !== 'json') return err(`--format: expected yaml or json, got "${flags.format}"`);
    format = flags.format;
  } else if (flags.output && flags.output !== '-') {
    format = extname(flags.output).toLowerCase() === '.json' ? 'json' : 'yaml';
  }
  let explain: TranslateConfig['explain'];
  if (flags.explain === true || flags.explain === 'text') explain = 'text';
  else if (flags.explain === 'json') explain = 'json';
  else if (flags.explain !== undefined && flags.explain !== false) return err(`--explain: expected text or json, got "${String(flags.explain)}"`);
  if (flags.portVariable !== undefined && !/^[a-z_][a-z0-9_]*$/.test(flags.portVariable)) {
    return err(`--port-variable: "${flags.portVariable}" is not an nginx variable name`);
  }
  const logLevel = (flags.logLevel ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) return err(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
  const maxInput = flags.maxInputBytes ?? (env.AMESH_MAX_INPUT_BYTES || undefined);
  const maxInputBytes = maxInput === undefined ? ok(DEFAULT_MAX_INPUT_BYTES) : parseByteCount('--max-input-bytes', maxInput);
  if (!maxInputBytes.ok) return maxInputBytes;
  return ok({
    input: path,
    output: flags.output === '-' ? undefined : flags.output,
    format,
    explain,
    pipeline: { partial: flags.partial ?? false, portVariable: flags.portVariable },
    logLevel,
    maxInputBytes: maxInputBytes.value,
    allowEmpty: flags.allowEmpty ?? false,
  });
}
