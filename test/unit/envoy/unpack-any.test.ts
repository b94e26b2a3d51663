// The binary path: Any / xDS resource bytes -> generated messages, errors as values, never a throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { Router } from '../../../src/adapters/envoy/generated/envoy/extensions/filters/http/router/v3/router.js';
import { TypedStruct as UdpaTypedStruct } from '../../../src/adapters/envoy/generated/udpa/type/v1/typed_struct.js';
import { TypedStruct as XdsTypedStruct } from '../../../src/adapters/envoy/generated/xds/type/v3/typed_struct.js';
import { decodeResource, MESSAGE_CODECS } from '../../../src/adapters/envoy/proto/message-registry.js';
import { TYPE_URL, typeNameOf, XDS_RESOURCE_TYPE_URLS } from '../../../src/adapters/envoy/proto/type-urls.js';
import { unpackAny } from '../../../src/adapters/envoy/proto/unpack-any.js';
import { descriptorRegistry } from '../../../src/adapters/envoy/proto/proto-json.js';

const cluster = Cluster.fromPartial({
  name: 'outbound|80||a.default.svc.cluster.local',
  connectTimeout: { seconds: 10, nanos: 0 },
});
const clusterBytes = Cluster.encode(cluster).finish();

test('every registered type URL names a message in the descriptor set, and the xDS five are registered', () => {
  for (const url of Object.keys(MESSAGE_CODECS)) {
    assert.ok(descriptorRegistry().getMessage(typeNameOf(url) ?? ''), url);
  }
  for (const url of XDS_RESOURCE_TYPE_URLS) assert.ok(url in MESSAGE_CODECS, url);
});

test('decodeResource round-trips wire bytes and reports garbage as a value', () => {
  assert.equal(decodeResource(TYPE_URL.Cluster, clusterBytes), { ok: true, value: cluster });
  const bad = decodeResource(TYPE_URL.Cluster, Uint8Array.of(0x0a, 0x05, 0x61));
  assert.is(bad.ok, false);
  if (!bad.ok) assert.is(bad.error.typeUrl, TYPE_URL.Cluster);
});

test('unpackAny: known, opaque, invalid; a non-default type URL prefix is accepted', () => {
  const known = unpackAny({ typeUrl: TYPE_URL.Cluster, value: clusterBytes });
  assert.equal(known, { kind: 'known', typeUrl: TYPE_URL.Cluster, message: cluster });
  const prefixed = unpackAny({ typeUrl: 'example.com/types/envoy.config.cluster.v3.Cluster', value: clusterBytes });
  assert.is(prefixed.kind === 'known' && prefixed.typeUrl, TYPE_URL.Cluster);
  assert.equal(
    unpackAny({
      typeUrl: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
      value: Uint8Array.of(1, 2, 3),
    }),
    {
      kind: 'opaque',
      typeUrl: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
    },
  );
  const truncated = unpackAny({ typeUrl: TYPE_URL.Cluster, value: clusterBytes.subarray(0, 5) });
  assert.is(truncated.kind, 'invalid');
  assert.is(unpackAny({ typeUrl: '', value: new Uint8Array() }).kind, 'invalid');
});

test('unpackAny narrows: comparing typeUrl with a TYPE_URL constant types the message', () => {
  const u = unpackAny({ typeUrl: TYPE_URL.Cluster, value: clusterBytes });
  if (u.kind === 'known' && u.typeUrl === TYPE_URL.Cluster) {
    const name: string = u.message.name; // Cluster, not a union: this line would not compile otherwise
    assert.is(name, cluster.name);
  } else {
    assert.unreachable('known Cluster expected');
  }
});

test('TypedStruct (udpa and xds) of a known type becomes that message through the JSON path', () => {
  for (const [codec, wrapper] of [
    [UdpaTypedStruct, TYPE_URL.UdpaTypedStruct],
    [XdsTypedStruct, TYPE_URL.XdsTypedStruct],
  ] as const) {
    const value = codec.encode({ typeUrl: TYPE_URL.Router, value: { suppress_envoy_headers: true, start_child_span: false } }).finish();
    assert.equal(unpackAny({ typeUrl: wrapper, value }), {
      kind: 'known',
      typeUrl: TYPE_URL.Router,
      message: Router.fromPartial({ suppressEnvoyHeaders: true, startChildSpan: false }),
    });
  }
});

test('TypedStruct of an unknown type is opaque with the inner type URL; bad inner JSON is invalid', () => {
  const opaque = UdpaTypedStruct.encode({
    typeUrl: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
    value: { upstream_discovery: [] },
  }).finish();
  assert.equal(unpackAny({ typeUrl: TYPE_URL.UdpaTypedStruct, value: opaque }), {
    kind: 'opaque',
    typeUrl: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
    wrappedIn: TYPE_URL.UdpaTypedStruct,
  });
  const invalid = XdsTypedStruct.encode({
    typeUrl: TYPE_URL.Router,
    value: { suppress_envoy_headers: 'yes' },
  }).finish();
  assert.equal(unpackAny({ typeUrl: TYPE_URL.XdsTypedStruct, value: invalid }), {
    kind: 'invalid',
    typeUrl: TYPE_URL.Router,
    error: 'in xds.type.v3.TypedStruct: suppress_envoy_headers: expected boolean, got string',
  });
});

test.run();
