// A GatewayConfig as a self-describing JSON document (for the last-known-good cache), and back with
// validation: what comes back from disk is untrusted input. The format is versioned so that a file
// written by another amesh-ts release is recognised and set aside rather than misread.
import { GATEWAY_KINDS, GatewayConfig, objectKey, type GatewayKind, type GatewayObject } from './gateway-config.js';
import type { JsonObject } from './json.js';
import { err, ok, type Result } from './result.js';

export const GATEWAY_CONFIG_FORMAT = 'amesh-ts/gateway-config';
/** Bump when the document's shape changes; older readers then ignore newer files, and vice versa. */
export const GATEWAY_CONFIG_FORMAT_VERSION = 1;

export type GatewayConfigJsonError =
  /** Written by another format version: not usable here, but not damaged either. */
  | { readonly kind: 'unsupported-format'; readonly message: string }
  /** Not a gateway config document, or a damaged one. The message names the field. */
  | { readonly kind: 'invalid'; readonly message: string };

/** Objects are listed in the config's order, which the standalone document keeps. */
export function gatewayConfigToJson(config: GatewayConfig): JsonObject {
  return {
    format: GATEWAY_CONFIG_FORMAT,
    formatVersion: GATEWAY_CONFIG_FORMAT_VERSION,
    version: config.version,
    objects: [...config.objects.values()].map((object) => ({ kind: object.kind, id: object.id, value: object.value })),
  };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;

const isKind = (value: unknown): value is GatewayKind => typeof value === 'string' && (GATEWAY_KINDS as readonly string[]).includes(value);

/** Where in `value` it stops being JSON (a function, NaN, a class instance…), or undefined. */
function nonJsonPath(value: unknown, path: string, depth = 0): string | undefined {
  if (depth > 100) return `${path} (nested too deeply)`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const bad = nonJsonPath(item, `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return path;
  for (const [key, item] of Object.entries(value)) {
    const bad = nonJsonPath(item, `${path}.${key}`, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

const invalid = (message: string): { ok: false; error: GatewayConfigJsonError } => err({ kind: 'invalid', message });

function objectFromJson(entry: unknown, path: string): Result<GatewayObject, GatewayConfigJsonError> {
  if (!isPlainObject(entry)) return invalid(`${path} is not an object`);
  const { kind, id, value } = entry;
  if (!isKind(kind)) return invalid(`${path}.kind ${JSON.stringify(kind) ?? 'undefined'} is not one of ${GATEWAY_KINDS.join(', ')}`);
  if (typeof id !== 'string' || id === '') return invalid(`${path}.id must be a non-empty string`);
  if (!isPlainObject(value)) return invalid(`${path}.value must be an object`);
  const bad = nonJsonPath(value, `${path}.value`);
  if (bad) return invalid(`${bad} is not a JSON value`);
  // The body's own id is what the gateway keys the object by; a different one would be a different object.
  if (value.id !== undefined && value.id !== id) return invalid(`${path}.value.id ${JSON.stringify(value.id)} differs from ${path}.id "${id}"`);
  return ok({ kind, id, value: value as JsonObject });
}

export function gatewayConfigFromJson(document: unknown): Result<GatewayConfig, GatewayConfigJsonError> {
  if (!isPlainObject(document) || document.format !== GATEWAY_CONFIG_FORMAT) return invalid(`not an ${GATEWAY_CONFIG_FORMAT} document`);
  const { formatVersion, version, objects } = document;
  if (formatVersion !== GATEWAY_CONFIG_FORMAT_VERSION) {
    return err({ kind: 'unsupported-format', message: `format version ${JSON.stringify(formatVersion) ?? 'undefined'}, this release reads ${GATEWAY_CONFIG_FORMAT_VERSION}` });
  }
  if (typeof version !== 'string') return invalid('version must be a string');
  if (!Array.isArray(objects)) return invalid('objects must be an array');
  const parsed: GatewayObject[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of objects.entries()) {
    const object = objectFromJson(entry, `objects[${i}]`);
    if (!object.ok) return object;
    const key = objectKey(object.value.kind, object.value.id);
    if (seen.has(key)) return invalid(`objects[${i}]: ${key} appears twice`);
    seen.add(key);
    parsed.push(object.value);
  }
  return ok(GatewayConfig.of(version, parsed));
}
