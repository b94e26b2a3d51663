// An Any carrying one of the five xDS resource types → the typed resource (or why not).
import { err, ok, type Result } from '../../domain/result.js';
import { TYPE_URL } from './proto/type-urls.js';
import { unpackAny, type AnyLike } from './proto/unpack-any.js';
import type { XdsResource } from './xds-resources.js';

export function xdsResourceFromAny(any: AnyLike): Result<XdsResource, string> {
  const unpacked = unpackAny(any);
  if (unpacked.kind === 'invalid') return err(`cannot decode ${unpacked.typeUrl}: ${unpacked.error}`);
  if (unpacked.kind === 'known') {
    switch (unpacked.typeUrl) {
      case TYPE_URL.Listener:
        return ok({ type: 'Listener', message: unpacked.message });
      case TYPE_URL.RouteConfiguration:
        return ok({ type: 'RouteConfiguration', message: unpacked.message });
      case TYPE_URL.Cluster:
        return ok({ type: 'Cluster', message: unpacked.message });
      case TYPE_URL.ClusterLoadAssignment:
        return ok({ type: 'ClusterLoadAssignment', message: unpacked.message });
      case TYPE_URL.Secret:
        return ok({ type: 'Secret', message: unpacked.message });
    }
  }
  return err(`unknown resource type ${unpacked.typeUrl}`);
}
