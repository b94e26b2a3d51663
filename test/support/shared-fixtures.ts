// Locates ../shared (beside the project checkout; see /work/shared/README.md): the real Istio/Envoy
// fixtures. A clone without it skips the suites that need it, saying so; CI always has it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const expected = path.resolve(repoRoot, '../shared');

/** Absolute path of ../shared, or undefined when it is not there. */
export function sharedDir(): string | undefined {
  return fs.statSync(expected, { throwIfNoEntry: false })?.isDirectory() ? expected : undefined;
}

/** Like sharedDir(), but prints why the suite is skipped when ../shared is missing. */
export function requireShared(suiteName: string): string | undefined {
  const dir = sharedDir();
  if (dir === undefined) console.log(`${suiteName}: skipped: ../shared not found (looked for ${expected})`);
  return dir;
}

/**
 * The rows of the markdown tables in shared/fixtures/README.md, keyed by the file path in the first
 * cell (`\`envoy-examples/cache/envoy.yaml\``), value = the remaining cells, trimmed.
 */
export function fixtureReadmeRows(shared: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of fs.readFileSync(path.join(shared, 'fixtures/README.md'), 'utf8').split('\n')) {
    const m = /^\| `([^`]+)` \|(.*)\|\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined)
      rows.set(
        m[1],
        m[2].split('|').map((c) => c.trim()),
      );
  }
  return rows;
}

/** Every file under `dir` (recursive), as paths relative to it, sorted. */
export function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
