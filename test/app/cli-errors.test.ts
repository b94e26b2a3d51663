// `amesh translate` on bad input: the exit code a script can branch on, and a message precise
// enough to fix the input (file, line:col, resource, field). Whatever fails, an existing output
// file is left byte-identical with no temp file beside it: APISIX keeps serving the last good
// config. Everything runs on temp files through runCli with captured output.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import type { Logger } from '../../src/ports/logger.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

// Logs are not under test; keep them out of the test output.
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function cli(args: readonly string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t) }, { logger: quiet });
  return { code, out, err };
}

/** A fresh temp dir with `files` written into it, removed afterwards. */
async function inTempDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-cli-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const PREVIOUS = Buffer.from('# the last good apisix.yaml\nroutes: []\n#END\n');

/** Runs `args -o out.yaml` over an existing out.yaml; the run must fail and leave the directory as it was. */
async function failsKeepingOutput(dir: string, args: readonly string[]): Promise<Run> {
  const output = join(dir, 'out.yaml');
  await writeFile(output, PREVIOUS);
  const before = (await readdir(dir)).sort();
  const run = await cli([...args, '-o', output]);
  assert.is.not(run.code, 0, `expected a failure; stderr: ${run.err}`);
  assert.ok((await readFile(output)).equals(PREVIOUS), 'out.yaml is byte-identical');
  assert.equal((await readdir(dir)).sort(), before, 'no temp file left beside out.yaml');
  assert.ok(run.err.startsWith('error: '), `the message goes to stderr: ${JSON.stringify(run.err)}`);
  return run;
}

const CLUSTER_C1 = `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: c1
  type: STATIC
  connect_timeout: 1s
  load_assignment: { cluster_name: c1, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } } }] }] }
`;

/** A resource list: cluster c1, then RouteConfiguration `name` with the given routes (YAML flow items). */
const routesFile = (name: string, routes: readonly string[], withCluster = true): string =>
  `resources:
${withCluster ? CLUSTER_C1 : ''}- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: ${name}
  virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
${routes.map((r) => `    - ${r}\n`).join('')}`;

const s = suite('amesh translate: errors and exit codes');

s('malformed JSON: exit 1, the message names the file', async () => {
  await inTempDir({ 'dump.json': '{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c1",}]}' }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'dump.json')]);
    assert.is(run.code, 1);
    assert.ok(run.err.includes(`${join(dir, 'dump.json')}: invalid JSON`), run.err);
  });
});

s('malformed YAML: exit 1, the message names file:line:col', async () => {
  // Line 4 opens a flow sequence that is never closed.
  const text = 'resources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c1\n  dns_lookup_family: [V4_ONLY\n  type: STATIC\n';
  await inTempDir({ 'broken.yaml': text }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'broken.yaml')]);
    assert.is(run.code, 1);
    const located = new RegExp(`${join(dir, 'broken.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): invalid YAML`).exec(run.err);
    assert.ok(located, `file:line:col in ${run.err}`);
    // The parser notices the missing ] where the next key starts: line 5, column 3.
    assert.equal([located[1], located[2]], ['5', '3'], run.err);
  });
});

s('a wrong type at a nested field: exit 1, the message has the field path', async () => {
  await inTempDir({ 'routes.yaml': routesFile('r1', ['{ match: { prefix: 5 }, route: { cluster: c1 } }']) }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'routes.yaml')]);
    assert.is(run.code, 1);
    assert.ok(run.err.includes(join(dir, 'routes.yaml')), run.err);
    // The RouteConfiguration is the second resource of the list, after the cluster.
    assert.ok(run.err.includes('resources[1].virtual_hosts[0].routes[0].match.prefix'), run.err);
  });
});

s('a safe_regex RE2 rejects (a lookahead PCRE would take): exit 1, names the RouteConfiguration and the field', async () => {
  const routes = ['{ match: { prefix: /static/ }, route: { cluster: c1 } }', "{ match: { safe_regex: { regex: '/users/(?=admin)[a-z]+' } }, route: { cluster: c1 } }"];
  await inTempDir({ 'routes.yaml': routesFile('regex-routes', routes) }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'routes.yaml')]);
    assert.is(run.code, 1);
    assert.ok(run.err.includes('RouteConfiguration "regex-routes"'), run.err);
    assert.ok(run.err.includes('virtual_hosts[0].routes[1].match.safe_regex.regex'), run.err);
    assert.match(run.err, /RE2/);
  });
});

s('RE2 constructs PCRE reads differently (\\v, $) translate, rewritten for PCRE', async () => {
  const routes = [String.raw`{ match: { safe_regex: { regex: '/a\v[0-9]+$' } }, route: { cluster: c1 } }`];
  await inTempDir({ 'routes.yaml': routesFile('r1', routes) }, async (dir) => {
    const output = join(dir, 'apisix.json');
    const run = await cli(['translate', join(dir, 'routes.yaml'), '-o', output]);
    assert.is(run.code, 0, run.err);
    const document: unknown = JSON.parse(await readFile(output, 'utf8'));
    const patterns = JSON.stringify(document).match(/"\^\(\?:\/a[^"]*"/g) ?? [];
    assert.is(patterns.length, 1, `one uri pattern for the regex route: ${JSON.stringify(document)}`);
    const pattern = JSON.parse(patterns[0]!) as string;
    // PCRE's \v is any vertical whitespace and its $ also matches before a final newline.
    assert.ok(pattern.includes(String.raw`\x0b`), pattern);
    assert.not.ok(pattern.includes(String.raw`\v`), pattern);
    assert.not.ok(pattern.includes('$'), pattern);
  });
});

