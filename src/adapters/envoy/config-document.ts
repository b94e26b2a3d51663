// The shapes in which Envoy configuration arrives as a document (JSON or YAML, already parsed):
// an admin /config_dump (`{configs: [...]}`), a bootstrap (`static_resources`, or wrapped in
// `{bootstrap: …}`), or an xDS resource list (`{resources: [{"@type": …}]}`, as file-based xDS and
// DiscoveryResponses have it). Each gives its typed xDS resources: one at a time (streamDocument) or as a list.
import type { JsonObject } from '@bufbuild/protobuf';
import { err, ok, type Result } from '../../domain/result.js';
import type { Bootstrap } from './generated/envoy/config/bootstrap/v3/bootstrap.js';
import type { Listener } from './generated/envoy/config/listener/v3/listener.js';
import type { RouteConfiguration } from './generated/envoy/config/route/v3/route.js';
import { TYPE_URL, TYPE_URL_PREFIX, TYPED_STRUCT_TYPE_URLS, typeNameOf } from './proto/type-urls.js';
import { checkProtoJson, descriptorRegistry, packCheckedAny, parseProtoJson, type ProtoJsonError } from './proto/proto-json.js';
import { unpackAny, type AnyLike } from './proto/unpack-any.js';
import type { XdsResource } from './xds-resources.js';
import { xdsResourceFromAny } from './xds-any.js';

export interface DocumentError {
  /** proto3-JSON path inside the document. */
  readonly path: string;
  readonly message: string;
}

export interface DocumentResources {
  readonly resources: XdsResource[];
  /** Parts of the document that carry no translatable resources (ECDS, warming states…). */
  readonly skipped: string[];
}

/**
 * A document checked whole, its resources typed one at a time as `resources` is iterated (once), so that a
 * consumer converting each before taking the next never holds the whole typed document. `errors` and
 * `skipped` are complete once the iteration is; the document is valid only if `errors` is then empty.
 */
export interface DocumentStream {
  readonly resources: Iterable<XdsResource>;
  readonly errors: DocumentError[];
  readonly skipped: string[];
}

const prefixed = (prefix: string, errors: readonly ProtoJsonError[]): DocumentError[] => errors.map((e) => ({ path: e.path ? `${prefix}.${e.path}` : prefix, message: e.message }));

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An Any holding one of the five xDS resource types; anything else is an error at `path`. */
function resourceFromAny(any: AnyLike | undefined, path: string, errors: DocumentError[]): XdsResource | undefined {
  if (!any) return undefined;
  const resource = xdsResourceFromAny(any);
  if (resource.ok) return resource.value;
  errors.push({ path, message: resource.error });
  return undefined;
}

/**
 * Static listeners may be unnamed (Envoy then names them itself); give them a stable name from the
 * address, so that reports and ids can refer to them.
 */
function namedListener(listener: Listener, index: number): Listener {
  if (listener.name !== '') return listener;
  const socket = listener.address?.address?.$case === 'socketAddress' ? listener.address.address.value : undefined;
  const port = socket?.portSpecifier?.$case === 'portValue' ? socket.portSpecifier.value : undefined;
  return { ...listener, name: socket && port !== undefined ? `${socket.address}_${port}` : `static_listener_${index}` };
}

function namedRouteConfiguration(config: RouteConfiguration, index: number): RouteConfiguration {
  return config.name !== '' ? config : { ...config, name: `static_route_config_${index}` };
}

function fromBootstrap(bootstrap: Bootstrap, prefix: string): DocumentResources {
  const statics = bootstrap.staticResources;
  const resources: XdsResource[] = [
    ...(statics?.listeners ?? []).map((message, i): XdsResource => ({ type: 'Listener', message: namedListener(message, i) })),
    ...(statics?.clusters ?? []).map((message): XdsResource => ({ type: 'Cluster', message })),
    ...(statics?.secrets ?? []).map((message): XdsResource => ({ type: 'Secret', message })),
  ];
  const skipped = bootstrap.dynamicResources ? [`${prefix}dynamic_resources (fetched at run time, not in the document)`] : [];
  return { resources, skipped };
}

