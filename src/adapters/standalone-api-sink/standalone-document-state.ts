// What an API-driven standalone APISIX (≥ 3.13) holds, and the next body for PUT /apisix/admin/configs.
//
// APISIX keeps a kind's stored items when the body repeats its `<kind>_conf_version`, replaces them when
// the version grows, and keeps an item whose `modifiedIndex` equals the stored one. So: a kind's
// version moves only when the kind changed, an item's modifiedIndex only when the item changed, and
// X-Digest is a hash of the content (not of the versions), so an unchanged configuration needs no request.
import { createHash } from 'node:crypto';
import { GATEWAY_KINDS, objectKey, type GatewayConfig, type GatewayKind } from '../../domain/gateway-config.js';
import { canonicalJson, type JsonObject, type JsonValue } from '../../domain/json.js';
import { OWNER_LABEL, OWNER_VALUE } from '../apisix/translate.js';

const CONF_VERSION = '_conf_version';

interface Fingerprint {
  readonly canonical: string;
  /** 2 × 32 bits of sha256(key + canonical): summed (order-free) into the content digest. */
  readonly high: number;
  readonly low: number;
}

/**
 * Per object value: the translator hands the same value objects on for unchanged objects, so an apply
 * canonicalises and hashes only what is new.
 */
const fingerprints = new WeakMap<JsonObject, Fingerprint>();

function fingerprintOf(key: string, value: JsonObject): Fingerprint {
  const known = fingerprints.get(value);
  if (known) return known;
  const canonical = canonicalJson(value);
  const hash = createHash('sha256').update(key).update('\u0000').update(canonical).digest();
  const fingerprint = { canonical, high: hash.readUInt32BE(0), low: hash.readUInt32BE(4) };
  fingerprints.set(value, fingerprint);
  return fingerprint;
}
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const isOwned = (value: JsonObject): boolean => isObject(value.labels) && value.labels[OWNER_LABEL] === OWNER_VALUE;

interface StoredItem {
  readonly canonical: string;
  readonly modifiedIndex: number;
}

export interface StandaloneBody {
  /** Built only when it is sent: copying every object costs more than deciding that nothing changed. */
  render(): JsonObject;
  readonly digest: string;
  /** Desired objects left out because a foreign object holds their id. */
  readonly conflicts: readonly string[];
  /** The state to remember once APISIX accepted the body. */
  readonly next: StandaloneState;
}

export class StandaloneState {
  private constructor(
    /** Every `<kind>_conf_version` the target reported, managed kinds or not. */
    readonly versions: Readonly<Record<string, number>>,
    /** Owned items of the managed kinds, keyed kind/id. */
    readonly items: ReadonlyMap<string, StoredItem>,
    /** Items without the ownership label: carried along unchanged, never dropped. */
    readonly foreign: ReadonlyMap<GatewayKind, readonly JsonObject[]>,
    readonly digest: string | undefined,
  ) {}

  /**
   * From the answer to GET /apisix/admin/configs. Items are this agent's when labelled, or when it put
   * them itself (`ours`), so that objects without the label are not mistaken for foreign after a re-read.
   */
  static fromStored(body: JsonValue, ours: ReadonlySet<string> = new Set()): StandaloneState {
    const versions: Record<string, number> = {};
    const items = new Map<string, StoredItem>();
    const foreign = new Map<GatewayKind, JsonObject[]>();
    if (!isObject(body)) return new StandaloneState(versions, items, foreign, undefined);
    for (const [key, value] of Object.entries(body)) if (key.endsWith(CONF_VERSION) && typeof value === 'number') versions[key] = value;
    for (const kind of GATEWAY_KINDS) {
      const list = body[kind];
      for (const item of Array.isArray(list) ? list : []) {
        if (!isObject(item)) continue;
        const { modifiedIndex, ...value } = item;
        if (!isOwned(value) && !ours.has(objectKey(kind, String(value.id)))) {
          foreign.set(kind, [...(foreign.get(kind) ?? []), item]);
          continue;
        }
        items.set(objectKey(kind, String(value.id)), { canonical: canonicalJson(value), modifiedIndex: typeof modifiedIndex === 'number' ? modifiedIndex : 0 });
      }
    }
    const digest = typeof body['X-Digest'] === 'string' ? body['X-Digest'] : undefined;
    return new StandaloneState(versions, items, foreign, digest);
  }

