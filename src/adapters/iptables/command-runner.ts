// Runs the tools (iptables-restore, iptables-save, ip) through execa, optionally inside a named network
// namespace (`ip netns exec`). Never throws for a failing command: the exit code and output are data.

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The program itself could not be started (not installed, not on PATH). */
  readonly missing: boolean;
}

export type CommandRunner = (file: string, args: readonly string[], input?: string) => Promise<CommandResult>;

export function execaRunner(netns?: string): CommandRunner {
  return async (file, args, input) => {
    // Loaded on first use: execa is ESM-only, and a static import would stop CommonJS loaders
    // (uvu's test runner) from loading this module at all.
    const { execa } = await import('execa');
    const [program, argv] = netns ? ['ip', ['netns', 'exec', netns, file, ...args]] : [file, [...args]];
    const result = await execa(program, argv, { reject: false, ...(input !== undefined ? { input } : {}), stripFinalNewline: false, timeout: 60_000 });
    const stderr = String(result.stderr ?? '');
    const notStarted = (result as { code?: string }).code === 'ENOENT';
    // `ip netns exec` reports a program it cannot start on stderr with status 255.
    const missingInNetns = netns !== undefined && result.exitCode === 255 && /exec of .* failed: No such file or directory/.test(stderr);
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: notStarted ? `${program}: not found on PATH` : stderr,
      missing: notStarted || missingInNetns,
    };
  };
}
