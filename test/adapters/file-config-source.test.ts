// FileConfigSource: the contract with `follow: true` on a temp copy of the bookinfo example, then
// what only files have: directories of mixed .json/.yaml/.yml, and error locations precise enough
// to fix the input (file, line:col for syntax; resource and field for content).
import { readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileConfigSource } from '../../src/adapters/file-source/file-config-source.js';
import type { SourceError, SourceUpdate } from '../../src/ports/config-source.js';
import { configSourceContract, SourceRecorder } from '../contract/config-source.contract.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';

const bookinfoPath = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));
const bookinfo = readFileSync(bookinfoPath, 'utf8');
// The first listener's port as a word: valid YAML, invalid proto3 JSON for a uint32 field.
const broken = bookinfo.replace('port_value: 15001', 'port_value: fifteen-thousand');

const freshDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'amesh-file-source-'));

configSourceContract('FileConfigSource (follow: true)', async () => {
  const dir = await freshDir();
  const file = join(dir, 'sidecar-resources.yaml');
  await writeFile(file, bookinfo); // fs.watch needs the file to exist when watch() starts
  return {
    source: new FileConfigSource({ path: file, follow: true }),
    publishValid: () => writeFile(file, bookinfo),
    publishInvalid: () => writeFile(file, broken),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const s = suite('FileConfigSource: files, directories and error locations');

/** Runs `body` with a fresh temp dir holding `files`, removed afterwards. */
async function withFiles(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await freshDir();
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function loadOk(path: string): Promise<SourceUpdate> {
  const result = await new FileConfigSource({ path }).load();
  if (!result.ok) throw new Error(`expected a snapshot, got ${result.error.location}: ${result.error.message}`);
  return result.value;
}

async function loadError(path: string): Promise<SourceError> {
  const result = await new FileConfigSource({ path }).load();
  if (result.ok) throw new Error(`expected an error for ${path}, got a snapshot`);
  return result.error;
}

const cluster = (name: string): string =>
  JSON.stringify({
    resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, connect_timeout: '1s' }],
  });
const routeConfiguration = (name: string, match: string): string => `resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: ${name}
  virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
    - match: ${match}
      route: { cluster: c-json }
`;
const endpoints = (clusterName: string): string => `resources:
- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  cluster_name: ${clusterName}
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 10.1.0.1, port_value: 80 } } } }] }]
`;

s('a directory input reads every .json, .yaml and .yml file in it, and nothing else', async () => {
  await withFiles(
    {
      'clusters.json': cluster('c-json'),
      'routes.yaml': routeConfiguration('r-yaml', '{ prefix: / }'),
      'endpoints.yml': endpoints('c-json'),
      // Not configuration: would fail to parse if the source read it.
      'notes.txt': 'resources: [ {',
      'README.md': '# not: [ yaml',
    },
    async (dir) => {
      const { snapshot } = await loadOk(dir);
      assert.equal([...snapshot.clusters.keys()], ['c-json'], '.json');
      assert.equal([...snapshot.routeTables.keys()], ['r-yaml'], '.yaml');
      assert.equal([...snapshot.endpoints.keys()], ['c-json'], '.yml');
    },
  );
});

s('malformed JSON in a directory: the location is that file', async () => {
  await withFiles({ 'good.yaml': bookinfo, 'bad.json': '{"resources": [' }, async (dir) => {
    const error = await loadError(dir);
    assert.is(error.location, join(dir, 'bad.json'));
    assert.match(error.message, /invalid JSON/);
  });
});

s('a YAML syntax error names file:line:col', async () => {
  const text = 'resources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c1\n  name: c2\n';
  await withFiles({ 'dup.yaml': text }, async (dir) => {
    const error = await loadError(join(dir, 'dup.yaml'));
    assert.is(error.location, `${join(dir, 'dup.yaml')}:4:3`); // the repeated key
    assert.match(error.message, /invalid YAML/);
  });
});

s('in a multi-document YAML file, line numbers count from the top of the file', async () => {
  // Line 6 repeats a key; the second document starts at line 3.
  const text = 'resources: []\n---\nresources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c1\n  name: c2\n';
  await withFiles({ 'multi.yaml': text }, async (dir) => {
    const error = await loadError(join(dir, 'multi.yaml'));
    assert.is(error.location, `${join(dir, 'multi.yaml')}:6:3`);
  });
});

s('a wrong type names the file and the field path inside the document', async () => {
  await withFiles({ 'sidecar.yaml': broken }, async (dir) => {
    const error = await loadError(join(dir, 'sidecar.yaml'));
    assert.is(error.location, `${join(dir, 'sidecar.yaml')}: resources[0].address.socket_address.port_value`);
    assert.ok(error.message.length > 0);
  });
});

s('a decode error names the file, the resource and the field', async () => {
  await withFiles({ 'routes.yaml': routeConfiguration('no-path', '{ headers: [{ name: x-a, present_match: true }] }') }, async (dir) => {
    const error = await loadError(join(dir, 'routes.yaml'));
    assert.ok(error.location.includes(join(dir, 'routes.yaml')), error.location);
    assert.ok(error.location.includes('RouteConfiguration "no-path"'), error.location);
    assert.ok(error.location.includes('virtual_hosts[0].routes[0].match.path_specifier'), error.location);
    assert.match(error.message, /path specifier/);
  });
});

s('in a directory, a decode error names the file that holds the resource', async () => {
  await withFiles({ 'a-bookinfo.yaml': bookinfo, 'z-routes.yaml': routeConfiguration('no-path', '{ headers: [{ name: x-a, present_match: true }] }') }, async (dir) => {
    const error = await loadError(dir);
    assert.ok(error.location.includes('RouteConfiguration "no-path"') && error.location.includes('match.path_specifier'), error.location);
    assert.ok(error.location.includes(join(dir, 'z-routes.yaml')), `names the file, not only the directory: ${error.location}`);
  });
});

s('in a directory, a field error in a later file wins over a decode error in an earlier one, with the count', async () => {
  // Resources are converted while later files are still being read: the document check must still decide.
  const twoBad = JSON.stringify({ resources: [JSON.parse(cluster('c2')).resources[0], { ...JSON.parse(cluster('c3')).resources[0], connect_timeout: 5 }, { name: 'untyped' }] });
  await withFiles({ 'a-routes.yaml': routeConfiguration('no-path', '{ headers: [{ name: x-a, present_match: true }] }'), 'b-clusters.json': twoBad }, async (dir) => {
    const error = await loadError(dir);
    assert.is(error.location, `${join(dir, 'b-clusters.json')}: resources[1].connect_timeout`);
    assert.match(error.message, /\(and 1 more\)$/);
  });
});

s('follow keeps watching after the file is replaced by rename (editors, ConfigMap updates)', async () => {
  await withFiles({ 'sidecar.yaml': bookinfo }, async (dir) => {
    const file = join(dir, 'sidecar.yaml');
    const recorder = new SourceRecorder(3000);
    const subscription = new FileConfigSource({ path: file, follow: true }).watch(recorder);
    try {
      await recorder.next('update', 0);
      // Atomic replacement: a new inode takes the name.
      await writeFile(join(dir, 'sidecar.yaml.tmp'), broken);
      await rename(join(dir, 'sidecar.yaml.tmp'), file);
      const failed = await recorder.next('error', 0);
      // Then an ordinary in-place write to the new file must still be seen.
      await writeFile(file, bookinfo);
      await recorder.next('update', failed.index + 1);
    } finally {
      subscription.dispose();
    }
  });
});

s('an update the watcher rejects later (a promise verdict) is logged with the path', async () => {
  await withFiles({ 'bookinfo.yaml': bookinfo }, async (dir) => {
    const logger = new RecordingLogger();
    const path = join(dir, 'bookinfo.yaml');
    let delivered = 0;
    const subscription = new FileConfigSource({ path, logger }).watch({
      onUpdate: () => {
        delivered += 1;
        return new Promise((resolve) => setTimeout(() => resolve({ accepted: false, reason: 'routes/r1: refused by the gateway' }), 10));
      },
      onError: () => assert.unreachable('the file is valid'),
    });
    try {
      const deadline = Date.now() + 3000;
      while (logger.entries.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.is(delivered, 1);
      assert.is(logger.entries[0]?.fields['path'], path);
      assert.is(logger.entries[0]?.fields['error'], 'routes/r1: refused by the gateway');
    } finally {
      subscription.dispose();
    }
  });
});

s.run();
