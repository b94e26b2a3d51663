// streamDocument: a config dump is checked whole up front (every field error at once), then its resources
// are typed one at a time as they are iterated; errors met on the way are complete once iteration is.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourcesOfDocument, streamDocument } from '../../../src/adapters/envoy/config-document.js';
import { TYPE_URL } from '../../../src/adapters/envoy/proto/type-urls.js';

const cluster = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  '@type': TYPE_URL.Cluster,
  name,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  ...extra,
});
const dump = (...clusters: unknown[]): unknown => ({
  configs: [{ '@type': TYPE_URL.ClustersConfigDump, dynamic_active_clusters: clusters.map((c) => ({ cluster: c })), dynamic_warming_clusters: [{}] }],
});

const s = suite('streamDocument');

s('a config dump: resources come typed one at a time; an error further on is known only once reached', () => {
  const stream = streamDocument(dump(cluster('a'), { '@type': TYPE_URL.Listener, name: 'not-a-cluster-but-valid' }, { '@type': 'type.googleapis.com/example.Unknown' }));
  if (!stream.ok) throw new Error('the dump is well-formed');
  const iterator = stream.value.resources[Symbol.iterator]();
  const first = iterator.next();
  assert.is(first.done, false);
  assert.is(first.value?.type === 'Cluster' && first.value.message.name, 'a');
  assert.equal(stream.value.errors, [], 'nothing past the first resource has been typed yet');
  assert.is(iterator.next().value?.type, 'Listener');
  assert.is(iterator.next().done, true);
  assert.equal(stream.value.errors, [{ path: 'configs[0].dynamic_active_clusters[2].cluster', message: 'unknown resource type type.googleapis.com/example.Unknown' }]);
  assert.equal(stream.value.skipped, ['configs[0].dynamic_warming_clusters']);
});

s('a config dump with field errors fails before any resource is typed, naming every error', () => {
  const stream = streamDocument(dump(cluster('a', { connect_timeout: 5 }), cluster('b', { lb_policy: 'NOPE' })));
  assert.is(stream.ok, false);
  if (stream.ok) return;
  assert.equal(
    stream.error.map((e) => e.path),
    ['configs[0].dynamic_active_clusters[0].cluster.connect_timeout', 'configs[0].dynamic_active_clusters[1].cluster.lb_policy'],
  );
});

s('resourcesOfDocument collects the stream: the same resources, or the errors met on the way', () => {
  const good = resourcesOfDocument(dump(cluster('a'), cluster('b')));
  assert.equal(good.ok && good.value.resources.map((r) => r.type === 'Cluster' && r.message.name), ['a', 'b']);
  const bad = resourcesOfDocument({ resources: [cluster('a'), { name: 'no-type' }] });
  assert.equal(!bad.ok && bad.error, [{ path: 'resources[1].@type', message: 'missing @type' }]);
});

s('a TypedStruct-wrapped section streams like a plain one', () => {
  const { '@type': _type, ...body } = cluster('wrapped');
  const stream = streamDocument({
    configs: [{ '@type': TYPE_URL.UdpaTypedStruct, type_url: TYPE_URL.ClustersConfigDump, value: { static_clusters: [{ cluster: { '@type': TYPE_URL.Cluster, ...body } }] } }],
  });
  if (!stream.ok) throw new Error(JSON.stringify(stream.error));
  assert.equal(
    [...stream.value.resources].map((r) => r.type === 'Cluster' && r.message.name),
    ['wrapped'],
  );
  assert.equal(stream.value.errors, []);
});

s.run();
