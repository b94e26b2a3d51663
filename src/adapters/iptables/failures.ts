// Turns what iptables-restore prints on failure into an InterceptFailure that says what to fix.
import type { InterceptFailure } from '../../ports/traffic-interceptor.js';
import type { CommandResult } from './command-runner.js';

const PERMISSION = /Permission denied|you must be root|Operation not permitted/i;
// Messages of iptables 1.8 (both backends) when an extension or kernel module is absent.
const KERNEL =
  /Couldn't load (match|target)|not supported, missing kernel module|No chain\/target\/match by that name|Extension .* revision .* not supported|Protocol not supported|can't initialize .* table/i;

/** First meaningful line of the tool's stderr (skips usage hints). */
function firstLine(stderr: string): string {
  return (
    stderr
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0 && !l.startsWith('Try `')) ?? 'failed without a message'
  );
}

export function classify(tool: string, result: CommandResult, lineRules: ReadonlyMap<number, string> = new Map()): InterceptFailure {
  if (result.missing) return { kind: 'missing-binary', message: `${tool} is not installed (or not on PATH): install the iptables package` };
  const at = /Error occurred at line: (\d+)/.exec(result.stderr) ?? /line (\d+) failed/.exec(result.stderr);
  const rule = at ? lineRules.get(Number(at[1])) : undefined;
  const detail = `${tool}: ${firstLine(result.stderr)}`;
  if (PERMISSION.test(result.stderr)) return { kind: 'permission', message: `${detail} (changing iptables needs root or CAP_NET_ADMIN)` };
  if (KERNEL.test(result.stderr))
    return { kind: 'missing-kernel-feature', message: `${detail}: the kernel or iptables build lacks a match or target this plan uses`, ...(rule ? { rule } : {}) };
  return { kind: 'rejected', message: detail, ...(rule ? { rule } : {}) };
}