const STREAMED_SECTIONS = new Set<string>([
  TYPE_URL.ListenersConfigDump,
  TYPE_URL.ClustersConfigDump,
  TYPE_URL.RoutesConfigDump,
  TYPE_URL.EndpointsConfigDump,
  TYPE_URL.SecretsConfigDump,
]);

const canonical = (typeUrl: unknown): string => (typeof typeUrl === 'string' ? `${TYPE_URL_PREFIX}${typeNameOf(typeUrl) ?? ''}` : '');

interface Section {
  readonly typeUrl: string;
  /** The section's fields as written in the (checked) document. */
  readonly body: Record<string, unknown>;
}

/** A section (`configs[i]`) carrying resources, a TypedStruct unwrapped as unpackAny does; undefined for others. */
function streamedSection(config: unknown): Section | undefined {
  if (!isObject(config)) return undefined;
  const typeUrl = canonical(config['@type']);
  if (!TYPED_STRUCT_TYPE_URLS.has(typeUrl)) return STREAMED_SECTIONS.has(typeUrl) ? { typeUrl, body: config } : undefined;
  const inner = canonical(config['type_url'] ?? config['typeUrl']);
  const value = config['value'] ?? {};
  return STREAMED_SECTIONS.has(inner) && isObject(value) ? { typeUrl: inner, body: value } : undefined;
}

/** A repeated field of a section as written: either key spelling, a single value as a one-item list. */
function written(section: Section, name: string): { items: unknown[]; entryType: string } {
  const field = descriptorRegistry()
    .getMessage(typeNameOf(section.typeUrl)!)
    ?.fields.find((f) => f.name === name);
  const value = field ? (section.body[field.name] ?? section.body[field.jsonName]) : undefined;
  const items = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  return { items, entryType: field?.message?.typeName ?? '' };
}

/**
 * The entries of a repeated field of a section, each normalized only when reached: no normalized copy of a
 * whole section (tens of MB at 10k services) lives on, only one entry at a time.
 */
function* entries(section: Section, name: string, at: string, errors: DocumentError[]): Generator<[number, JsonObject]> {
  const { items, entryType } = written(section, name);
  for (const [i, item] of items.entries()) {
    const entry = checkProtoJson(entryType, item);
    // Cannot fail once the whole dump was checked; kept as values all the same.
    if (!entry.ok) errors.push(...prefixed(`${at}.${name}[${i}]`, entry.error));
    else if (isObject(entry.value)) yield [i, entry.value];
  }
}

const field = (json: JsonObject, key: string): JsonObject | undefined => json[key] as JsonObject | undefined;

function fromConfigDump(json: unknown): Result<DocumentStream, DocumentError[]> {
  // Checked whole (every error at once, as before) without building a copy; entries are normalized when reached.
  const checked = checkProtoJson('envoy.admin.v3.ConfigDump', json, false);
  if (!checked.ok) return err(prefixed('', checked.error).map((e) => ({ ...e, path: e.path.replace(/^\./, '') })));
  const errors: DocumentError[] = [];
  const skipped: string[] = [];
  return ok({ resources: configDumpResources((json as { configs: unknown[] }).configs, errors, skipped), errors, skipped });
}

