// An APISIX-compatible Admin API for tests: the v3 per-resource endpoints of an etcd-backed APISIX
// (traditional role) or, in standalone mode, only /apisix/admin/configs, with APISIX's status codes and
// bodies (apisix/admin/resource.lua, standalone.lua, config_validate.lua at 3.18; see
// ../shared/notes/apisix-contract.md §2.2–3). Objects are checked against ../shared/apisix-schemas
// when given, references between objects are enforced, `proxyMode: 'http'` refuses stream_routes as
// APISIX's default does (../shared/notes/real-apisix.md), and faults can be injected: error statuses,
// delays, and connections dropped before or after the write took effect.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GATEWAY_KINDS, type GatewayKind } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { ApisixSchemas } from './apisix-schemas.js';
import { prng } from '../../bench/prng.js';

export type Fault =
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'delay'; readonly ms: number }
  /** before: the request is lost; after: it took effect but the answer is lost. */
  | { readonly kind: 'drop'; readonly when: 'before' | 'after' };

export interface RequestInfo {
  readonly method: string;
  readonly path: string;
}

interface ScriptedFault {
  readonly fault: Fault;
  remaining: number;
  readonly match: (request: RequestInfo) => boolean;
}

export interface AdminServerOptions {
  /** The oracle; without it only JSON shape and ids are checked. */
  readonly schemas?: ApisixSchemas | undefined;
  /** X-API-KEY required on every request; undefined = admin_key_required: false. */
  readonly apiKey?: string | undefined;
  /** traditional: /apisix/admin/<kind>/<id>; standalone: only /apisix/admin/configs (APISIX ≥ 3.13). */
  readonly mode?: 'traditional' | 'standalone';
  /**
   * APISIX's `apisix.proxy_mode`; default `http&stream` (everything served). With `http` — APISIX's
   * own default — every /apisix/admin/stream_routes request is refused (see STREAM_MODE_DISABLED).
   */
  readonly proxyMode?: ProxyMode;
}

export type ProxyMode = 'http' | 'stream' | 'http&stream';

/**
 * APISIX 3.18's answer (admin/init.lua, after the key check) to any request for stream_routes, GET and
 * list included, while `apisix.proxy_mode` is `http`.
 */
export const STREAM_MODE_DISABLED: JsonObject = { error_msg: 'stream mode is disabled, can not add stream routes' };

interface Stored {
  value: JsonObject;
  readonly createdIndex: number;
  modifiedIndex: number;
}

interface Reply {
  readonly status: number;
  readonly body?: JsonValue;
  readonly headers?: Record<string, string>;
}

const SINGULAR: Record<GatewayKind, string> = {
  routes: 'route',
  upstreams: 'upstream',
  ssls: 'ssl',
  services: 'service',
  plugin_configs: 'plugin config',
  stream_routes: 'stream route',
  global_rules: 'global rule',
};
const ID_PATTERN = /^[a-zA-Z0-9-_.]{1,64}$/;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const isKind = (text: string): text is GatewayKind => (GATEWAY_KINDS as readonly string[]).includes(text);
const idText = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);

/** The references APISIX's Admin API checks on PUT (and refuses to delete while they exist). */
function referencesChecked(kind: GatewayKind, value: JsonObject): [GatewayKind, string][] {
  const out: [GatewayKind, string][] = [];
  const add = (target: GatewayKind, id: JsonValue | undefined): void => {
    const text = idText(id);
    if (text !== undefined) out.push([target, text]);
  };
  if (kind === 'routes' || kind === 'services' || kind === 'stream_routes') add('upstreams', value.upstream_id);
  if (kind === 'routes' || kind === 'stream_routes') add('services', value.service_id);
  if (kind === 'routes') add('plugin_configs', value.plugin_config_id);
  const tls = kind === 'upstreams' ? value.tls : isObject(value.upstream) ? value.upstream.tls : undefined;
  if (isObject(tls)) add('ssls', tls.client_cert_id);
  return out;
}

