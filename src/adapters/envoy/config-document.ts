// The shapes in which Envoy configuration arrives as a document (JSON or YAML, already parsed):
// an admin /config_dump (`{configs: [...]}`), a bootstrap (`static_resources`, or wrapped in
// `{bootstrap: …}`), or an xDS resource list (`{resources: [{"@type": …}]}`, as file-based xDS and
// DiscoveryResponses have it). Each gives a list of typed xDS resources.
import { err, ok, type Result } from '../../domain/result.js';
import type { Bootstrap } from './generated/envoy/config/bootstrap/v3/bootstrap.js';
import type { Listener } from './generated/envoy/config/listener/v3/listener.js';
import type { RouteConfiguration } from './generated/envoy/config/route/v3/route.js';
import { TYPE_URL } from './proto/type-urls.js';
import { parseProtoJson, type ProtoJsonError } from './proto/proto-json.js';
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

const prefixed = (prefix: string, errors: readonly ProtoJsonError[]): DocumentError[] =>
  errors.map((e) => ({ path: e.path ? `${prefix}.${e.path}` : prefix, message: e.message }));

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

function fromConfigDump(json: unknown): Result<DocumentResources, DocumentError[]> {
  const parsed = parseProtoJson('envoy.admin.v3.ConfigDump', json);
  if (!parsed.ok) return err(prefixed('', parsed.error).map((e) => ({ ...e, path: e.path.replace(/^\./, '') })));
  const errors: DocumentError[] = [];
  const resources: XdsResource[] = [];
  const skipped: string[] = [];
  /** `staticIndex` is set for static resources, which may be unnamed. */
  const add = (any: AnyLike | undefined, path: string, staticIndex?: number): void => {
    const resource = resourceFromAny(any, path, errors);
    if (!resource) return;
    if (staticIndex !== undefined && resource.type === 'Listener') resources.push({ type: 'Listener', message: namedListener(resource.message, staticIndex) });
    else if (staticIndex !== undefined && resource.type === 'RouteConfiguration') resources.push({ type: 'RouteConfiguration', message: namedRouteConfiguration(resource.message, staticIndex) });
    else resources.push(resource);
  };
  parsed.value.configs.forEach((config, c) => {
    const at = `configs[${c}]`;
    const dump = unpackAny(config);
    if (dump.kind !== 'known') {
      if (dump.kind === 'invalid') errors.push({ path: at, message: `cannot decode ${dump.typeUrl}: ${dump.error}` });
      else skipped.push(`${at} (${dump.typeUrl})`);
      return;
    }
    switch (dump.typeUrl) {
      case TYPE_URL.BootstrapConfigDump:
        if (dump.message.bootstrap) {
          const boot = fromBootstrap(dump.message.bootstrap, `${at}.bootstrap.`);
          for (const resource of boot.resources) resources.push(resource);
          skipped.push(...boot.skipped);
        }
        break;
      case TYPE_URL.ListenersConfigDump:
        dump.message.staticListeners.forEach((l, i) => add(l.listener, `${at}.static_listeners[${i}].listener`, i));
        dump.message.dynamicListeners.forEach((l, i) => {
          if (l.activeState) add(l.activeState.listener, `${at}.dynamic_listeners[${i}].active_state.listener`);
          else if (l.warmingState) skipped.push(`${at}.dynamic_listeners[${i}] (warming)`);
        });
        break;
      case TYPE_URL.ClustersConfigDump:
        dump.message.staticClusters.forEach((s, i) => add(s.cluster, `${at}.static_clusters[${i}].cluster`));
        dump.message.dynamicActiveClusters.forEach((d, i) => add(d.cluster, `${at}.dynamic_active_clusters[${i}].cluster`));
        if (dump.message.dynamicWarmingClusters.length > 0) skipped.push(`${at}.dynamic_warming_clusters`);
        break;
      case TYPE_URL.RoutesConfigDump:
        dump.message.staticRouteConfigs.forEach((s, i) => add(s.routeConfig, `${at}.static_route_configs[${i}].route_config`, i));
        dump.message.dynamicRouteConfigs.forEach((d, i) => add(d.routeConfig, `${at}.dynamic_route_configs[${i}].route_config`));
        break;
      case TYPE_URL.EndpointsConfigDump:
        dump.message.staticEndpointConfigs.forEach((s, i) => add(s.endpointConfig, `${at}.static_endpoint_configs[${i}].endpoint_config`));
        dump.message.dynamicEndpointConfigs.forEach((d, i) => add(d.endpointConfig, `${at}.dynamic_endpoint_configs[${i}].endpoint_config`));
        break;
      case TYPE_URL.SecretsConfigDump:
        dump.message.staticSecrets.forEach((s, i) => add(s.secret, `${at}.static_secrets[${i}].secret`));
        dump.message.dynamicActiveSecrets.forEach((d, i) => add(d.secret, `${at}.dynamic_active_secrets[${i}].secret`));
        if (dump.message.dynamicWarmingSecrets.length > 0) skipped.push(`${at}.dynamic_warming_secrets`);
        break;
      default:
        skipped.push(`${at} (${dump.typeUrl})`);
    }
  });
  return errors.length > 0 ? err(errors) : ok({ resources, skipped });
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

function fromResourceList(list: unknown[]): Result<DocumentResources, DocumentError[]> {
  const errors: DocumentError[] = [];
  const resources: XdsResource[] = [];
  list.forEach((item, i) => {
    const at = `resources[${i}]`;
    const typeUrl = isObject(item) ? item['@type'] : undefined;
    if (!isObject(item) || typeof typeUrl !== 'string') {
      errors.push({ path: `${at}.@type`, message: 'missing @type' });
      return;
    }
    const { '@type': _ignored, ...body } = item;
    const resource = resourceFromJson(typeUrl, body, at, errors);
    if (resource) resources.push(resource);
  });
  return errors.length > 0 ? err(errors) : ok({ resources, skipped: [] });
}

export function resourcesOfDocument(document: unknown): Result<DocumentResources, DocumentError[]> {
  if (!isObject(document)) return err([{ path: '', message: 'expected an object (a config dump, a bootstrap or a resource list)' }]);
  if (Array.isArray(document.configs)) return fromConfigDump(document);
  if (isObject(document.bootstrap) && !('static_resources' in document) && !('staticResources' in document)) {
    const parsed = parseProtoJson('envoy.config.bootstrap.v3.Bootstrap', document.bootstrap);
    return parsed.ok ? ok(fromBootstrap(parsed.value, 'bootstrap.')) : err(prefixed('bootstrap', parsed.error));
  }
  if ('static_resources' in document || 'staticResources' in document || 'dynamic_resources' in document || 'node' in document || 'admin' in document) {
    const parsed = parseProtoJson('envoy.config.bootstrap.v3.Bootstrap', document);
    return parsed.ok ? ok(fromBootstrap(parsed.value, '')) : err(prefixed('', parsed.error).map((e) => ({ ...e, path: e.path.replace(/^\./, '') })));
  }
  if (Array.isArray(document.resources)) return fromResourceList(document.resources);
  if (typeof document['@type'] === 'string') return fromResourceList([document]);
  return err([{ path: '', message: 'not an Envoy config dump (configs), bootstrap (static_resources) or resource list (resources)' }]);
}