function* configDumpResources(sections: readonly unknown[], errors: DocumentError[], skipped: string[]): Generator<XdsResource> {
  /** `staticIndex` is set for static resources, which may be unnamed. */
  const typed = (json: JsonObject | undefined, path: string, staticIndex?: number): XdsResource[] => {
    if (!json) return [];
    const any = packCheckedAny(json);
    if (!any.ok) {
      errors.push(any.error);
      return [];
    }
    const resource = resourceFromAny(any.value, path, errors);
    if (!resource) return [];
    if (staticIndex !== undefined && resource.type === 'Listener') return [{ type: 'Listener', message: namedListener(resource.message, staticIndex) }];
    if (staticIndex !== undefined && resource.type === 'RouteConfiguration')
      return [{ type: 'RouteConfiguration', message: namedRouteConfiguration(resource.message, staticIndex) }];
    return [resource];
  };
  for (const [c, config] of sections.entries()) {
    const at = `configs[${c}]`;
    const section = streamedSection(config);
    switch (section?.typeUrl) {
      case TYPE_URL.ListenersConfigDump:
        for (const [i, l] of entries(section, 'static_listeners', at, errors)) yield* typed(field(l, 'listener'), `${at}.static_listeners[${i}].listener`, i);
        for (const [i, l] of entries(section, 'dynamic_listeners', at, errors)) {
          const active = field(l, 'active_state');
          if (active) yield* typed(field(active, 'listener'), `${at}.dynamic_listeners[${i}].active_state.listener`);
          else if (field(l, 'warming_state')) skipped.push(`${at}.dynamic_listeners[${i}] (warming)`);
        }
        continue;
      case TYPE_URL.ClustersConfigDump:
        for (const [i, s] of entries(section, 'static_clusters', at, errors)) yield* typed(field(s, 'cluster'), `${at}.static_clusters[${i}].cluster`);
        for (const [i, d] of entries(section, 'dynamic_active_clusters', at, errors)) yield* typed(field(d, 'cluster'), `${at}.dynamic_active_clusters[${i}].cluster`);
        if (written(section, 'dynamic_warming_clusters').items.length > 0) skipped.push(`${at}.dynamic_warming_clusters`);
        continue;
      case TYPE_URL.RoutesConfigDump:
        for (const [i, s] of entries(section, 'static_route_configs', at, errors)) yield* typed(field(s, 'route_config'), `${at}.static_route_configs[${i}].route_config`, i);
        for (const [i, d] of entries(section, 'dynamic_route_configs', at, errors)) yield* typed(field(d, 'route_config'), `${at}.dynamic_route_configs[${i}].route_config`);
        continue;
      case TYPE_URL.EndpointsConfigDump:
        for (const [i, s] of entries(section, 'static_endpoint_configs', at, errors))
          yield* typed(field(s, 'endpoint_config'), `${at}.static_endpoint_configs[${i}].endpoint_config`);
        for (const [i, d] of entries(section, 'dynamic_endpoint_configs', at, errors))
          yield* typed(field(d, 'endpoint_config'), `${at}.dynamic_endpoint_configs[${i}].endpoint_config`);
        continue;
      case TYPE_URL.SecretsConfigDump:
        for (const [i, s] of entries(section, 'static_secrets', at, errors)) yield* typed(field(s, 'secret'), `${at}.static_secrets[${i}].secret`);
        for (const [i, d] of entries(section, 'dynamic_active_secrets', at, errors)) yield* typed(field(d, 'secret'), `${at}.dynamic_active_secrets[${i}].secret`);
        if (written(section, 'dynamic_warming_secrets').items.length > 0) skipped.push(`${at}.dynamic_warming_secrets`);
        continue;
    }
    // Any other section is small (a bootstrap) or carries nothing to translate: typed whole.
    const normalized = checkProtoJson('google.protobuf.Any', config);
    const packed = normalized.ok ? packCheckedAny(normalized.value) : err(normalized.error[0]!);
    if (!packed.ok) {
      errors.push(packed.error);
      continue;
    }
    const dump = unpackAny(packed.value);
    if (dump.kind !== 'known') {
      if (dump.kind === 'invalid') errors.push({ path: at, message: `cannot decode ${dump.typeUrl}: ${dump.error}` });
      else skipped.push(`${at} (${dump.typeUrl})`);
    } else if (dump.typeUrl === TYPE_URL.BootstrapConfigDump && dump.message.bootstrap) {
      const boot = fromBootstrap(dump.message.bootstrap, `${at}.bootstrap.`);
      yield* boot.resources;
      skipped.push(...boot.skipped);
    } else if (dump.typeUrl !== TYPE_URL.BootstrapConfigDump) skipped.push(`${at} (${dump.typeUrl})`);
  }
}

