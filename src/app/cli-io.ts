// What every `amesh` command shares: its input/output and the exit codes.
export const EXIT = { ok: 0, input: 1, usage: 2, output: 3 } as const;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Environment variables (flags fall back to them). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGTERM/SIGINT by main.ts: long-running commands stop gracefully. */
  readonly signal?: AbortSignal;
}

export const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** A flag's value, else the named environment variable's (empty counts as unset). */
export function flagOrEnv(env: Readonly<Record<string, string | undefined>>) {
  return (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] || undefined);
}

/** Resolves when the signal aborts (SIGTERM/SIGINT in main.ts); never without one. */
export function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
