// Real PCRE2 through Debian's pcre2test (package pcre2-utils), with JIT as APISIX's ngx.re runs it
// ("jo"). `\=find_limits` makes PCRE2 report the smallest match limit a subject needs: a count of
// backtracking steps that is deterministic, so growth can be asserted without timing anything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `pcre2test -C jit` exits with 1 when PCRE2 has JIT (APISIX runs regexes with it); null when not installed. */
export const PCRE2TEST_AVAILABLE = spawnSync('pcre2test', ['-C', 'jit'], { encoding: 'utf8' }).status === 1;

export interface Pcre2Result {
  /** The match and its captures (undefined for unset ones), or undefined for no match. */
  readonly groups: (string | undefined)[] | undefined;
  /** PCRE2's error, e.g. "error -47: match limit exceeded". */
  readonly error: string | undefined;
  /** The smallest match limit the subject needed (Infinity when not counted or over PCRE2's default limit). */
  readonly steps: number;
}

const DELIMITERS = ['%', '"', '!', '#', '@', '~', '`', ';', '&'];

/** Subjects are written as pcre2test reads them: backslash and non-printables escaped. */
function subjectLine(subject: string): string {
  return subject.replace(/[^\x21-\x7e]|\\/g, (c) => (c === '\\' ? '\\\\' : `\\x{${c.charCodeAt(0).toString(16)}}`));
}

/**
 * `countSteps` asks PCRE2 for the steps (it then matches repeatedly to find the limit: slow when
 * the answer is large, so not for patterns expected to reach the limit).
 */
export function pcre2(pattern: string, subjects: readonly string[], countSteps = false): Pcre2Result[] {
  const delimiter = DELIMITERS.find((d) => !pattern.includes(d));
  if (!delimiter) throw new Error(`no delimiter for ${pattern}`);
  const dir = mkdtempSync(join(tmpdir(), 'amesh-pcre2-'));
  try {
    const input = join(dir, 'input');
    writeFileSync(input, `${delimiter}${pattern}${delimiter}jit\n${subjects.map((s) => `    ${subjectLine(s)}${countSteps ? '\\=find_limits' : ''}\n`).join('')}\n`);
    const run = spawnSync('pcre2test', ['-q', input], { encoding: 'utf8' });
    if (run.status !== 0 && run.status !== 1) throw new Error(`pcre2test failed: ${run.stderr}`);
    return parse(run.stdout, subjects.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parse(output: string, count: number): Pcre2Result[] {
  const lines = output.split('\n');
  const error = lines.find((l) => l.startsWith('Failed: error') && !l.includes('match limit'));
  if (lines[1]?.startsWith('Failed')) throw new Error(`pcre2test could not compile the pattern: ${lines[1]}`);
  const results: Pcre2Result[] = [];
  let current: { groups: (string | undefined)[] | undefined; error: string | undefined; steps: number } | undefined;
  for (const line of lines.slice(1)) {
    if (line.startsWith('    ')) {
      if (current) results.push(current);
      current = { groups: undefined, error: undefined, steps: Infinity };
      continue;
    }
    if (!current) continue;
    const limit = /^Minimum match limit = (\d+)/.exec(line);
    const group = /^ *(\d+): (.*)$/.exec(line);
    if (limit) current.steps = Number(limit[1]);
    else if (line.startsWith('Failed: ')) current.error = line.slice('Failed: '.length);
    else if (group) {
      current.groups ??= [];
      current.groups[Number(group[1])] = group[2] === '<unset>' ? undefined : group[2];
    }
  }
  if (current) results.push(current);
  if (results.length !== count) throw new Error(`pcre2test answered ${results.length} of ${count} subjects${error ? `: ${error}` : ''}:\n${output.slice(0, 2000)}`);
  return results;
}