  /** The largest modifiedIndex held, and how many owned items each kind has. */
  private summary(): { maxIndex: number; perKind: Map<string, number> } {
    if (this.summaryMemo) return this.summaryMemo;
    let maxIndex = 0;
    const perKind = new Map<string, number>();
    for (const [key, item] of this.items) {
      maxIndex = Math.max(maxIndex, item.modifiedIndex);
      const kind = key.slice(0, key.indexOf('/'));
      perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
    }
    for (const list of this.foreign.values()) for (const item of list) if (typeof item.modifiedIndex === 'number') maxIndex = Math.max(maxIndex, item.modifiedIndex);
    this.summaryMemo = { maxIndex, perKind };
    return this.summaryMemo;
  }

  private summaryMemo: { maxIndex: number; perKind: Map<string, number> } | undefined;

  /** The body that makes the target hold `desired` plus the foreign items. */
  bodyFor(desired: GatewayConfig): StandaloneBody {
    const { maxIndex, perKind } = this.summary();
    let nextIndex = maxIndex;
    const document: JsonObject = {};
    const deferred: (() => void)[] = [];
    const digest = createHash('sha256');
    const items = new Map<string, StoredItem>();
    const versions: Record<string, number> = { ...this.versions };
    const conflicts: string[] = [];
    for (const kind of GATEWAY_KINDS) {
      const foreign = this.foreign.get(kind) ?? [];
      const foreignIds = new Set(foreign.map((item) => String(item.id)));
      const list: JsonValue[] = [];
      const indexes: number[] = [];
      // Two 32-bit sums, each wrapping (>>> 0): order-free, so equal content gives an equal digest.
      let high = 0;
      let low = 0;
      for (const item of foreign) {
        const fingerprint = fingerprintOf(`${kind}/${String(item.id)}`, item);
        high = (high + fingerprint.high) >>> 0;
        low = (low + fingerprint.low) >>> 0;
      }
      let changed = false;
      let kept = 0;
      for (const object of desired.ofKind(kind)) {
        const key = objectKey(kind, object.id);
        if (foreignIds.has(object.id)) {
          conflicts.push(key);
          continue;
        }
        const fingerprint = fingerprintOf(key, object.value);
        const canonical = fingerprint.canonical;
        const stored = this.items.get(key);
        if (stored) kept += 1;
        const same = stored !== undefined && stored.canonical === canonical;
        if (!same) changed = true;
        const modifiedIndex = same ? stored.modifiedIndex : ++nextIndex;
        items.set(key, same ? stored : { canonical, modifiedIndex });
        list.push(object.value);
        indexes.push(modifiedIndex);
        high = (high + fingerprint.high) >>> 0;
        low = (low + fingerprint.low) >>> 0;
      }
      if (kept < (perKind.get(kind) ?? 0)) changed = true; // some stored item is no longer desired
      const versionKey = `${kind}${CONF_VERSION}`;
      const stored = this.versions[versionKey] ?? 0;
      versions[versionKey] = changed ? stored + 1 : stored;
      document[versionKey] = versions[versionKey]!;
      deferred.push(() => (document[kind] = [...foreign, ...list.map((value, i) => ({ ...(value as JsonObject), modifiedIndex: indexes[i]! }))]));
      digest.update(`${kind}:${foreign.length + list.length}:${high.toString(16)}.${low.toString(16)};`);
    }
    // Kinds amesh does not write (consumers, plugin_metadata…) keep their version, hence their items.
    for (const [key, version] of Object.entries(this.versions)) if (!(key in document)) document[key] = version;
    const hex = digest.digest('hex');
    const render = (): JsonObject => {
      for (const fill of deferred.splice(0)) fill();
      return document;
    };
    return { render, digest: hex, conflicts, next: new StandaloneState(versions, items, this.foreign, hex) };
  }
}
