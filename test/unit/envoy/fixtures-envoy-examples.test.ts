// Envoy's own example configs (YAML) parse as envoy.config.bootstrap.v3.Bootstrap, Istio's bootstrap goldens
// too, and the file-delivered xDS resources per their @type; counts match ../shared/fixtures/README.md.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import type { Bootstrap } from '../../../src/adapters/envoy/generated/envoy/config/bootstrap/v3/bootstrap.js';
import { Cluster_DiscoveryType, type Cluster } from '../../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { isKnownTypeUrl } from '../../../src/adapters/envoy/proto/message-registry.js';
import { formatProtoJsonErrors, parseProtoJson } from '../../../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL } from '../../../src/adapters/envoy/proto/type-urls.js';
import { fixtureReadmeRows, listFiles, requireShared } from '../../support/shared-fixtures.js';
import { anysIn, rawAnyTypeNames, tally, typeNamesOf } from './any-walk.js';

const shared = requireShared('envoy example / bootstrap fixtures');

function parseBootstrap(json: unknown): Bootstrap {
  const r = parseProtoJson('envoy.config.bootstrap.v3.Bootstrap', json);
  if (!r.ok) throw new Error(formatProtoJsonErrors(r.error, 10));
  return r.value;
}

/** "listeners / clusters / virtual hosts / routes" as the README counts them (inline route configs). */
function counts(b: Bootstrap): string {
  const listeners = b.staticResources?.listeners ?? [];
  const hcms = [...anysIn(listeners)].flatMap((u) => (u.kind === 'known' && u.typeUrl === TYPE_URL.HttpConnectionManager ? [u.message] : []));
  const vhosts = hcms.flatMap((h) => (h.routeSpecifier?.$case === 'routeConfig' ? h.routeSpecifier.value.virtualHosts : []));
  const routes = vhosts.flatMap((v) => v.routes);
  return `${listeners.length} / ${b.staticResources?.clusters.length ?? 0} / ${vhosts.length} / ${routes.length}`;
}

/** "STATIC, STRICT_DNS×2" -> sorted list of discovery types; absent type means STATIC, as in Envoy. */
function clusterTypes(clusters: Cluster[]): string[] {
  return clusters.map((c) => (c.clusterDiscoveryType?.$case === 'type' ? Cluster_DiscoveryType[c.clusterDiscoveryType.value] : (c.clusterDiscoveryType?.$case ?? 'STATIC'))).sort();
}
const expandTypes = (cell: string): string[] =>
  cell === '—'
    ? []
    : cell
        .split(', ')
        .flatMap((t) => {
          const [name = '', n = '1'] = t.split('×');
          return Array<string>(Number(n)).fill(name);
        })
        .sort();

if (shared) {
  const fixtures = path.join(shared, 'fixtures');
  const rows = fixtureReadmeRows(shared);
  const read = (rel: string) => fs.readFileSync(path.join(fixtures, rel), 'utf8');
  const examples = listFiles(path.join(fixtures, 'envoy-examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `envoy-examples/${f}`);
  const xdsFiles = examples.filter((f) => f.startsWith('envoy-examples/dynamic-config-fs/configs/'));
  const bootstraps = examples.filter((f) => !xdsFiles.includes(f));

  test('every example YAML has a README row, and vice versa', () => {
    assert.equal(examples, [...rows.keys()].filter((k) => k.startsWith('envoy-examples/') && k.endsWith('.yaml')).sort());
    assert.is(bootstraps.length, 43);
    assert.equal(xdsFiles, ['envoy-examples/dynamic-config-fs/configs/cds.yaml', 'envoy-examples/dynamic-config-fs/configs/lds.yaml']);
  });

  for (const rel of bootstraps) {
    test(`${rel} parses as Bootstrap with the README's counts`, () => {
      const json: unknown = YAML.parse(read(rel));
      const b = parseBootstrap(json);
      const [, countsCell, typesCell] = rows.get(rel) ?? [];
      assert.is(counts(b), countsCell);
      assert.equal(clusterTypes(b.staticResources?.clusters ?? []), expandTypes(typesCell ?? ''));
      assert.equal(tally(typeNamesOf(anysIn(b))), tally(rawAnyTypeNames(json)));
    });
  }

  test('dynamic-config-fs resources parse per @type', () => {
    const names: string[] = [];
    for (const rel of xdsFiles) {
      const doc = YAML.parse(read(rel)) as { resources: Array<{ '@type': string }> };
      assert.is(doc.resources.length, 1, rel);
      for (const { '@type': typeUrl, ...resource } of doc.resources) {
        if (!isKnownTypeUrl(typeUrl)) return assert.unreachable(`unknown resource type ${typeUrl}`);
        const r = parseProtoJson(typeUrl, resource);
        if (!r.ok) return assert.unreachable(formatProtoJsonErrors(r.error));
        names.push(`${typeUrl.split('.').pop()} ${(r.value as { name: string }).name}`);
      }
    }
    assert.equal(names, ['Cluster example_proxy_cluster', 'Listener listener_0']);
    // lds.yaml writes `filters:` as a single object, not a list; Envoy (and we) take it as one element.
    const lds = YAML.parse(read(xdsFiles[1]!)) as { resources: Array<{ '@type': string }> };
    const { '@type': _, ...listener } = lds.resources[0]!;
    const r = parseProtoJson(TYPE_URL.Listener, listener);
    assert.ok(r.ok && r.value.filterChains[0]?.filters.length === 1);
  });

  const goldens = listFiles(path.join(fixtures, 'istio/pkg/bootstrap/testdata')).filter((f) => f.endsWith('_golden.json'));
  // These two set Bootstrap.stats_eviction_interval, newer than the Envoy API in @grpc/grpc-js-xds 1.14.1.
  const NEWER_THAN_OUR_PROTOS = new Set(['stats_eviction_interval_golden.json', 'stats_interval_golden.json']);

  test('Istio bootstrap goldens: all 30 are in the README', () => {
    assert.is(goldens.length, 30);
    for (const g of goldens) assert.ok(rows.has(`istio/pkg/bootstrap/testdata/${g}`), g);
  });

  for (const g of goldens) {
    const rel = `istio/pkg/bootstrap/testdata/${g}`;
    if (NEWER_THAN_OUR_PROTOS.has(g)) {
      test(`${rel} is rejected only for the field our protos lack`, () => {
        const r = parseProtoJson(TYPE_URL.Bootstrap, JSON.parse(read(rel)));
        assert.equal(r.ok ? [] : r.error, [
          {
            path: 'stats_eviction_interval',
            message: 'unknown field "stats_eviction_interval" in envoy.config.bootstrap.v3.Bootstrap',
          },
        ]);
      });
      continue;
    }
    test(`${rel} parses as Bootstrap with the README's node / listeners / clusters`, () => {
      const json: unknown = JSON.parse(read(rel));
      const b = parseBootstrap(json);
      const [, cell] = rows.get(rel) ?? [];
      const metadataKeys = Object.keys(b.node?.metadata ?? {}).length;
      const summary = `${b.node?.cluster} / ${metadataKeys} / ${b.staticResources?.listeners.length} / ${b.staticResources?.clusters.length}`;
      assert.is(summary, cell?.replaceAll('`', ''));
      assert.is(b.node?.id, 'sidecar~1.2.3.4~foo~bar');
      assert.is(b.dynamicResources?.adsConfig?.apiType !== undefined, true);
      assert.equal(tally(typeNamesOf(anysIn(b))), tally(rawAnyTypeNames(json)));
    });
  }
}

test.run();
