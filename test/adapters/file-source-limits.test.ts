// FileConfigSource on hostile or broken input (issue 12): an input with no resources is refused unless
// allowed (an empty or truncated file must not wipe the mesh), only regular files are read (a FIFO would
// hang, /dev/zero never ends), the input's size is bounded, and documents nested too deep or blown up by
// YAML aliases are refused with the limit named, never a crash. Every refusal is a SourceError.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileConfigSource, type FileSourceOptions } from '../../src/adapters/file-source/file-config-source.js';
import type { SourceError, SourceUpdate } from '../../src/ports/config-source.js';
import type { Result } from '../../src/domain/result.js';
import { SourceRecorder } from '../contract/config-source.contract.js';

const bookinfo = readFileSync(fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url)), 'utf8');

const s = suite('FileConfigSource: hostile and broken input');

async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-file-limits-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The load's result; a load that never returns (the old behaviour on a FIFO) fails the test instead of
 * hanging the run. The bound is a watchdog for a hang, far above any real load, not a timing assertion.
 */
async function load(options: FileSourceOptions): Promise<Result<SourceUpdate, SourceError>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`loading ${options.path} did not return: it hangs`)), 20_000);
  });
  try {
    return await Promise.race([new FileConfigSource(options).load(), hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function refused(options: FileSourceOptions): Promise<SourceError> {
  const result = await load(options);
  if (result.ok) throw new Error(`expected ${options.path} to be refused, got a snapshot of ${result.value.snapshot.clusters.size} clusters`);
  return result.error;
}

const EMPTY_INPUTS: Record<string, string> = {
  'zero-bytes.yaml': '',
  'comments.yaml': '# the ConfigMap was truncated here\n',
  'only-separators.yaml': '---\n---\n',
  'empty-list.json': '{"resources": []}',
  'empty-dump.json': '{"configs": []}',
  'whitespace.json': '   \n',
};

s('an input without resources is refused, naming the file and the way to allow it', async () => {
  await withDir(EMPTY_INPUTS, async (dir) => {
    for (const name of Object.keys(EMPTY_INPUTS)) {
      const error = await refused({ path: join(dir, name) });
      assert.is(error.location, join(dir, name));
      assert.match(error.message, /no resources/, name);
      assert.match(error.message, /allow-empty/, name);
    }
  });
});

s('allowEmpty: the same inputs give an empty snapshot', async () => {
  await withDir(EMPTY_INPUTS, async (dir) => {
    for (const name of Object.keys(EMPTY_INPUTS)) {
      const result = await load({ path: join(dir, name), allowEmpty: true });
      assert.ok(result.ok, `${name}: ${result.ok ? '' : result.error.message}`);
      if (result.ok) assert.is(result.value.snapshot.clusters.size + result.value.snapshot.listeners.size, 0);
    }
  });
});

s('in a directory, a file truncated to nothing is refused even though the others hold resources', async () => {
  await withDir({ 'a-good.yaml': bookinfo, 'b-truncated.yaml': '' }, async (dir) => {
    const error = await refused({ path: dir });
    assert.is(error.location, join(dir, 'b-truncated.yaml'));
  });
});

s('a FIFO is refused at once, alone or in a directory, instead of blocking for a writer', async () => {
  await withDir({ 'good.yaml': bookinfo }, async (dir) => {
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    for (const path of [join(dir, 'pipe.yaml'), dir]) {
      const error = await refused({ path });
      assert.is(error.location, join(dir, 'pipe.yaml'));
      assert.match(error.message, /FIFO, not a regular file/);
    }
  });
});

s('a symlink to /dev/zero is refused as a device, not read until the memory runs out', async () => {
  await withDir({}, async (dir) => {
    await symlink('/dev/zero', join(dir, 'zero.yaml'));
    const error = await refused({ path: join(dir, 'zero.yaml') });
    assert.match(error.message, /character device, not a regular file/);
  });
});

s('a directory named like a document is refused, not read', async () => {
  await withDir({}, async (dir) => {
    execFileSync('mkdir', [join(dir, 'inner.yaml')]);
    const error = await refused({ path: dir });
    assert.match(error.message, /a directory, not a regular file/);
  });
});

s('the input size limit: one file over it, or files that are over it together; the limit is named', async () => {
  await withDir({ 'a.yaml': bookinfo, 'b.yaml': bookinfo.replaceAll('productpage', 'frontpage') }, async (dir) => {
    const size = Buffer.byteLength(bookinfo);
    const one = await refused({ path: join(dir, 'a.yaml'), maxInputBytes: size - 1 });
    assert.is(one.location, join(dir, 'a.yaml'));
    assert.match(one.message, new RegExp(`^${size} bytes: over the input size limit of ${size - 1} bytes \\(max-input-bytes\\)`));
    const together = await refused({ path: dir, maxInputBytes: size + 10 });
    assert.is(together.location, join(dir, 'b.yaml'));
    assert.match(together.message, new RegExp(`with the ${size} bytes of the files before it: over the input size limit of ${size + 10} bytes`));
    assert.ok((await load({ path: join(dir, 'a.yaml'), maxInputBytes: size })).ok, 'exactly at the limit is accepted');
  });
});

/** `depth` nested objects around `inner`, as JSON text. */
const nestedJson = (depth: number, inner: string): string => `${'{"x":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;

s('JSON nested deeper than the limit is refused (it overflowed the stack: an uncaught RangeError)', async () => {
  // Where the nesting is free-form: cluster metadata, a google.protobuf.Struct.
  const cluster = (depth: number): string =>
    `{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "connect_timeout": "1s", "metadata": {"filter_metadata": {"f": ${nestedJson(depth, '1')}}}}]}`;
  await withDir({ 'deep.json': cluster(3500), 'fine.json': cluster(30) }, async (dir) => {
    const error = await refused({ path: join(dir, 'deep.json') });
    assert.is(error.location, join(dir, 'deep.json'));
    assert.is(error.message, 'nested deeper than 100 levels (the nesting limit)');
    assert.ok((await load({ path: join(dir, 'fine.json') })).ok, '30 levels of metadata are fine');
  });
});

s('YAML nested deeper than the limit is refused with the position', async () => {
  const flow = `resources: ${'['.repeat(3500)}${']'.repeat(3500)}\n`;
  await withDir({ 'deep.yaml': flow }, async (dir) => {
    const error = await refused({ path: join(dir, 'deep.yaml') });
    assert.match(error.location, new RegExp(`^${join(dir, 'deep.yaml')}:1:\\d+$`));
    assert.is(error.message, 'invalid YAML: nested deeper than 100 levels (the nesting limit)');
  });
});

s('a YAML alias bomb is refused, naming the alias expansion limit (it was an uncaught ReferenceError)', async () => {
  // Billion laughs: each level lists the one before ten times.
  let text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  for (let i = 0, previous = 'a'; i < 9; previous = `l${i}`, i++) text += `l${i}: &l${i} [${Array(10).fill(`*${previous}`).join(', ')}]\n`;
  await withDir({ 'bomb.yaml': text }, async (dir) => {
    const error = await refused({ path: join(dir, 'bomb.yaml') });
    assert.is(error.location, join(dir, 'bomb.yaml'));
    assert.match(error.message, /^aliases expand the document to more than \d+ values, one per character of its text \(the alias expansion limit\)$/);
  });
});

s('a YAML anchor repeated under the alias count a parser allows still cannot multiply the document', async () => {
  // 90 clusters sharing one 2,000-key metadata map: 85 KB of text standing for 180,000 values.
  let text = 'resources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c0\n  metadata:\n    filter_metadata:\n      x: &big\n';
  for (let i = 0; i < 2000; i++) text += `        k${i}: "${'v'.repeat(20)}"\n`;
  for (let i = 1; i < 90; i++) text += `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c${i}\n  metadata: {filter_metadata: {x: *big}}\n`;
  await withDir({ 'fanout.yaml': text, 'few.yaml': text.split('- "@type"').slice(0, 4).join('- "@type"') }, async (dir) => {
    const error = await refused({ path: join(dir, 'fanout.yaml') });
    assert.match(error.message, /the alias expansion limit/);
    assert.ok((await load({ path: join(dir, 'few.yaml') })).ok, 'an anchor used a few times is fine');
  });
});

s('YAML: plain YAML 1.2 core values, as before (dates and yes/no stay strings); a key given twice is an error', async () => {
  const text = `resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: 2023-06-20
  alt_stat_name: yes
  connect_timeout: 1s
`;
  await withDir({ 'values.yaml': text, 'twice.yaml': `${text}  name: again\n` }, async (dir) => {
    const result = await load({ path: join(dir, 'values.yaml') });
    assert.ok(result.ok, result.ok ? '' : result.error.message);
    if (result.ok) assert.equal([...result.value.snapshot.clusters.keys()], ['2023-06-20']);
    const twice = await refused({ path: join(dir, 'twice.yaml') });
    assert.is(twice.location, `${join(dir, 'twice.yaml')}:6:3`);
    assert.match(twice.message, /^invalid YAML: duplicated mapping key/);
  });
});

s('a byte-order mark before JSON is not an error', async () => {
  await withDir(
    { 'bom.json': `\uFEFF${JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'c', connect_timeout: '1s' }] })}` },
    async (dir) => {
      const result = await load({ path: join(dir, 'bom.json') });
      assert.ok(result.ok, result.ok ? '' : result.error.message);
    },
  );
});

s('following a file whose directory is not there yet: reported once (it threw out of watch()), then read when it appears', async () => {
  await withDir({}, async (dir) => {
    const input = join(dir, 'late', 'resources.yaml');
    const recorder = new SourceRecorder(20_000);
    const subscription = new FileConfigSource({ path: input, follow: true }).watch(recorder);
    try {
      const missing = await recorder.next('error', 0);
      assert.ok(
        recorder.events.some((e) => e.kind === 'error' && /^cannot watch for changes: .*ENOENT/.test(e.error.message)),
        JSON.stringify(missing.event),
      );
      await mkdir(join(dir, 'late'));
      await writeFile(input, bookinfo);
      const { event } = await recorder.next('update', 0);
      assert.ok(event.update.snapshot.clusters.size > 0);
    } finally {
      subscription.dispose();
    }
  });
});

s.run();