s('an unknown resource @type: exit 1, names the item and the type', async () => {
  const text = 'resources:\n- "@type": type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration\n  name: scoped\n';
  await inTempDir({ 'scoped.yaml': text }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'scoped.yaml')]);
    assert.is(run.code, 1);
    assert.ok(run.err.includes('resources[0].@type'), run.err);
    assert.ok(run.err.includes('type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration'), run.err);
  });
});

s('a referenced cluster that is missing: exit 1 naming resource, field and cluster; --partial: exit 0 and reported', async () => {
  const routes = ['{ match: { prefix: / }, route: { cluster: reviews-v9 } }'];
  await inTempDir({ 'routes.yaml': routesFile('r1', routes, false) }, async (dir) => {
    const input = join(dir, 'routes.yaml');
    const run = await failsKeepingOutput(dir, ['translate', input]);
    assert.is(run.code, 1);
    assert.ok(run.err.includes('RouteConfiguration "r1"'), run.err);
    assert.ok(run.err.includes('virtual_hosts[0].routes[0].route.cluster'), run.err);
    assert.ok(run.err.includes('"reviews-v9"'), run.err);

    const partialOutput = join(dir, 'partial.yaml');
    const partial = await cli(['translate', input, '--partial', '--explain', 'json', '-o', partialOutput]);
    assert.is(partial.code, 0, partial.err);
    assert.ok((await readFile(partialOutput, 'utf8')).trimEnd().endsWith('#END'), 'the output is written');
    const records = explainRecords(partial.out);
    assert.ok(
      records.some((r) => r.field === 'virtual_hosts[0].routes[0].route.cluster' && r.reason.includes('reviews-v9')),
      `the missing cluster is reported: ${JSON.stringify(records)}`,
    );
  });
});

s('usage errors: an unknown flag and a bad --format exit 2', async () => {
  await inTempDir({ 'routes.yaml': routesFile('r1', ['{ match: { prefix: / }, route: { cluster: c1 } }']) }, async (dir) => {
    const input = join(dir, 'routes.yaml');
    const unknown = await failsKeepingOutput(dir, ['translate', input, '--no-such-flag']);
    assert.is(unknown.code, 2);
    assert.ok(unknown.err.includes('--no-such-flag'), unknown.err);
    const format = await failsKeepingOutput(dir, ['translate', input, '--format', 'xml']);
    assert.is(format.code, 2);
    assert.ok(format.err.includes('--format') && format.err.includes('xml'), format.err);
  });
});

s('an output that cannot be written: exit 3, and no temp file left', async () => {
  await inTempDir({ 'routes.yaml': routesFile('r1', ['{ match: { prefix: / }, route: { cluster: c1 } }']) }, async (dir) => {
    const output = join(dir, 'apisix.yaml');
    await mkdir(output); // a directory where the file should go
    const run = await cli(['translate', join(dir, 'routes.yaml'), '-o', output]);
    assert.is(run.code, 3, run.err);
    assert.ok(run.err.includes('could not write') && run.err.includes(output), run.err);
    assert.equal((await readdir(dir)).sort(), ['apisix.yaml', 'routes.yaml']);
    assert.equal(await readdir(output), []);
  });
});

interface ExplainRecord {
  readonly resource: { readonly type: string; readonly name: string };
  readonly field: string;
  readonly severity: string;
  readonly reason: string;
}

/** `--explain json` with -o prints the records as a JSON array on stdout, then the summary. */
function explainRecords(out: string): ExplainRecord[] {
  const summaryAt = out.search(/^translated /m);
  assert.ok(summaryAt > 0, `a JSON array then the summary: ${out}`);
  const parsed: unknown = JSON.parse(out.slice(0, summaryAt));
  assert.ok(Array.isArray(parsed), 'a JSON array');
  for (const record of parsed) {
    const r = record as Partial<ExplainRecord>;
    assert.ok(typeof r.resource?.type === 'string' && typeof r.resource.name === 'string', `resource: ${JSON.stringify(record)}`);
    assert.type(r.field, 'string');
    assert.ok(r.severity === 'dropped' || r.severity === 'approximated', `severity: ${JSON.stringify(record)}`);
    assert.ok(typeof r.reason === 'string' && r.reason.length > 0, `reason: ${JSON.stringify(record)}`);
  }
  return parsed as ExplainRecord[];
}

s('success: --example bookinfo -o <dir>/apisix.json writes APISIX JSON; --explain json prints the records', async () => {
  await inTempDir({}, async (dir) => {
    const output = join(dir, 'tmp', 'apisix.json'); // a directory that does not exist yet
    const run = await cli(['translate', '--example', 'bookinfo', '-o', output, '--explain', 'json']);
    assert.is(run.code, 0, run.err);
    const document = JSON.parse(await readFile(output, 'utf8')) as { routes?: { upstream_id?: string }[]; upstreams?: { id: string }[] };
    assert.ok(Array.isArray(document.routes) && document.routes.length > 0, 'routes');
    assert.ok(Array.isArray(document.upstreams) && document.upstreams.length > 0, 'upstreams');
    const upstreamIds = new Set(document.upstreams.map((u) => u.id));
    for (const route of document.routes) if (route.upstream_id !== undefined) assert.ok(upstreamIds.has(route.upstream_id), `route → ${route.upstream_id}`);
    assert.equal(await readdir(join(dir, 'tmp')), ['apisix.json'], 'no temp file left');
    assert.ok(explainRecords(run.out).length > 0, 'bookinfo has fields APISIX cannot carry');
  });
});

s.run();
