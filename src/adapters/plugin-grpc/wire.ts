// The plugin delivery protocol between `amesh controller` and the sidecars: one bidirectional gRPC
// stream per sidecar, `/amesh.plugins.v1.PluginDelivery/Subscribe`. Messages are JSON (the plugin
// configs are free-form JSON objects anyway, which protobuf would carry as Struct); every message is
// checked field by field on arrival, so a peer of another version fails with a named field.
//   sidecar → controller: {subscribe: {namespace, pod}} first, then {report: {version, problems}}
//   controller → sidecar: {set: {version, plugins}} — the pod's whole merged set, newest first
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { JsonObject, JsonValue } from '../../domain/json.js';
import type { MergedPlugin } from '../../domain/plugins/merge.js';
import { PLUGIN_PHASES, type PluginPhase } from '../../domain/plugins/plugin-config.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { PluginProblem, PluginReport, PodPluginSet } from '../../ports/plugin-config-source.js';

export const SUBSCRIBE_PATH = '/amesh.plugins.v1.PluginDelivery/Subscribe';

/**
 * Trailer of an UNAVAILABLE status from a controller replica that does not deliver (not the leader,
 * not ready yet): the sidecar retries soon, on a new connection, so the Service sends it elsewhere.
 */
export const PAUSED_TRAILER = 'amesh-delivery-paused';

export type SidecarMessage = { readonly subscribe: { readonly namespace: string; readonly pod: string } } | { readonly report: PluginReport };

export interface ControllerMessage {
  readonly set: PodPluginSet;
}

/** A message that failed to decode: the codec never throws, the stream handlers decide. */
export type Decoded<T> = Result<T, string>;

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isJsonValue = (v: unknown): v is JsonValue =>
  v === null || ['string', 'number', 'boolean'].includes(typeof v) || (Array.isArray(v) ? v.every(isJsonValue) : isObject(v) && Object.values(v).every(isJsonValue));

function parse(bytes: Buffer): Decoded<Fields> {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return isObject(value) ? ok(value) : err('the message is not a JSON object');
  } catch (e) {
    return err(`the message is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const str = (o: Fields, field: string, path: string): Decoded<string> =>
  typeof o[field] === 'string' && o[field] !== '' ? ok(o[field]) : err(`${path}.${field}: expected a non-empty string`);

const version = (o: Fields, path: string): Decoded<number> =>
  Number.isSafeInteger(o['version']) && (o['version'] as number) >= 0 ? ok(o['version'] as number) : err(`${path}.version: expected a non-negative integer`);

const phase = (o: Fields, path: string): Decoded<PluginPhase> =>
  PLUGIN_PHASES.includes(o['phase'] as PluginPhase) ? ok(o['phase'] as PluginPhase) : err(`${path}.phase: expected one of ${PLUGIN_PHASES.join(', ')}`);

function plugin(value: unknown, path: string): Decoded<MergedPlugin> {
  if (!isObject(value)) return err(`${path}: expected an object`);
  const name = str(value, 'name', path);
  if (!name.ok) return name;
  const source = str(value, 'source', path);
  if (!source.ok) return source;
  const ph = phase(value, path);
  if (!ph.ok) return ph;
  const config = value['config'];
  if (!isObject(config) || !isJsonValue(config)) return err(`${path}.config: expected a JSON object`);
  return ok({ name: name.value, phase: ph.value, source: source.value, config: config as JsonObject });
}

function problem(value: unknown, path: string): Decoded<PluginProblem> {
  if (!isObject(value)) return err(`${path}: expected an object`);
  const fields = ['name', 'source', 'reason'].map((f) => str(value, f, path));
  for (const f of fields) if (!f.ok) return f;
  const ph = phase(value, path);
  if (!ph.ok) return ph;
  const [name, source, reason] = fields.map((f) => (f as { value: string }).value) as [string, string, string];
  return ok({ name, source, reason, phase: ph.value });
}

function list<T>(value: unknown, path: string, item: (v: unknown, p: string) => Decoded<T>): Decoded<T[]> {
  if (!Array.isArray(value)) return err(`${path}: expected an array`);
  const out: T[] = [];
  for (const [i, v] of value.entries()) {
    const decoded = item(v, `${path}[${i}]`);
    if (!decoded.ok) return decoded;
    out.push(decoded.value);
  }
  return ok(out);
}

export function decodeSidecarMessage(bytes: Buffer): Decoded<SidecarMessage> {
  const message = parse(bytes);
  if (!message.ok) return message;
  const { subscribe, report } = message.value;
  if (isObject(subscribe)) {
    const namespace = str(subscribe, 'namespace', 'subscribe');
    if (!namespace.ok) return namespace;
    const pod = str(subscribe, 'pod', 'subscribe');
    if (!pod.ok) return pod;
    return ok({ subscribe: { namespace: namespace.value, pod: pod.value } });
  }
  if (isObject(report)) {
    const v = version(report, 'report');
    if (!v.ok) return v;
    const problems = list(report['problems'], 'report.problems', problem);
    if (!problems.ok) return problems;
    return ok({ report: { version: v.value, problems: problems.value } });
  }
  return err('expected a "subscribe" or a "report" object');
}

export function decodeControllerMessage(bytes: Buffer): Decoded<ControllerMessage> {
  const message = parse(bytes);
  if (!message.ok) return message;
  const set = message.value['set'];
  if (!isObject(set)) return err('set: expected an object');
  const v = version(set, 'set');
  if (!v.ok) return v;
  const plugins = list(set['plugins'], 'set.plugins', plugin);
  if (!plugins.ok) return plugins;
  return ok({ set: { version: v.value, plugins: plugins.value } });
}

export const encodeMessage = (message: SidecarMessage | ControllerMessage): Buffer => Buffer.from(JSON.stringify(message), 'utf8');

/** Controller side: requests arrive decoded-or-refused, responses are plain messages. */
export const PluginDeliveryService = {
  subscribe: {
    path: SUBSCRIBE_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (message: Decoded<SidecarMessage>) => (message.ok ? encodeMessage(message.value) : Buffer.alloc(0)),
    requestDeserialize: decodeSidecarMessage,
    responseSerialize: (message: ControllerMessage) => encodeMessage(message),
    responseDeserialize: (bytes: Buffer): ControllerMessage => {
      const decoded = decodeControllerMessage(bytes);
      if (!decoded.ok) throw new Error(decoded.error);
      return decoded.value;
    },
    originalName: 'subscribe',
  },
} satisfies ServiceDefinition;
