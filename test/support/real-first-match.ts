// First match through a real APISIX: a snapshot is translated, delivered by a real sink, and every
// request is sent over a socket; the route APISIX served (it tells with a response header each route
// gets here) is compared with Envoy's reference matcher and with the model of APISIX's router that
// the property tests rely on, so the model itself is checked against APISIX.
import { connect } from 'node:net';
import type { ApisixRoute } from '../../src/adapters/apisix/apisix-types.js';
import { translateSnapshot, type RouteOrigin } from '../../src/adapters/apisix/translate.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig, objectKey, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { JsonObject } from '../../src/domain/json.js';
import type { MeshSnapshot } from '../../src/domain/snapshot.js';
import type { ApplyResult, ConfigSink } from '../../src/ports/config-sink.js';
import { ApisixRouter } from './apisix-matcher.js';
import { envoyMatch, isNotFound, type BoundTable, type EnvoyChoice, type TestRequest } from './envoy-matcher.js';
import { bindingsOf, checkFirstMatch } from './first-match.js';

export const ROUTE_HEADER = 'x-amesh-route';
const PROBE_HOST = 'probe.amesh.invalid';
const PROBE_KEY = 'routes/amesh-probe';

export interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

function dechunk(raw: string): string {
  let body = '';
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = eol < 0 ? 0 : parseInt(raw.slice(at, eol), 16);
    if (!size) return body;
    body += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** One HTTP/1.1 request written as is (any path, Host and method), Connection: close. */
export function rawRequest(ip: string, request: TestRequest, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port: request.port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${ip}:${request.port} within ${timeoutMs} ms`)));
    socket.on('connect', () => {
      const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${request.host}`];
      for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
      lines.push('Connection: close', '', '');
      socket.write(lines.join('\r\n'));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = text.slice(0, split < 0 ? text.length : split).split('\r\n');
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        // Repeated fields are one list (RFC 9110 5.3), as clients see them.
        headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
      }
      const raw = split < 0 ? '' : text.slice(split + 4);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: headers.get('transfer-encoding') === 'chunked' ? dechunk(raw) : raw });
    });
  });
}

/**
 * The configuration as delivered in these tests: every route says who it is (a response header), every
 * upstream and mirror points at `backend` (the clusters' own endpoints are not reachable here), and a probe route
 * answers the version so a test knows when the configuration is live.
 */
export function deliverable(config: GatewayConfig, backend: { host: string; port: number }): GatewayConfig {
  const objects: GatewayObject[] = [];
  for (const object of config.objects.values()) {
    if (object.kind === 'routes') {
      const plugins = { ...((object.value.plugins as JsonObject | undefined) ?? {}) };
      const rewrite = (plugins['response-rewrite'] as JsonObject | undefined) ?? {};
      const headers = (rewrite.headers as JsonObject | undefined) ?? {};
      plugins['response-rewrite'] = { ...rewrite, headers: { ...headers, set: { ...((headers.set as JsonObject | undefined) ?? {}), [ROUTE_HEADER]: object.id } } };
      // Mirrors too: the fixtures' mirror hosts are names no resolver here knows.
      if (plugins['proxy-mirror']) plugins['proxy-mirror'] = { ...(plugins['proxy-mirror'] as JsonObject), host: `http://${backend.host}:${backend.port}` };
      objects.push({ ...object, value: { ...object.value, plugins } });
    } else if (object.kind === 'upstreams') {
      const { tls: _tls, checks: _checks, ...rest } = object.value;
      objects.push({ ...object, value: { ...rest, scheme: 'http', nodes: [{ host: backend.host, port: backend.port, weight: 1 }] } });
    } else objects.push(object);
  }
  return withProbe(GatewayConfig.of(config.version, objects));
}

/** `config` plus a route that answers its version (Host probe.amesh.invalid), for `deliver` to wait on. */
export function withProbe(config: GatewayConfig): GatewayConfig {
  const probe: GatewayObject = {
    kind: 'routes',
    id: 'amesh-probe',
    value: {
      id: 'amesh-probe',
      uri: '/__amesh_probe',
      hosts: [PROBE_HOST],
      priority: 1_000_000,
      labels: { 'managed-by': 'amesh-ts' },
      status: 1,
      plugins: { 'fault-injection': { abort: { http_status: 200, body: config.version } } },
    },
  };
  return GatewayConfig.of(config.version, [...config.objects.values(), probe]);
}

