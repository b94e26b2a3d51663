// Fuzz: real configuration (examples/bookinfo, and Istio config dumps and Envoy examples from ../shared),
// mutated as an attacker or a careless operator would (test/support/fuzz-mutations.ts), through
// `amesh translate` in-process. For every input: the command returns (a watchdog turns a hang into a
// failure), exits 0 or 1 and nothing else (70 would be an exception no code handled), never leaves a
// half-written output (exit 1 keeps the previous file byte for byte and leaves no temp file; exit 0 writes
// a whole document), says why in one line naming the file and where in it, and memory stays bounded.
// A random seed each run; the count and the seed are printed, AMESH_FUZZ_SEED replays a run and
// AMESH_FUZZ_RUNS sets the count.
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { runCli } from '../../src/app/cli.js';
import type { Logger } from '../../src/ports/logger.js';
import { inputMutation, mutatedText, type InputMutation, type Json } from '../support/fuzz-mutations.js';
import { withTimeout } from '../support/mesh-sidecar.js';
import { repoRoot, sharedDir } from '../support/shared-fixtures.js';

const SEED = Number(process.env.AMESH_FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.AMESH_FUZZ_RUNS ?? 250);
/** Far above what a mutated input of these sizes needs (a few MB): an alias bomb or a runaway copy is far above it. */
const MEMORY_HEADROOM_BYTES = 768 * 1024 * 1024;
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

interface Seed {
  readonly name: string;
  readonly document: Json;
  readonly flags: readonly string[];
}

function seeds(): Seed[] {
  const list: Seed[] = [
    { name: 'bookinfo/sidecar-resources.yaml', document: parse(readFileSync(join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml'), 'utf8')) as Json, flags: [] },
    { name: 'bookinfo/istiod-capture.json', document: JSON.parse(readFileSync(join(repoRoot, 'examples/bookinfo/istiod-capture.json'), 'utf8')) as Json, flags: ['--partial'] },
  ];
  const shared = sharedDir();
  if (shared === undefined) {
    console.log('fuzz translate: ../shared not found: mutating the bookinfo examples only');
    return list;
  }
  const fixtures: [string, string[]][] = [
    ['istio/istioctl/pkg/describe/testdata/describe/http_config.json', ['--partial']],
    ['istio/istioctl/pkg/writer/compare/testdata/configdump.json', ['--partial']],
    ['envoy-examples/front-proxy/envoy.yaml', []],
    ['envoy-examples/tls/envoy-https-http.yaml', []],
    ['envoy-examples/lua-cluster-specifier/envoy.yaml', []],
    ['envoy-examples/dynamic-config-fs/configs/cds.yaml', []],
  ];
  for (const [path, flags] of fixtures) {
    const text = readFileSync(join(shared, 'fixtures', path), 'utf8');
    list.push({ name: path, document: (path.endsWith('.json') ? JSON.parse(text) : parse(text)) as Json, flags });
  }
  return list;
}

const PREVIOUS = '# the last good apisix.yaml\nroutes: []\n#END\n';
/**
 * What a refusal names after the file: a line and column, a path inside the document or a resource (and its
 * field) before the message, or what is wrong with the document as a whole (nothing in it, a limit it
 * broke, not Envoy's). Paths are the input's own keys, anything at all: only their place is checked.
 */
const WHERE =
  /^(:\d+:\d+: \S|( \(document \d+\))?(: \S.*?: \S|: (holds no resources|nested deeper|aliases expand|not an Envoy config dump|expected an object|invalid JSON|invalid YAML)))/;
const RESOURCE = /^(Listener|Cluster|RouteConfiguration|ClusterLoadAssignment|Secret) "/;

test('mutated real configuration through amesh translate: exit 0 or 1, never half-written, the reason in one line, bounded memory', async () => {
  const corpus = seeds();
  const dir = mkdtempSync(join(tmpdir(), 'amesh-fuzz-translate-'));
  const tally = { translated: 0, refused: 0, peakRss: 0 };
  const baseline = process.memoryUsage().rss;
  console.log(`fuzz translate: ${RUNS} mutated inputs from ${corpus.length} real configurations, seed ${SEED} (AMESH_FUZZ_SEED=${SEED} replays it)`);
  try {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: corpus.length - 1 }), inputMutation, async (index, mutation: InputMutation) => {
        const seed = corpus[index]!;
        const input = join(dir, `input.${mutation.format}`);
        const output = join(dir, 'out.yaml');
        rmSync(join(dir, 'input.json'), { force: true });
        rmSync(join(dir, 'input.yaml'), { force: true });
        writeFileSync(input, mutatedText(seed.document, mutation));
        writeFileSync(output, PREVIOUS);
        let err = '';
        const args = ['translate', input, ...seed.flags, '-o', output];
        const code = await withTimeout(
          runCli(args, { out: () => undefined, err: (t) => void (err += t), env: {} }, { logger: quiet }),
          60_000,
          () => `amesh ${args.join(' ')} hangs`,
        );
        const written = readFileSync(output, 'utf8');
        assert.equal(readdirSync(dir).sort(), ['input.' + mutation.format, 'out.yaml'].sort(), 'no temp file left');
        if (code === 0) {
          tally.translated += 1;
          assert.match(written, /^#END$/m, 'a whole document');
        } else {
          tally.refused += 1;
          assert.is(code, 1, `exit ${code}: ${err}`);
          assert.is(written, PREVIOUS, 'the previous output stays as it was');
          // One line per error (several only for a translation naming each resource), each bounded and printable.
          const lines = err.split('\n').slice(0, -1);
          assert.ok(err.endsWith('\n') && lines.length >= 1 && lines.length <= 21, `${lines.length} lines: ${err.slice(0, 300)}`);
          for (const line of lines) {
            assert.ok(line.startsWith('error: ') && line.length <= 1_010, `a bounded error line: ${line.slice(0, 300)}`);
            assert.not.match(line, /[\u0000-\u001f\u007f-\u009f]/, 'no control characters');
          }
          const first = lines[0]!.slice('error: '.length);
          const where = first.startsWith(input) ? WHERE.test(first.slice(input.length)) : RESOURCE.test(first);
          assert.ok(where, `names the file and where in it, or the resource: ${first.slice(0, 300)}`);
        }
        const rss = process.memoryUsage().rss;
        tally.peakRss = Math.max(tally.peakRss, rss);
        assert.ok(rss - baseline < MEMORY_HEADROOM_BYTES, `memory grew by ${Math.round((rss - baseline) / 2 ** 20)} MB`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `fuzz translate: ${tally.translated} translated, ${tally.refused} refused with exit 1; peak RSS ${Math.round(tally.peakRss / 2 ** 20)} MB (${Math.round(baseline / 2 ** 20)} MB at the start)`,
  );
});

test.run();
