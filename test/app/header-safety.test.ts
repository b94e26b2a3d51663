// Issue 12, item 3: CR, LF or NUL in a header name or value (or in text that becomes a header: a
// redirect's location, a host rewrite, a domain) would reach nginx as header injection. Envoy refuses
// them; so do we: `amesh translate` exits 1 naming the resource and field, and the sidecar NACKs the
// xDS response naming them, keeping the last good configuration at its sinks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import { runCli } from '../../src/app/cli.js';
import type { Logger } from '../../src/ports/logger.js';
import { plainNode, startMeshSidecar, until } from '../support/mesh-sidecar.js';
import { bookinfoFixture, RDS, serve } from '../support/xds-fixtures.js';

const s = suite('header injection refused');
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const CLUSTER = `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: c1
  type: STATIC
  connect_timeout: 1s
  load_assignment: { cluster_name: c1, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } } }] }] }
`;
/** RouteConfiguration `r` with one virtual host; `vhost` and `route` are extra YAML flow fields (JSON-escaped text inside). */
const routes = (vhost: string, route: string, action = 'route: { cluster: c1 }'): string => `resources:
${CLUSTER}- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r
  virtual_hosts:
  - { name: vh, domains: ["*"]${vhost ? `, ${vhost}` : ''}, routes: [{ match: { prefix: / }, ${action}${route ? `, ${route}` : ''} }] }
`;

const cases: [string, string, RegExp][] = [
  [
    'CRLF in a response header value',
    routes('', 'response_headers_to_add: [{ header: { key: x-a, value: "ok\\r\\nSet-Cookie: session=stolen" } }]'),
    /field virtual_hosts\[0\]\.routes\[0\]\.response_headers_to_add\[0\]\.header\.value: "ok\\r\\nSet-Cookie: session=stolen" contains CR at 2/,
  ],
  [
    'LF in a request header name',
    routes('', 'request_headers_to_add: [{ header: { key: "x-a\\nx-b", value: v } }]'),
    /field virtual_hosts\[0\]\.routes\[0\]\.request_headers_to_add\[0\]\.header\.key: .* contains LF/,
  ],
  [
    'NUL in a virtual host header value',
    routes('response_headers_to_add: [{ header: { key: x-a, value: "a\\u0000b" } }]', ''),
    /field virtual_hosts\[0\]\.response_headers_to_add\[0\]\.header\.value: "a\\x00b" contains NUL/,
  ],
  ['CR in a header to remove', routes('', 'response_headers_to_remove: ["x-a\\r"]'), /field virtual_hosts\[0\]\.routes\[0\]\.response_headers_to_remove\[0\]: .* contains CR/],
  [
    'LF in a redirect path',
    routes('', '', 'redirect: { path_redirect: "/a\\nLocation: http://evil" }'),
    /field virtual_hosts\[0\]\.routes\[0\]\.redirect\.path_redirect: .* contains LF/,
  ],
  [
    'CRLF in a host rewrite',
    routes('', '', 'route: { cluster: c1, host_rewrite_literal: "a\\r\\nx: y" }'),
    /field virtual_hosts\[0\]\.routes\[0\]\.route\.host_rewrite_literal: .* contains CR/,
  ],
  [
    'LF in a header matcher name',
    routes('', '').replace('match: { prefix: / }', 'match: { prefix: /, headers: [{ name: "x\\ny", present_match: true }] }'),
    /field virtual_hosts\[0\]\.routes\[0\]\.match\.headers\[0\]\.name: .* contains LF/,
  ],
];

s('amesh translate: exit 1, one line naming the resource and the field; nothing written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-header-safety-'));
  try {
    for (const [what, text, expected] of cases) {
      await writeFile(join(dir, 'in.yaml'), text);
      let out = '';
      let err = '';
      const code = await runCli(['translate', join(dir, 'in.yaml')], { out: (t) => void (out += t), err: (t) => void (err += t) }, { logger: quiet });
      assert.is(code, 1, `${what}: ${err}`);
      assert.is(out, '', `${what}: nothing on stdout`);
      assert.match(err, /^error: \S*in\.yaml: RouteConfiguration "r" field /, what);
      assert.match(err, expected, `${what}: ${err}`);
      assert.is(err.trimEnd().split('\n').length, 1, `${what}: one line: ${JSON.stringify(err)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('the sidecar NACKs an RDS response with CRLF in a header value, naming the field; the sinks keep the last good routes', async () => {
  const server = new XdsServer({ stopGraceMs: 100 });
  const address = await server.start('127.0.0.1:0');
  serve(server, bookinfoFixture());
  const sidecar = await startMeshSidecar({ target: address, mode: 'sotw', node: plainNode('sidecar~10.244.0.7~productpage-v1.default~default.svc.cluster.local') });
  try {
    await until(() => sidecar.app.sync.state.ready, 'the first apply');
    const applied = sidecar.sink.history.length;
    const headerOf = (): unknown =>
      JSON.stringify(
        sidecar.sink.history
          .at(-1)!
          .config.ofKind('routes')
          .map((r) => r.value.plugins),
      );
    const before = headerOf();
    const since = server.requests.length;
    server.setResources(RDS, bookinfoFixture((yaml) => yaml.replace('value: amesh }', 'value: "amesh\\r\\nSet-Cookie: a=b" }'))[RDS]);
    const nack = await server.waitFor((e) => e.typeUrl === RDS && e.nack !== undefined, 5000, { since });
    assert.match(
      nack.nack!.message,
      /RouteConfiguration "9080" field virtual_hosts\[\d+\]\.routes\[0\]\.response_headers_to_add\[0\]\.header\.value: "amesh\\r\\nSet-Cookie: a=b" contains CR/,
    );
    assert.is(sidecar.sink.history.length, applied, 'nothing applied');
    assert.is(headerOf(), before);
  } finally {
    await sidecar.stop();
    await server.stop();
  }
});

s.run();
