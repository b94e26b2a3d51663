// Descriptor-driven pre-pass over proto3 JSON, run before @bufbuild/protobuf's `fromJson`:
// - reports every type error with its exact path (bufbuild stops at the first and names no path);
// - accepts enum names case-insensitively, as Envoy does (`type: strict_dns`), rewriting them to the
//   declared name;
// - turns an `Any` whose `@type` is not in the registry (Istio's `stats.PluginConfig`, ...) into a
//   `udpa.type.v1.TypedStruct {type_url, value}` so it survives as an opaque payload instead of failing;
// - checks the JSON shape of well-known types with a special JSON form and leaves their parsing to bufbuild;
// - accepts a single value where a repeated field expects a list (Envoy's parser does too).
import { ScalarType, type DescEnum, type DescField, type DescMessage, type JsonObject, type JsonValue, type Registry } from '@bufbuild/protobuf';
import { TYPE_URL, TYPE_URL_PREFIX, TYPED_STRUCT_TYPE_URLS, typeNameOf } from './type-urls.js';

export interface ProtoJsonError {
  /** proto3-JSON style, keys as written in the input: `filter_chains[0].filters[1].typed_config.name`. */
  readonly path: string;
  readonly message: string;
}

// Well-known types whose JSON is not an object of their fields.
const WRAPPERS = new Set(['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((t) => `google.protobuf.${t}Value`));
const SPECIAL_JSON = new Set([...WRAPPERS, ...['Any', 'Duration', 'Timestamp', 'FieldMask', 'Struct', 'ListValue', 'Value'].map((t) => `google.protobuf.${t}`)]);
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const MAX_DURATION_SECONDS = 315_576_000_000;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const INTEGER = /^-?\d+$/;

const INT_RANGE: Partial<Record<ScalarType, readonly [bigint, bigint, string]>> = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n, 'uint32'],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n, 'uint32'],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n, 'uint64'],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n, 'uint64'],
};

/**
 * Returns the normalized JSON for `fromJson`, meaningful only when `errors` is empty. With `build` false
 * it only checks: the same errors, but messages, lists and maps come back empty, so that a large document
 * can be checked without a copy of it.
 */
export function normalizeProtoJson(registry: Registry, desc: DescMessage, json: unknown, build = true): { value: JsonValue | undefined; errors: ProtoJsonError[] } {
  const n = new Normalizer(registry, build);
  const value = n.message(desc, json, '');
  return { value, errors: n.errors };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isFinite(v)) return `number ${v}`;
  return typeof v;
}

const child = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const fieldsByKey = new WeakMap<DescMessage, Map<string, DescField>>();

function fieldFor(desc: DescMessage, key: string): DescField | undefined {
  let byKey = fieldsByKey.get(desc);
  if (!byKey) {
    byKey = new Map();
    for (const f of desc.fields) byKey.set(f.name, f).set(f.jsonName, f);
    fieldsByKey.set(desc, byKey);
  }
  return byKey.get(key);
}

class Normalizer {
  readonly errors: ProtoJsonError[] = [];
  constructor(
    private readonly registry: Registry,
    private readonly build: boolean,
  ) {}

