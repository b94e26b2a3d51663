// Issue 12 item 4 through a real APISIX 3.18: a route regex RE2 runs in linear time,
// `/((a+)+b|a*c)`, translated and served by APISIX (ngx.re, PCRE with JIT). Printed as RE2 wrote it,
// PCRE reaches its match limit in the first alternative on /aaa…ac (40 a's) and the route does not
// match the path Envoy sends to it; translated, the route matches it, and a path it does not match
// goes on to the next route. Runs on the first APISIX build present.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { translateSnapshot } from '../../src/adapters/apisix/translate.js';
import { FileConfigSink } from '../../src/adapters/file-sink/file-sink.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import { ApisixInstance, apisixBuilds, NOBODY_GROUP } from '../support/real-apisix.js';
import { deliver, deliverable, rawRequest, ROUTE_HEADER } from '../support/real-first-match.js';
import { routeOf, snapshotOf, tableOf, virtualHostOf } from '../support/route-generators.js';

const { builds, missing } = apisixBuilds();
for (const reason of missing) console.log(`real APISIX regex backtracking: skipped: ${reason}`);
const build = builds[0];
const HTTP_PORT = 9080;

if (build) {
  const s = suite(`real APISIX 3.18 (${build.name} nginx): a regex PCRE would backtrack on`);

  s('/((a+)+b|a*c): the route takes /aaa…ac as Envoy does; /aaa…a! goes on to the next route', async () => {
    const backend = createServer((_req, res) => void res.end('backend'));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const instance = await ApisixInstance.start({ build, mode: { kind: 'yaml' }, httpPorts: [HTTP_PORT] });
    try {
      const table = tableOf(String(HTTP_PORT), [virtualHostOf('any', ['*'], [routeOf({ path: { kind: 'regex', regex: '/((a+)+b|a*c)' } }), routeOf({})])]);
      const translated = translateSnapshot(snapshotOf([{ table, ports: [HTTP_PORT] }]));
      assert.ok(translated.ok, JSON.stringify(!translated.ok && translated.error));
      if (!translated.ok) return;
      const routes = translated.value.config.ofKind('routes').map((o) => ({ id: o.id, text: JSON.stringify(o.value) }));
      const regexRoute = routes.find((r) => r.text.includes('a+'))!;
      const fallback = routes.find((r) => r !== regexRoute)!;
      const config = deliverable(translated.value.config, { host: '127.0.0.1', port: (backend.address() as AddressInfo).port });
      await deliver(new FileConfigSink({ path: instance.configFile, group: String(NOBODY_GROUP) }), GatewayConfig.empty(), config, instance.ip, HTTP_PORT);

      const get = (path: string) => rawRequest(instance.ip, { port: HTTP_PORT, host: 'svc.example', path, method: 'GET', headers: {} });
      const match = await get('/aaab');
      assert.is(match.headers.get(ROUTE_HEADER), regexRoute.id, 'the regex route takes /aaab');
      const adversarial = await get(`/${'a'.repeat(40)}c`);
      assert.is(adversarial.headers.get(ROUTE_HEADER), regexRoute.id, "the regex route takes /aaa…ac (40 a's)");
      const other = await get(`/${'a'.repeat(40)}!`);
      assert.is(other.status, 200);
      assert.is(other.headers.get(ROUTE_HEADER), fallback.id, 'the next route takes the path the regex does not match');
      const pcreErrors = (await instance.errorLog()).split('\n').filter((line) => /pcre|match limit|regex/i.test(line));
      assert.equal(pcreErrors, [], 'no PCRE error in error.log');
    } finally {
      await instance.stop();
      backend.close();
    }
  });

  s.run();
}