/** The whole-configuration body of `PUT /configs` (and `/configs/validate`), or APISIX's 400 for it. */
function parseStandaloneBody(text: string): { readonly body: JsonObject } | { readonly refusal: Reply } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { refusal: { status: 400, body: { error_msg: `invalid request body: ${(error as Error).message}` } } };
  }
  return isObject(body) ? { body } : { refusal: { status: 400, body: { error_msg: 'invalid request body: not an object' } } };
}

export class ApisixAdminServer {
  readonly objects = new Map<string, Stored>();
  /** Every request that reached the handler, in order (faulted ones included). */
  readonly requests: RequestInfo[] = [];
  /** Standalone: conf_version per kind after every accepted PUT, in order. */
  readonly confVersionHistory: Record<string, number>[] = [];
  /** Most requests handled at the same time, and TCP connections accepted (keep-alive shows as few). */
  maxInFlight = 0;
  connections = 0;
  private inFlight = 0;
  private revision = 1;
  private scripted: ScriptedFault[] = [];
  private chaos: { rate: number; faults: readonly Fault[]; random: () => number; match: (r: RequestInfo) => boolean } | undefined;
  private standalone: JsonObject | undefined;
  private clock = 1_700_000_000;
  /** APISIX's proxy_mode; a test changes it to play an APISIX reloaded with another config.yaml. */
  proxyMode: ProxyMode;

  private constructor(
    private readonly server: http.Server,
    private readonly options: AdminServerOptions,
  ) {
    this.proxyMode = options.proxyMode ?? 'http&stream';
  }

  static async start(options: AdminServerOptions = {}): Promise<ApisixAdminServer> {
    const server = http.createServer();
    const admin = new ApisixAdminServer(server, options);
    server.on('request', (req, res) => {
      admin.inFlight += 1;
      admin.maxInFlight = Math.max(admin.maxInFlight, admin.inFlight);
      void admin.handle(req, res).finally(() => (admin.inFlight -= 1));
    });
    server.on('connection', () => (admin.connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return admin;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- fault injection ----

  /** The next `times` requests that `match` get `fault`. */
  inject(fault: Fault, times = 1, match: (request: RequestInfo) => boolean = () => true): void {
    this.scripted.push({ fault, remaining: times, match });
  }

  /** Drops the scripted faults not yet used. */
  clearFaults(): void {
    this.scripted = [];
  }

  /** From now on, each matching request gets one of `faults` with probability `rate` (seeded). */
  startChaos(rate: number, seed: number, faults: readonly Fault[], match: (r: RequestInfo) => boolean = () => true): void {
    this.chaos = { rate, faults, random: prng(seed), match };
  }

  stopChaos(): void {
    this.chaos = undefined;
  }

  private faultFor(request: RequestInfo): Fault | undefined {
    const scripted = this.scripted.find((s) => s.remaining > 0 && s.match(request));
    if (scripted) {
      scripted.remaining -= 1;
      return scripted.fault;
    }
    if (this.chaos && this.chaos.match(request) && this.chaos.random() < this.chaos.rate) {
      return this.chaos.faults[Math.floor(this.chaos.random() * this.chaos.faults.length)];
    }
    return undefined;
  }

  // ---- out-of-band changes (someone else using the Admin API or etcd) ----

  putDirect(kind: GatewayKind, id: string, value: JsonObject): void {
    const key = `${kind}/${id}`;
    const previous = this.objects.get(key);
    const stored = { ...value, id, create_time: (previous?.value.create_time as number | undefined) ?? this.now(), update_time: this.now() };
    this.revision += 1;
    if (previous) Object.assign(previous, { value: stored, modifiedIndex: this.revision });
    else this.objects.set(key, { value: stored, createdIndex: this.revision, modifiedIndex: this.revision });
  }

  deleteDirect(kind: GatewayKind, id: string): boolean {
    return this.objects.delete(`${kind}/${id}`);
  }

  /** What is stored, keyed `kind/id`, without the timestamps the server added. */
  stored(): Map<string, JsonObject> {
    const out = new Map<string, JsonObject>();
    for (const [key, { value }] of this.objects) {
      const { create_time: _c, update_time: _u, ...rest } = value;
      out.set(key, rest);
    }
    return out;
  }

  /** Standalone: the stored document (conf versions, items, metadata), or undefined before any PUT. */
  get standaloneDocument(): JsonObject | undefined {
    return this.standalone;
  }

  /** Standalone: APISIX restarted (API-driven standalone starts empty). */
  resetStandalone(): void {
    this.standalone = undefined;
  }

  countRequests(method: string, pathPrefix = ''): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)).length;
  }