  private fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  message(desc: DescMessage, json: unknown, path: string): JsonValue | undefined {
    const special = this.wellKnown(desc, json, path);
    if (special !== 'not-special') return special;
    if (!isObject(json)) return this.fail(path, `expected object (${desc.typeName}), got ${kindOf(json)}`);
    const out: JsonObject = {};
    const seen = new Map<DescField, string>();
    const oneofs = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const p = child(path, key);
      const field = fieldFor(desc, key);
      if (!field) {
        this.fail(p, `unknown field "${key}" in ${desc.typeName}`);
        continue;
      }
      const twice = seen.get(field);
      if (twice !== undefined) {
        this.fail(p, `field given twice (also as "${twice}")`);
        continue;
      }
      seen.set(field, key);
      // proto3 JSON: null means "unset", except for a singular google.protobuf.Value / NullValue.
      const repeated = field.fieldKind === 'list' || field.fieldKind === 'map';
      if (value === null && (repeated || !nullIsAValue(field))) continue;
      if (field.oneof) {
        const other = oneofs.get(field.oneof.name);
        if (other !== undefined) {
          this.fail(p, `oneof "${field.oneof.name}" is already set by "${other}"`);
          continue;
        }
        oneofs.set(field.oneof.name, key);
      }
      const v = this.field(field, value, p);
      if (v !== undefined && this.build) out[field.name] = v;
    }
    return out;
  }

  private field(field: DescField, json: unknown, path: string): JsonValue | undefined {
    switch (field.fieldKind) {
      case 'scalar':
        return this.scalar(field.scalar, json, path);
      case 'enum':
        return this.enumValue(field.enum, json, path);
      case 'message':
        return this.message(field.message, json, path);
      case 'list': {
        // A single value in place of a one-element list is accepted, as protobuf's legacy ("ESF") JSON
        // parser that Envoy's YAML loading inherits does; envoy-examples' dynamic-config-fs relies on it.
        const single = !Array.isArray(json);
        const items: unknown[] = single ? [json] : json;
        const out: JsonValue[] = [];
        items.forEach((item: unknown, i) => {
          const p = single ? path : `${path}[${i}]`;
          const v =
            item === null && !nullIsAValue(field)
              ? this.fail(p, 'null is not allowed in a repeated field')
              : field.listKind === 'scalar'
                ? this.scalar(field.scalar, item, p)
                : field.listKind === 'enum'
                  ? this.enumValue(field.enum, item, p)
                  : this.message(field.message, item, p);
          if (v !== undefined && this.build) out.push(v);
        });
        return out;
      }
      case 'map': {
        if (!isObject(json)) return this.fail(path, `expected object (map), got ${kindOf(json)}`);
        const out: JsonObject = {};
        for (const [key, item] of Object.entries(json)) {
          const p = `${path}[${JSON.stringify(key)}]`;
          if (!mapKeyOk(field.mapKey, key)) {
            this.fail(p, `invalid map key for ${ScalarType[field.mapKey].toLowerCase()} keys`);
            continue;
          }
          const v =
            item === null && !nullIsAValue(field)
              ? this.fail(p, 'null is not allowed as a map value')
              : field.mapKind === 'scalar'
                ? this.scalar(field.scalar, item, p)
                : field.mapKind === 'enum'
                  ? this.enumValue(field.enum, item, p)
                  : this.message(field.message, item, p);
          if (v !== undefined && this.build) out[key] = v;
        }
        return out;
      }
    }
  }

  private scalar(type: ScalarType, json: unknown, path: string): JsonValue | undefined {
    switch (type) {
      case ScalarType.STRING:
        return typeof json === 'string' ? json : this.fail(path, `expected string, got ${kindOf(json)}`);
      case ScalarType.BOOL:
        return typeof json === 'boolean' ? json : this.fail(path, `expected boolean, got ${kindOf(json)}`);
      case ScalarType.BYTES:
        if (typeof json !== 'string') return this.fail(path, `expected base64 string, got ${kindOf(json)}`);
        return BASE64.test(json) ? json : this.fail(path, 'invalid base64');
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return this.float(type, json, path);
      default:
        return this.integer(type, json, path);
    }
  }

  private float(type: ScalarType, json: unknown, path: string): JsonValue | undefined {
    if (typeof json === 'number' && !Number.isFinite(json)) {
      // YAML's .nan/.inf arrive as numbers; proto3 JSON spells them as strings.
      return Number.isNaN(json) ? 'NaN' : json > 0 ? 'Infinity' : '-Infinity';
    }
    if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') return json;
    const numeric = typeof json === 'string' && json !== '' && json.trim() === json;
    const n = typeof json === 'number' ? json : numeric ? Number(json) : NaN;
    if (!Number.isFinite(n)) return this.fail(path, `expected number, got ${describe(json)}`);
    if (type === ScalarType.FLOAT && Math.abs(n) > 3.4028234663852886e38) {
      return this.fail(path, `float out of range: ${n}`);
    }
    return typeof json === 'number' ? json : (json as string);
  }

  private integer(type: ScalarType, json: unknown, path: string): JsonValue | undefined {
    const [min, max, name] = INT_RANGE[type] ?? [0n, 0n, 'integer'];
    let big: bigint;
    if (typeof json === 'number') {
      if (!Number.isInteger(json)) {
        return this.fail(path, `expected ${name}, got ${Number.isFinite(json) ? json : kindOf(json)}`);
      }
      big = BigInt(json);
    } else if (typeof json === 'string' && INTEGER.test(json)) {
      big = BigInt(json);
    } else {
      return this.fail(path, `expected ${name}, got ${describe(json)}`);
    }
    if (big < min || big > max) return this.fail(path, `${name} out of range: ${json}`);
    return json;
  }

  private enumValue(desc: DescEnum, json: unknown, path: string): JsonValue | undefined {
    if (json === null) return null; // only reached for NullValue
    if (typeof json === 'number') {
      if (Number.isInteger(json) && json >= -(2 ** 31) && json < 2 ** 31) return json;
      return this.fail(path, `expected enum ${desc.typeName}, got number ${json}`);
    }
    if (typeof json !== 'string') return this.fail(path, `expected enum ${desc.typeName}, got ${kindOf(json)}`);
    const exact = desc.values.find((v) => v.name === json);
    if (exact) return exact.name;
    const upper = json.toUpperCase();
    const folded = desc.values.find((v) => v.name.toUpperCase() === upper);
    if (folded) return folded.name;
    const names = desc.values.map((v) => v.name);
    const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, ...` : names.join(', ');
    return this.fail(path, `unknown value "${json}" for enum ${desc.typeName} (one of ${shown})`);
  }

  /** Well-known types whose JSON is not an object of fields; "not-special" for everything else. */
  private wellKnown(desc: DescMessage, json: unknown, path: string): JsonValue | undefined | 'not-special' {
    const name = desc.typeName;
    if (!SPECIAL_JSON.has(name)) return 'not-special';
    if (name === 'google.protobuf.Any') return this.any(json, path);
    const wrapped = desc.field['value'];
    if (WRAPPERS.has(name) && wrapped?.fieldKind === 'scalar') return this.scalar(wrapped.scalar, json, path);
    switch (name) {
      case 'google.protobuf.Duration':
        if (typeof json !== 'string' || !DURATION.test(json)) {
          return this.fail(path, `expected duration string such as "1.5s", got ${describe(json)}`);
        }
        return Math.abs(parseFloat(json)) <= MAX_DURATION_SECONDS ? json : this.fail(path, 'duration out of range');
      case 'google.protobuf.Timestamp':
        return typeof json === 'string' && TIMESTAMP.test(json) ? json : this.fail(path, `expected RFC 3339 timestamp string, got ${describe(json)}`);
      case 'google.protobuf.FieldMask':
        return typeof json === 'string' ? json : this.fail(path, `expected field mask string, got ${kindOf(json)}`);
      case 'google.protobuf.Struct':
        return isObject(json) ? this.plainJson(json, path) : this.fail(path, `expected object (Struct), got ${kindOf(json)}`);
      case 'google.protobuf.ListValue':
        return Array.isArray(json) ? this.plainJson(json, path) : this.fail(path, `expected array (ListValue), got ${kindOf(json)}`);
      case 'google.protobuf.Value':
        return this.plainJson(json, path);
      default:
        return 'not-special';
    }
  }

  private any(json: unknown, path: string): JsonValue | undefined {
    if (!isObject(json)) return this.fail(path, `expected object (Any), got ${kindOf(json)}`);
    const { '@type': typeUrl, ...rest } = json;
    if (typeUrl === undefined) {
      return Object.keys(rest).length === 0 ? {} : this.fail(path, 'Any has fields but no "@type"');
    }
    const typePath = child(path, '@type');
    if (typeof typeUrl !== 'string') return this.fail(typePath, `expected type URL string, got ${kindOf(typeUrl)}`);
    const typeName = typeNameOf(typeUrl);
    if (typeName === undefined) return this.fail(typePath, `malformed type URL "${typeUrl}"`);
    const desc = this.registry.getMessage(typeName);
    if (!desc) {
      const value = this.plainJson(rest, path);
      // Parked in Envoy's own wrapper for "a message given as JSON"; unpackAny reports it as opaque.
      return value === undefined ? undefined : { '@type': TYPE_URL.UdpaTypedStruct, type_url: typeUrl, value };
    }
    if (SPECIAL_JSON.has(typeName)) {
      // A well-known type with its own JSON form is packed as {"@type", "value"}.
      for (const key of Object.keys(rest)) {
        if (key !== 'value') {
          this.fail(child(path, key), `unknown field "${key}" in Any of ${typeName} (expected "value")`);
        }
      }
      if (!('value' in rest)) return { '@type': typeUrl };
      const value = this.message(desc, rest['value'], child(path, 'value'));
      return value === undefined ? undefined : { '@type': typeUrl, value };
    }
    const body = this.message(desc, rest, path);
    if (TYPED_STRUCT_TYPE_URLS.has(`${TYPE_URL_PREFIX}${typeName}`)) this.checkTypedStruct(rest, path);
    return isObject(body) ? { '@type': typeUrl, ...body } : undefined;
  }

  /** A TypedStruct of a known type must hold a valid message of that type (Envoy rejects it otherwise). */
  private checkTypedStruct(json: Record<string, unknown>, path: string): void {
    const inner = json['type_url'] ?? json['typeUrl'];
    const name = typeof inner === 'string' ? typeNameOf(inner) : undefined;
    const desc = name === undefined ? undefined : this.registry.getMessage(name);
    const value = json['value'] ?? {};
    // A non-object value was already reported as a bad Struct.
    if (!desc || SPECIAL_JSON.has(desc.typeName) || !isObject(value)) return;
    this.message(desc, value, child(path, 'value'));
  }

  /** Any JSON value (Struct/Value content): only checks that it is JSON. */
  private plainJson(json: unknown, path: string): JsonValue | undefined {
    if (json === null || typeof json === 'string' || typeof json === 'boolean') return json;
    if (typeof json === 'number') {
      return Number.isFinite(json) ? json : this.fail(path, `${json} is not representable in JSON`);
    }
    if (Array.isArray(json)) {
      const before = this.errors.length;
      const out: JsonValue[] = [];
      json.forEach((v: unknown, i) => {
        const value = this.plainJson(v, `${path}[${i}]`);
        if (value !== undefined && this.build) out.push(value);
      });
      return this.errors.length === before ? out : undefined;
    }
    if (isObject(json)) {
      const before = this.errors.length;
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(json)) {
        const value = this.plainJson(v, child(path, k));
        if (value !== undefined && this.build) out[k] = value;
      }
      return this.errors.length === before ? out : undefined;
    }
    return this.fail(path, `${kindOf(json)} is not a JSON value`);
  }
}

/** Whether JSON null is a value (not "unset") for the field's element type: Value and NullValue only. */
function nullIsAValue(field: DescField): boolean {
  return field.message?.typeName === 'google.protobuf.Value' || field.enum?.typeName === 'google.protobuf.NullValue';
}

function mapKeyOk(type: ScalarType, key: string): boolean {
  if (type === ScalarType.STRING) return true;
  if (type === ScalarType.BOOL) return key === 'true' || key === 'false';
  const range = INT_RANGE[type];
  if (!range || !INTEGER.test(key)) return false;
  const n = BigInt(key);
  return n >= range[0] && n <= range[1];
}

function describe(v: unknown): string {
  return typeof v === 'string' ? `string ${JSON.stringify(v)}` : kindOf(v);
}
