// What a per-object APISIX target (the Admin API, etcd) offers the sink that keeps it in step: list
// what is there, and write one phase of puts and deletes. Failures are values, told apart by whether
// trying again later can help (a target that is down) or not (a body the target refuses).
import type { GatewayKind, GatewayObject } from '../../domain/gateway-config.js';
import type { JsonObject } from '../../domain/json.js';

export interface StoredObject {
  readonly kind: GatewayKind;
  readonly id: string;
  /** As the target holds it (server-side fields such as create_time included). */
  readonly value: JsonObject;
}

export type StoreOp =
  | { readonly op: 'put'; readonly key: string; readonly object: GatewayObject; /** create_time of the object being replaced. */ readonly createTime: number | undefined }
  | { readonly op: 'delete'; readonly key: string; readonly kind: GatewayKind; readonly id: string };

export type StoreFailure = {
  readonly ok: false;
  readonly transient: boolean;
  readonly reason: string;
  /** The target validated the object and refused it: the configuration is at fault (see ApplyFailure.rejected). */
  readonly rejected?: true;
};
export type OpOutcome = { readonly ok: true; readonly createTime?: number } | StoreFailure;
export type ListOutcome =
  | {
      readonly ok: true;
      readonly objects: readonly StoredObject[];
      /**
       * Kinds the target refuses altogether as it is set up, with its message (APISIX's Admin API answers
       * every stream_routes request with a 400 while stream mode is off). Nothing of them is listed.
       */
      readonly closed?: ReadonlyMap<GatewayKind, string>;
    }
  | StoreFailure;

export interface ObjectStore {
  /** For logs and ApplyResult; never holds credentials. */
  readonly target: string;
  /** Lists `kinds` (default: every kind). */
  list(kinds?: readonly GatewayKind[]): Promise<ListOutcome>;
  /** One phase: objects of one kind, none referencing another. Outcomes in the order of `ops`. */
  write(ops: readonly StoreOp[]): Promise<OpOutcome[]>;
  /** The part of a stored value that is compared with the desired one (server-side fields dropped). */
  comparable(kind: GatewayKind, value: JsonObject): JsonObject;
  close(): void;
}

/** Fields APISIX's Admin API adds to every stored object. */
export function withoutTimestamps(value: JsonObject): JsonObject {
  if (!('create_time' in value) && !('update_time' in value)) return value;
  const { create_time: _created, update_time: _updated, ...rest } = value;
  return rest;
}
