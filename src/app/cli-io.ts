import { err, ok, type Result } from '../domain/result.js';
import { escapeControls } from '../domain/display-text.js';
import { redactPrivateKeys } from '../domain/redaction.js';

// What every `amesh` command shares: its input/output, the exit codes, and how an unexpected error is told.
/** `internal`: an exception no command handled (a bug): sysexits' EX_SOFTWARE, told apart from bad input. */
export const EXIT = { ok: 0, input: 1, usage: 2, output: 3, internal: 70 } as const;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Environment variables (flags fall back to them). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGTERM/SIGINT by main.ts: long-running commands stop gracefully. */
  readonly signal?: AbortSignal;
  /** `err` goes to a terminal: a long run may show its progress there. */
  readonly errIsTerminal?: boolean;
}

export const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** A flag's value, else the named environment variable's (empty counts as unset). */
export function flagOrEnv(env: Readonly<Record<string, string | undefined>>) {
  return (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] || undefined);
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A size in bytes as given to a flag: digits, optionally with a binary unit as Kubernetes writes them (`512Mi`). */
export function parseByteCount(flag: string, value: string): Result<number, string> {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(value.trim());
  const bytes = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? '']! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) return err(`${flag}: expected a size in bytes such as 268435456 or 256Mi, got "${value}"`);
  return ok(bytes);
}

/** Resolves when the signal aborts (SIGTERM/SIGINT in main.ts); never without one. */
export function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Whether the command line or the environment asks for debug logs (then an unexpected error shows its stack). */
export function debugRequested(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): boolean {
  const flag = argv.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  const level = flag === -1 ? env.AMESH_LOG_LEVEL : argv[flag]!.includes('=') ? argv[flag]!.split('=')[1] : argv[flag + 1];
  return level === 'debug';
}

/** Room for the message, not for an input echoed in it. */
const MAX_ERROR_LINE = 500;

/**
 * `text` as one terminal line of at most `max` characters: controls escaped and keys redacted as everywhere
 * (display-text.ts), and a long line loses its middle, so the start still says where and the end what is wrong.
 */
export function terminalLine(text: string, max = 1_000): string {
  const escaped = escapeControls(redactPrivateKeys(text));
  if (escaped.length <= max) return escaped;
  const head = Math.ceil((max - 1) * 0.6);
  return `${escaped.slice(0, head)}…${escaped.slice(escaped.length - (max - 1 - head))}`;
}

/**
 * An exception nothing handled, told in one line (the stack, and Node's print of the throwing source line,
 * which in the bundle is up to a megabyte of code, only at debug level).
 */
export function unexpectedErrorText(error: unknown, debug: boolean): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const line = terminalLine(message.replace(/\s+/g, ' ').trim(), MAX_ERROR_LINE);
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  return `error: unexpected failure (a bug, please report it): ${line}${debug ? '' : ' (--log-level debug shows where)'}\n${stack}`;
}
