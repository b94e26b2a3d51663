// Issue 12, items 4, 6 and 13 through `amesh translate`: values Envoy refuses fail the run (exit 1)
// naming the resource and field; values Envoy takes but APISIX cannot carry are adapted and
// reported; regexes PCRE would backtrack on catastrophically are refused, the rest rewritten.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import type { Logger } from '../../src/ports/logger.js';
import { requireShared } from '../support/shared-fixtures.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function translate(text: string, ...flags: string[]): Promise<Run & { output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-values-'));
  try {
    await writeFile(join(dir, 'in.yaml'), text);
    let out = '';
    let err = '';
    const output = join(dir, 'apisix.json');
    const code = await runCli(['translate', join(dir, 'in.yaml'), '-o', output, ...flags], { out: (t) => void (out += t), err: (t) => void (err += t) }, { logger: quiet });
    return { code, out, err, output: code === 0 ? await readFile(output, 'utf8') : '' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cluster = (
  name: string,
  options: { type?: string; timeout?: string; address?: string; port?: number } = {},
): string => `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: ${name}
  type: ${options.type ?? 'STATIC'}
  connect_timeout: ${options.timeout ?? '1s'}
  load_assignment: { cluster_name: ${name}, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "${options.address ?? '10.0.0.1'}", port_value: ${options.port ?? 80} } } } }] }] }
`;

const routes = (items: readonly string[], clusters: string = cluster('c1')): string => `resources:
${clusters}- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r1
  virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
${items.map((r) => `    - ${r}\n`).join('')}`;

const fails = (run: Run, field: RegExp): void => {
  assert.is(run.code, 1, run.err);
  assert.match(run.err, field);
};

const s = suite('amesh translate: values Envoy refuses or APISIX cannot carry');

s('a negative or zero connect_timeout: exit 1, names the cluster and field', async () => {
  for (const timeout of ['-1s', '0s']) {
    fails(await translate(`resources:\n${cluster('c1', { timeout })}`), /Cluster "c1" field connect_timeout: /);
  }
});

s('a negative route timeout: exit 1, names the route field', async () => {
  fails(
    await translate(routes(['{ match: { prefix: / }, route: { cluster: c1, timeout: -5s } }'])),
    /RouteConfiguration "r1" field virtual_hosts\[0\]\.routes\[0\]\.route\.timeout: negative duration/,
  );
});

s('an endpoint port over 65535: exit 1; port 0: the endpoint is left out and reported', async () => {
  fails(
    await translate(`resources:\n${cluster('c1', { port: 70000 })}`),
    /Cluster "c1" field load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: port 70000/,
  );
  const zero = await translate(`resources:\n${cluster('c1', { port: 0 })}${cluster('c2')}`, '--explain', 'json');
  assert.is(zero.code, 0, zero.err);
  assert.match(zero.out, /socket_address\.port_value/);
  assert.not.ok(zero.output.includes('"port":0'), zero.output);
});

s('an endpoint host that is not a host: exit 1 for STATIC (Envoy wants an IP), left out and reported for STRICT_DNS', async () => {
  fails(await translate(`resources:\n${cluster('c1', { address: 'backend.example' })}`), /socket_address\.address: "backend\.example" is not an IP address/);
  const dns = await translate(
    `resources:\n${cluster('c1', { type: 'STRICT_DNS', address: 'http://backend/x' })}${cluster('c2', { type: 'STRICT_DNS', address: 'backend.example' })}`,
    '--explain',
    'json',
  );
  assert.is(dns.code, 0, dns.err);
  assert.match(dns.out, /is not a host name/);
  assert.not.ok(dns.output.includes('http://backend'), 'the bad host reaches no APISIX object');
  assert.ok(dns.output.includes('backend.example'));
});

s('a Secret whose certificate is not PEM: exit 1, names the secret and field', async () => {
  const secret = (chain: string): string => `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: cert
  tls_certificate: { certificate_chain: { inline_string: "${chain}" }, private_key: { inline_string: "k" } }
`;
  fails(await translate(secret('not a certificate')), /Secret "cert" field tls_certificate\.certificate_chain: not a PEM certificate/);
  const ca = `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: ca
  validation_context: { trusted_ca: { inline_string: "-----BEGIN CERTIFICATE-----\\n%%%\\n-----END CERTIFICATE-----\\n" } }
`;
  fails(await translate(ca), /Secret "ca" field validation_context\.trusted_ca: a PEM certificate block is not base64/);
});

s("more weighted clusters than APISIX's traffic-split takes: the heaviest 20 are kept, the others reported", async () => {
  const names = Array.from({ length: 25 }, (_, i) => `w${i}`);
  const weighted = names.map((n, i) => `{ name: ${n}, weight: ${i === 3 ? 1 : 10} }`).join(', ');
  const run = await translate(
    routes([`{ match: { prefix: / }, route: { weighted_clusters: { clusters: [${weighted}] } } }`], names.map((n) => cluster(n)).join('')),
    '--explain',
    'json',
  );
  assert.is(run.code, 0, run.err);
  const document = JSON.parse(run.output) as { routes: { plugins?: { 'traffic-split'?: { rules: { weighted_upstreams: unknown[] }[] } } }[] };
  const split = document.routes.flatMap((r) => r.plugins?.['traffic-split']?.rules ?? []);
  assert.equal(
    split.map((rule) => rule.weighted_upstreams.length),
    [20],
  );
  const dropped: string[] = run.out.match(/weighted_clusters\.clusters\[\d+\]/g) ?? [];
  assert.is(new Set(dropped).size, 5, run.out);
  assert.ok(dropped.includes('weighted_clusters.clusters[3]'), 'the lightest is left out');
});

s('weighted clusters whose weights sum to 0: exit 1', async () => {
  fails(
    await translate(routes(['{ match: { prefix: / }, route: { weighted_clusters: { clusters: [{ name: c1, weight: 0 }] } } }'])),
    /weighted_clusters\.clusters: the sum of the weights must be greater than 0/,
  );
});

s('regexes: what PCRE would backtrack on exponentially is refused naming the field, the rest is rewritten; a 100k-character regex is refused', async () => {
  fails(
    await translate(routes(["{ match: { safe_regex: { regex: '(x+x+)+y' } }, route: { cluster: c1 } }"])),
    /virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: regex "\(x\+x\+\)\+y" can make APISIX's PCRE backtrack exponentially/,
  );
  fails(
    await translate(routes([`{ match: { safe_regex: { regex: '/${'a'.repeat(100_000)}' } }, route: { cluster: c1 } }`])),
    /match\.safe_regex\.regex: regex "\/a+"… \(100001 characters\) has an RE2 program size of about \d+, over the 32768/,
  );
  const rewritten = await translate(
    routes([
      "{ match: { safe_regex: { regex: '/(a+)+$' } }, route: { cluster: c1 } }",
      "{ match: { prefix: / }, route: { cluster: c1, regex_rewrite: { pattern: { regex: '^/(x|xx)+/' }, substitution: / } } }",
    ]),
  );
  assert.is(rewritten.code, 0, rewritten.err);
  assert.ok(rewritten.output.includes(JSON.stringify('^(?:/a+\\z)\\z')), rewritten.output);
  assert.ok(rewritten.output.includes(JSON.stringify('^/(x|xx)++/')), rewritten.output);
  const cubic = await translate(
    routes(["{ match: { prefix: / }, route: { cluster: c1, regex_rewrite: { pattern: { regex: '^/(.*)/(.*)/(.*)$' }, substitution: / } } }"]),
    '--explain',
    'json',
  );
  assert.is(cubic.code, 0, 'polynomial backtracking is reported, not refused');
  assert.match(cubic.out, /"field": "[^"]*route\.regex_rewrite\.pattern\.regex",\s*"severity": "approximated",\s*"reason": "[^"]*O\(n\^3\)/);
});

const shared = requireShared("Envoy's route-mirror example");
if (shared) {
  s("Envoy's route-mirror example translates: a mirror named by a request header is reported as dropped", async () => {
    const text = await readFile(join(shared, 'fixtures/envoy-examples/route-mirror/envoy.yaml'), 'utf8');
    const run = await translate(text, '--explain', 'json');
    assert.is(run.code, 0, run.err);
    assert.match(run.out, /routes\[1\]\.route\.request_mirror_policies\[0\]\.cluster_header/);
    assert.ok(run.output.includes('proxy-mirror'), 'the cluster mirror of the first route is kept');
  });
}

s.run();