/** One `{"@type": …, …}` item of a resource list, parsed as the xDS type it names. */
function resourceFromJson(typeUrl: string, body: unknown, at: string, errors: DocumentError[]): XdsResource | undefined {
  const parse = <R extends XdsResource>(result: Result<R['message'], ProtoJsonError[]>, type: R['type']): XdsResource | undefined => {
    if (result.ok) return { type, message: result.value } as XdsResource;
    errors.push(...prefixed(at, result.error));
    return undefined;
  };
  switch (typeUrl) {
    case TYPE_URL.Listener:
      return parse(parseProtoJson(TYPE_URL.Listener, body), 'Listener');
    case TYPE_URL.RouteConfiguration:
      return parse(parseProtoJson(TYPE_URL.RouteConfiguration, body), 'RouteConfiguration');
    case TYPE_URL.Cluster:
      return parse(parseProtoJson(TYPE_URL.Cluster, body), 'Cluster');
    case TYPE_URL.ClusterLoadAssignment:
      return parse(parseProtoJson(TYPE_URL.ClusterLoadAssignment, body), 'ClusterLoadAssignment');
    case TYPE_URL.Secret:
      return parse(parseProtoJson(TYPE_URL.Secret, body), 'Secret');
    default:
      errors.push({ path: `${at}.@type`, message: `unknown resource type ${typeUrl}` });
      return undefined;
  }
}

function fromResourceList(list: unknown[]): DocumentStream {
  const errors: DocumentError[] = [];
  function* resources(): Generator<XdsResource> {
    for (const [i, item] of list.entries()) {
      const at = `resources[${i}]`;
      const typeUrl = isObject(item) ? item['@type'] : undefined;
      if (!isObject(item) || typeof typeUrl !== 'string') {
        errors.push({ path: `${at}.@type`, message: 'missing @type' });
        continue;
      }
      const { '@type': _ignored, ...body } = item;
      const resource = resourceFromJson(typeUrl, body, at, errors);
      if (resource) yield resource;
    }
  }
  return { resources: resources(), errors, skipped: [] };
}

/** Every resource typed at once; see streamDocument for one at a time. */
export function resourcesOfDocument(document: unknown): Result<DocumentResources, DocumentError[]> {
  const stream = streamDocument(document);
  if (!stream.ok) return stream;
  const resources = [...stream.value.resources];
  return stream.value.errors.length > 0 ? err(stream.value.errors) : ok({ resources, skipped: stream.value.skipped });
}

const whole = ({ resources, skipped }: DocumentResources): DocumentStream => ({ resources, errors: [], skipped });

export function streamDocument(document: unknown): Result<DocumentStream, DocumentError[]> {
  if (!isObject(document)) return err([{ path: '', message: 'expected an object (a config dump, a bootstrap or a resource list)' }]);
  if (Array.isArray(document.configs)) return fromConfigDump(document);
  if (isObject(document.bootstrap) && !('static_resources' in document) && !('staticResources' in document)) {
    const parsed = parseProtoJson('envoy.config.bootstrap.v3.Bootstrap', document.bootstrap);
    return parsed.ok ? ok(whole(fromBootstrap(parsed.value, 'bootstrap.'))) : err(prefixed('bootstrap', parsed.error));
  }
  if ('static_resources' in document || 'staticResources' in document || 'dynamic_resources' in document || 'node' in document || 'admin' in document) {
    const parsed = parseProtoJson('envoy.config.bootstrap.v3.Bootstrap', document);
    return parsed.ok ? ok(whole(fromBootstrap(parsed.value, ''))) : err(prefixed('', parsed.error).map((e) => ({ ...e, path: e.path.replace(/^\./, '') })));
  }
  if (Array.isArray(document.resources)) return ok(fromResourceList(document.resources));
  if (typeof document['@type'] === 'string') return ok(fromResourceList([document]));
  return err([{ path: '', message: 'not an Envoy config dump (configs), bootstrap (static_resources) or resource list (resources)' }]);
}