/** Applies `next` (made with withProbe) after `previous` through `sink`, then waits until APISIX serves it. */
export async function deliver(sink: ConfigSink, previous: GatewayConfig, next: GatewayConfig, ip: string, port: number): Promise<ApplyResult> {
  // Sinks that write object by object (Admin API, etcd) may land the probe before other routes, and a
  // data plane watching etcd then serves the new probe with old routes: the probe goes in last, alone.
  const probeFirst = previous.objects.get(PROBE_KEY);
  if (probeFirst && /^(admin|etcd):/.test(sink.target)) {
    const withoutNewProbe = GatewayConfig.of(
      next.version,
      [...next.objects.values()].map((o) => (objectKey(o.kind, o.id) === PROBE_KEY ? probeFirst : o)),
    );
    const staged = await sink.apply({ desired: withoutNewProbe, changes: diffConfigs(previous, withoutNewProbe) });
    if (staged.failed.length > 0) throw new Error(`${sink.target} refused ${next.version}: ${JSON.stringify(staged.failed.slice(0, 3))}`);
    previous = withoutNewProbe;
  }
  const result = await sink.apply({ desired: next, changes: diffConfigs(previous, next) });
  if (result.failed.length > 0) throw new Error(`${sink.target} refused ${next.version}: ${JSON.stringify(result.failed.slice(0, 3))}`);
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await rawRequest(ip, { port, host: PROBE_HOST, path: '/__amesh_probe', method: 'GET', headers: {} }, 2000);
      if (response.status === 200 && response.body === next.version) return result;
      last = `${response.status} ${response.body.slice(0, 80)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${sink.target}: version ${next.version} not served within 15 s (last probe: ${last})`);
}

export interface RealFirstMatch {
  /** Requests sent. */
  readonly requests: number;
  /** Generated requests that no HTTP/1.1 client can send (a space in the path), left out. */
  readonly unsendable: number;
  /** Requests on which APISIX chose what Envoy chooses. */
  readonly agreeWithEnvoy: number;
  /** Disagreements with Envoy that the translation reports (Host with a port, as APISIX's $host drops it). */
  readonly documented: number;
  /** Requests on which APISIX did not do what the router model predicts. */
  readonly modelMismatches: readonly string[];
  /** Requests on which APISIX disagrees with Envoy outside what is reported. */
  readonly envoyMismatches: readonly string[];
}

function agrees(envoy: EnvoyChoice, origin: RouteOrigin | undefined): boolean {
  if (isNotFound(envoy)) return origin === undefined || origin.route === undefined;
  return origin !== undefined && origin.table === envoy.table && origin.virtualHost === envoy.virtualHost && origin.route === envoy.route;
}

export interface RealCase {
  readonly snapshot: MeshSnapshot;
  readonly requests: readonly TestRequest[];
}

/**
 * Delivers the case's translation and sends its requests to the instance at `ip`. `previous` is what
 * the sink holds; the delivered configuration is returned for the next case.
 */
export async function firstMatchThroughApisix(
  kase: RealCase,
  options: {
    readonly sink: ConfigSink;
    readonly previous: GatewayConfig;
    readonly ip: string;
    readonly probePort: number;
    readonly backend: { host: string; port: number };
    readonly version: string;
  },
): Promise<{ readonly report: RealFirstMatch; readonly delivered: GatewayConfig }> {
  const portVariable = 'server_port';
  const translated = translateSnapshot({ ...kase.snapshot, version: options.version }, { portVariable });
  if (!translated.ok) throw new Error(`translation failed: ${JSON.stringify(translated.error)}`);
  const { config, routeOrigins } = translated.value;
  const delivered = deliverable(config, options.backend);
  await deliver(options.sink, options.previous, delivered, options.ip, options.probePort);
  const model = checkFirstMatch(kase.snapshot, kase.requests, { portVariable });
  const documented = new Set(model.hostPort.map((d) => d.request));
  const router = new ApisixRouter(config.ofKind('routes').map((o) => o.value as unknown as ApisixRoute));
  const bindings: BoundTable[] = bindingsOf(kase.snapshot);
  const modelMismatches: string[] = [];
  const envoyMismatches: string[] = [];
  let agreeWithEnvoy = 0;
  let unsendable = 0;
  for (const request of kase.requests) {
    // A request line is ASCII without spaces or controls: the generators' decoded paths with a space
    // cannot go over HTTP/1.1 (Envoy and nginx both answer 400 before routing).
    if (!/^[\x21-\x7e]*$/.test(request.path) || !/^[\x21-\x7e]*$/.test(request.host)) {
      unsendable += 1;
      continue;
    }
    const response = await rawRequest(options.ip, request);
    const served = response.headers.get(ROUTE_HEADER);
    const predicted = router.match(request, { portVariable });
    const describe = (): string => `${JSON.stringify(request)} → APISIX ${response.status} route ${served ?? '-'}; model ${predicted ?? '-'}`;
    if ((served ?? undefined) !== predicted) modelMismatches.push(describe());
    const envoy = envoyMatch(bindings, request);
    if (envoy === 'ambiguous') throw new Error('unreachable: the port variable tells the tables apart');
    if (agrees(envoy, served === undefined ? undefined : routeOrigins.get(served))) agreeWithEnvoy += 1;
    else if (!documented.has(request)) envoyMismatches.push(`${describe()}; Envoy ${JSON.stringify(envoy)}`);
  }
  return {
    report: { requests: kase.requests.length - unsendable, unsendable, agreeWithEnvoy, documented: documented.size, modelMismatches, envoyMismatches },
    delivered,
  };
}