  // ---- request handling ----

  private now(): number {
    // Whole seconds like ngx.time(), but strictly increasing so tests can tell writes apart.
    this.clock += 1;
    return this.clock;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://admin');
    const request: RequestInfo = { method: req.method ?? 'GET', path: url.pathname };
    this.requests.push(request);
    const fault = this.faultFor(request);
    if (fault?.kind === 'drop' && fault.when === 'before') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      this.send(res, { status: fault.status, body: { error_msg: `injected fault ${fault.status}` } });
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    const reply = this.route(req, url, Buffer.concat(chunks).toString('utf8'));
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (!res.destroyed) this.send(res, reply);
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json', 'x-api-version': 'v3', ...reply.headers });
    res.end(text);
  }

  private authorised(req: http.IncomingMessage, url: URL): Reply | undefined {
    if (this.options.apiKey === undefined) return undefined;
    const given = req.headers['x-api-key'] ?? url.searchParams.get('api_key') ?? undefined;
    if (given === this.options.apiKey) return undefined;
    return { status: 401, body: { error_msg: 'failed to check token', description: given === undefined ? 'missing apikey' : 'wrong apikey' } };
  }

  private route(req: http.IncomingMessage, url: URL, body: string): Reply {
    const denied = this.authorised(req, url);
    if (denied) return denied;
    const method = req.method ?? 'GET';
    if (url.pathname === '/apisix/admin' && method === 'HEAD') return { status: 200 };
    if ((this.options.mode ?? 'traditional') === 'standalone') return this.routeStandalone(method, url.pathname, req.headers, body);
    const match = /^\/apisix\/admin\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match) return { status: 404, body: { error_msg: 'Not found' } };
    const [, kindText, rawId] = match;
    if (!isKind(kindText!)) return { status: 404, body: { error_msg: `Unsupported resource type: ${kindText}` } };
    const kind = kindText;
    if (kind === 'stream_routes' && this.proxyMode === 'http') return { status: 400, body: STREAM_MODE_DISABLED };
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
    if (method === 'GET' && id === undefined) return this.list(kind);
    if (id === undefined) return { status: 405, body: { error_msg: `not supported \`${method}\` method for ${SINGULAR[kind]}` } };
    if (method === 'GET') return this.get(kind, id);
    if (method === 'PUT') return this.put(kind, id, body);
    if (method === 'DELETE') return this.remove(kind, id);
    return { status: 405, body: { error_msg: `not supported \`${method}\` method for ${SINGULAR[kind]}` } };
  }

  private shown(kind: GatewayKind, value: JsonObject): JsonObject {
    if (kind !== 'ssls') return value;
    const { key: _k, keys: _ks, ...rest } = value;
    return rest;
  }

  private list(kind: GatewayKind): Reply {
    const list: JsonValue[] = [];
    for (const [key, stored] of this.objects) {
      if (!key.startsWith(`${kind}/`)) continue;
      list.push({ key: `/apisix/${key}`, value: this.shown(kind, stored.value), createdIndex: stored.createdIndex, modifiedIndex: stored.modifiedIndex });
    }
    return { status: 200, body: { list, total: list.length } };
  }

  private get(kind: GatewayKind, id: string): Reply {
    const stored = this.objects.get(`${kind}/${id}`);
    if (!stored) return { status: 404, body: { message: 'Key not found' } };
    return { status: 200, body: { key: `/apisix/${kind}/${id}`, value: this.shown(kind, stored.value), createdIndex: stored.createdIndex, modifiedIndex: stored.modifiedIndex } };
  }

  private put(kind: GatewayKind, id: string, text: string): Reply {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      return { status: 400, body: { error_msg: `invalid request body: ${(error as Error).message}`, req_body: text.slice(0, 200) } };
    }
    if (!isObject(body)) return { status: 400, body: { error_msg: 'invalid request body: not an object' } };
    if (body.id !== undefined && idText(body.id) !== id) return { status: 400, body: { error_msg: `wrong ${SINGULAR[kind]} id` } };
    if (!ID_PATTERN.test(id))
      return { status: 400, body: { error_msg: `invalid configuration: property "id" validation failed: failed to match pattern "^[a-zA-Z0-9-_.]+$" with "${id}"` } };
    for (const forbidden of ['create_time', 'update_time']) {
      if (forbidden in body) return { status: 400, body: { error_msg: `the property is forbidden:  ${forbidden}` } };
    }
    const value: JsonObject = { ...body, id };
    const invalid = this.options.schemas?.objectError(kind, value);
    if (invalid) return { status: 400, body: { error_msg: invalid } };
    for (const [target, targetId] of referencesChecked(kind, value)) {
      const referenced = this.objects.get(`${target}/${targetId}`);
      if (!referenced) return { status: 400, body: { error_msg: `failed to fetch ${SINGULAR[target]} info by ${SINGULAR[target]} id [${targetId}], response code: 404` } };
      if (target === 'ssls' && referenced.value.type !== 'client') return { status: 400, body: { error_msg: `failed to fetch ssl info by ssl id [${targetId}], wrong ssl type` } };
    }
    const key = `${kind}/${id}`;
    const previous = this.objects.get(key);
    const now = this.now();
    this.revision += 1;
    const stored: JsonObject = { ...value, create_time: (previous?.value.create_time as number | undefined) ?? now, update_time: now };
    if (previous) {
      previous.value = stored;
      previous.modifiedIndex = this.revision;
    } else {
      this.objects.set(key, { value: stored, createdIndex: this.revision, modifiedIndex: this.revision });
    }
    return { status: previous ? 200 : 201, body: { key: `/apisix/${key}`, value: stored } };
  }

  private remove(kind: GatewayKind, id: string): Reply {
    const key = `${kind}/${id}`;
    if (!this.objects.has(key)) return { status: 404, body: { message: 'Key not found' } };
    for (const [otherKey, other] of this.objects) {
      const otherKind = otherKey.slice(0, otherKey.indexOf('/')) as GatewayKind;
      if (referencesChecked(otherKind, other.value).some(([k, i]) => k === kind && i === id)) {
        return { status: 400, body: { error_msg: `can not delete this ${SINGULAR[kind]}, ${SINGULAR[otherKind]} [${idText(other.value.id)}] is still using it now` } };
      }
    }
    this.objects.delete(key);
    this.revision += 1;
    return { status: 200, body: { deleted: '1', key: `/apisix/${key}` } };
  }

  // ---- standalone (API-driven, APISIX ≥ 3.13) ----

  private standaloneHeaders(): Record<string, string> {
    const doc = this.standalone;
    if (!doc) return {};
    return { 'x-digest': String(doc['X-Digest']), 'x-last-modified': String(doc['X-Last-Modified']) };
  }

  private routeStandalone(method: string, path: string, headers: http.IncomingHttpHeaders, text: string): Reply {
    if (path === '/apisix/admin/configs/validate' && method === 'POST') return this.validateStandalone(text);
    if (path !== '/apisix/admin/configs') return { status: 404, body: { error_msg: 'Not found' } };
    if (method === 'HEAD') return { status: 200, headers: this.standaloneHeaders() };
    if (method === 'GET') {
      const empty = Object.fromEntries(GATEWAY_KINDS.map((k) => [`${k}_conf_version`, 0]));
      return { status: 200, body: this.standalone ?? empty, headers: this.standaloneHeaders() };
    }
    if (method !== 'PUT') return { status: 405, body: { error_msg: `not supported \`${method}\` method` } };
    const digest = headers['x-digest'];
    if (typeof digest !== 'string') return { status: 400, body: { error_msg: 'missing digest header' } };
    if (text.length === 0) return { status: 400, body: { error_msg: 'invalid request body: empty request body' } };
    const parsed = parseStandaloneBody(text);
    if ('refusal' in parsed) return parsed.refusal;
    const { body } = parsed;
    if (this.standalone && this.standalone['X-Digest'] === digest) return { status: 204 };
    const errors = this.standaloneErrors(body);
    if (errors.length > 0) return { status: 400, body: { error_msg: errors[0]!.error } };
    const next: JsonObject = {};
    for (const kind of GATEWAY_KINDS) {
      const versionKey = `${kind}_conf_version`;
      const stored = typeof this.standalone?.[versionKey] === 'number' ? (this.standalone[versionKey] as number) : 0;
      const given = body[versionKey];
      let version: number;
      if (given !== undefined) {
        if (typeof given !== 'number') return { status: 400, body: { error_msg: `${versionKey} must be a number` } };
        if (given < stored) return { status: 400, body: { error_msg: `${versionKey} must be greater than or equal to (${stored})` } };
        version = given;
      } else {
        version = stored + 1;
      }
      next[versionKey] = version;
      const items = body[kind];
      if (version === stored) {
        if (this.standalone?.[kind] !== undefined) next[kind] = this.standalone[kind]!;
      } else if (Array.isArray(items) && items.length > 0) {
        next[kind] = this.mergeByModifiedIndex(kind, items);
      }
    }
    next['X-Last-Modified'] = this.now();
    next['X-Digest'] = digest;
    this.standalone = next;
    this.confVersionHistory.push(Object.fromEntries(GATEWAY_KINDS.map((k) => [k, next[`${k}_conf_version`] as number])));
    return { status: 202, headers: this.standaloneHeaders() };
  }

  /** An item whose modifiedIndex equals the stored one keeps the stored object (APISIX's config_yaml). */
  private mergeByModifiedIndex(kind: GatewayKind, items: JsonValue[]): JsonValue[] {
    const previous = new Map<string, JsonObject>();
    const old = this.standalone?.[kind];
    for (const item of Array.isArray(old) ? old : []) if (isObject(item)) previous.set(String(item.id), item);
    return items.map((item) => {
      if (!isObject(item)) return item;
      const before = previous.get(String(item.id));
      return before && item.modifiedIndex !== undefined && before.modifiedIndex === item.modifiedIndex ? before : item;
    });
  }

  private standaloneErrors(body: JsonObject): { resource_type: string; resource_id: string; index: number; error: string }[] {
    const errors: { resource_type: string; resource_id: string; index: number; error: string }[] = [];
    for (const kind of GATEWAY_KINDS) {
      const items = body[kind];
      if (items === undefined) continue;
      if (!Array.isArray(items)) {
        errors.push({ resource_type: kind, resource_id: '', index: 0, error: `${kind} must be an array` });
        continue;
      }
      const seen = new Set<string>();
      items.forEach((item, index) => {
        const id = isObject(item) ? (idText(item.id) ?? '') : '';
        if (!isObject(item)) {
          errors.push({ resource_type: kind, resource_id: id, index, error: 'invalid item: not an object' });
          return;
        }
        const { modifiedIndex, ...value } = item;
        if (modifiedIndex !== undefined && !Number.isInteger(modifiedIndex)) {
          errors.push({ resource_type: kind, resource_id: id, index, error: 'invalid configuration: property "modifiedIndex" validation failed: wrong type: expected integer' });
          return;
        }
        const invalid = this.options.schemas?.objectError(kind, value);
        if (invalid) errors.push({ resource_type: kind, resource_id: id, index, error: invalid });
        if (seen.has(id)) errors.push({ resource_type: kind, resource_id: id, index, error: `found duplicate id ${id} in ${kind}` });
        seen.add(id);
      });
    }
    return errors;
  }

  private validateStandalone(text: string): Reply {
    const parsed = parseStandaloneBody(text);
    if ('refusal' in parsed) return parsed.refusal;
    const errors = this.standaloneErrors(parsed.body);
    if (errors.length === 0) return { status: 200, body: {} };
    return { status: 400, body: { error_msg: 'Configuration validation failed', errors } };
  }
}
