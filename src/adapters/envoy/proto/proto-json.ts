// proto3 JSON (config dumps, Envoy YAML bootstraps, file-delivered xDS) -> generated ts-proto messages.
// ts-proto's own fromJSON is lenient (wrong types become defaults, unknown fields vanish, Any stays
// base64), so the JSON path goes through @bufbuild/protobuf, driven by the FileDescriptorSet that
// gen:proto writes next to the generated code:
//   normalizeProtoJson (paths, case-insensitive enums, opaque Any) -> bufbuild fromJson -> toBinary
//   -> ts-proto decode.
import { createFileRegistry, fromBinary, fromJson, toBinary, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { AnySchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { base64Decode } from '@bufbuild/protobuf/wire';
import { err, ok, type Result } from '../../../domain/result.js';
import { descriptorSetBase64 } from '../generated/descriptor-set.js';
import { normalizeProtoJson, type ProtoJsonError } from './json-normalize.js';
import { codecFor, isKnownTypeUrl, type KnownTypeName, type KnownTypeUrl, type MessageOf } from './message-registry.js';
import { TYPE_URL_PREFIX, typeNameOf } from './type-urls.js';

export type { ProtoJsonError } from './json-normalize.js';

/** A registered message named either by full name or by type URL. */
export type KnownType = KnownTypeName | KnownTypeUrl;
export type MessageOfType<T extends KnownType> = T extends KnownTypeUrl ? MessageOf<T> : MessageOf<`${typeof TYPE_URL_PREFIX}${T}` & KnownTypeUrl>;

let registry: FileRegistry | undefined;

/** The descriptors of every generated .proto file, built once on first use (~100 files). */
export function descriptorRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, base64Decode(descriptorSetBase64)));
  return registry;
}

/**
 * Parses proto3 JSON (snake_case or lowerCamelCase keys) into the generated message for `type`.
 * Errors are values, each with its path: `expected string, got number` at `virtual_hosts[0].domains[1]`.
 * `Any` payloads of types outside the generated closure come back wrapped in a udpa TypedStruct
 * (see unpack-any.ts), so foreign extensions never make a document invalid.
 */
export function parseProtoJson<T extends KnownType>(type: T, json: unknown): Result<MessageOfType<T>, ProtoJsonError[]> {
  const typeUrl = type.includes('/') ? type : `${TYPE_URL_PREFIX}${type}`;
  const typeName = typeNameOf(typeUrl);
  const desc = typeName === undefined ? undefined : descriptorRegistry().getMessage(typeName);
  if (!isKnownTypeUrl(typeUrl) || !desc) return err([{ path: '', message: `no codec registered for ${type}` }]);
  const checked = checkProtoJson(desc.typeName, json);
  if (!checked.ok) return checked;
  try {
    const message = fromJson(desc, checked.value, { registry: descriptorRegistry() });
    const bytes = toBinary(desc, message, { writeUnknownFields: false });
    return ok(codecFor(typeUrl).decode(bytes) as MessageOfType<T>);
  } catch (e) {
    return err([protobufEsError(e)]);
  }
}

/** The pre-pass should catch everything bufbuild rejects; keep its words when it does not. */
const protobufEsError = (e: unknown): ProtoJsonError => ({ path: '', message: `protobuf-es: ${e instanceof Error ? e.message : String(e)}` });

/**
 * The strict check of parseProtoJson alone, for any message of the descriptor set (`typeName` such as
 * `envoy.admin.v3.ConfigDump`): the JSON normalized as bufbuild's fromJson takes it (keys are proto field
 * names, lists are lists, unmodelled Any payloads parked in a TypedStruct), or every error with its path.
 * `build` false only checks (see normalizeProtoJson): a large document is checked whole without a copy,
 * then normalized and turned into messages piece by piece.
 */
export function checkProtoJson(typeName: string, json: unknown, build = true): Result<JsonValue, ProtoJsonError[]> {
  const desc = descriptorRegistry().getMessage(typeName);
  if (!desc) return err([{ path: '', message: `no descriptor for ${typeName}` }]);
  const normalized = normalizeProtoJson(descriptorRegistry(), desc, json, build);
  if (normalized.errors.length > 0 || normalized.value === undefined) return err(normalized.errors);
  return ok(normalized.value);
}

/** An Any as checkProtoJson left it → its wire form (the payload encoded as parseProtoJson would). */
export function packCheckedAny(json: JsonValue): Result<{ typeUrl: string; value: Uint8Array }, ProtoJsonError> {
  try {
    const { typeUrl, value } = fromJson(AnySchema, json, { registry: descriptorRegistry() });
    return ok({ typeUrl, value });
  } catch (e) {
    return err(protobufEsError(e));
  }
}

/** One line per error, for logs and `invalid` results. */
export function formatProtoJsonErrors(errors: readonly ProtoJsonError[], limit = 5): string {
  const shown = errors.slice(0, limit).map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`));
  if (errors.length > limit) shown.push(`(${errors.length - limit} more)`);
  return shown.join('; ');
}
