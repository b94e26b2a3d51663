// The desired configuration of the gateway data plane: keyed objects of APISIX's kinds with their
// JSON bodies. Every sink applies this; the diff between two of them drives incremental sinks.
import { canonicalJson, type JsonObject } from './json.js';

/** In dependency order: an object may only reference kinds listed before its own. */
export const GATEWAY_KINDS = ['ssls', 'upstreams', 'plugin_configs', 'services', 'routes', 'stream_routes', 'global_rules'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export const kindRank = (kind: GatewayKind): number => GATEWAY_KINDS.indexOf(kind);

export interface GatewayObject {
  readonly kind: GatewayKind;
  readonly id: string;
  readonly value: JsonObject;
}

export const objectKey = (kind: GatewayKind, id: string): string => `${kind}/${id}`;

export class GatewayConfig {
  private readonly canonical = new Map<string, string>();
  private countsMemo: Record<GatewayKind, number> | undefined;

  constructor(
    readonly version: string,
    readonly objects: ReadonlyMap<string, GatewayObject>,
    /** A config with exactly the same keys (values may differ): its counts are these counts. */
    sameKeysAs?: GatewayConfig,
  ) {
    this.countsMemo = sameKeysAs?.countsMemo;
  }

  static of(version: string, objects: Iterable<GatewayObject>): GatewayConfig {
    const map = new Map<string, GatewayObject>();
    for (const object of objects) {
      const key = objectKey(object.kind, object.id);
      if (map.has(key)) throw new Error(`duplicate gateway object ${key}`);
      map.set(key, object);
    }
    return new GatewayConfig(version, map);
  }

  static empty(): GatewayConfig {
    return new GatewayConfig('', new Map());
  }

  ofKind(kind: GatewayKind): GatewayObject[] {
    const list: GatewayObject[] = [];
    for (const object of this.objects.values()) if (object.kind === kind) list.push(object);
    return list;
  }

  /** Canonical JSON of one object, computed once: comparing configs costs one string compare per object. */
  canonicalOf(key: string): string | undefined {
    let text = this.canonical.get(key);
    if (text === undefined) {
      const object = this.objects.get(key);
      if (!object) return undefined;
      text = canonicalJson(object.value);
      this.canonical.set(key, text);
    }
    return text;
  }

  counts(): Record<GatewayKind, number> {
    if (!this.countsMemo) {
      const counts = Object.fromEntries(GATEWAY_KINDS.map((k) => [k, 0])) as Record<GatewayKind, number>;
      for (const object of this.objects.values()) counts[object.kind] += 1;
      this.countsMemo = counts;
    }
    return { ...this.countsMemo };
  }
}
