// APISIX's Admin API (v3, etcd-backed: traditional or control_plane role) as an ObjectStore:
// GET /apisix/admin/<kind> lists, PUT and DELETE /apisix/admin/<kind>/<id> write. 201/200 on PUT and
// 200 on DELETE succeed, a 404 on DELETE means already gone; 4xx bodies carry {"error_msg"} (404s
// {"message"}), which the reason quotes.
import { GATEWAY_KINDS, type GatewayKind } from '../../domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../domain/json.js';
import type { SecretText } from '../../domain/secret-text.js';
import { HttpJsonClient, type HttpOutcome, type HttpRequest } from '../apisix/http-json.js';
import { withoutTimestamps, type ListOutcome, type ObjectStore, type OpOutcome, type StoreOp, type StoredObject } from '../apisix/object-store.js';
import { failureOf, messageOf, refusalOf } from '../apisix/admin-reply.js';
import { mapBounded } from '../apisix/retry.js';

export interface AdminApiStoreOptions {
  readonly baseUrl: string;
  readonly apiKey: SecretText | undefined;
  readonly concurrency: number;
  readonly timeoutMs: number;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

export class AdminApiStore implements ObjectStore {
  readonly target: string;
  private readonly http: HttpJsonClient;

  constructor(private readonly options: AdminApiStoreOptions) {
    this.http = new HttpJsonClient({ baseUrl: options.baseUrl, timeoutMs: options.timeoutMs, maxSockets: options.concurrency });
    this.target = `admin:${this.http.origin}`;
  }

  private send(request: HttpRequest): Promise<HttpOutcome> {
    const key = this.options.apiKey?.reveal();
    return this.http.send(key ? { ...request, headers: { ...request.headers, 'x-api-key': key } } : request);
  }

  async list(kinds: readonly GatewayKind[] = GATEWAY_KINDS): Promise<ListOutcome> {
    const objects: StoredObject[] = [];
    const closed = new Map<GatewayKind, string>();
    for (const kind of kinds) {
      const path = `/apisix/admin/${kind}`;
      const outcome = await this.send({ method: 'GET', path });
      // A 400 to a list is not about any object: APISIX refuses the whole kind, e.g. stream_routes while
      // `apisix.proxy_mode` is `http` (admin/init.lua). The other kinds can still be kept in step.
      if (outcome.ok && outcome.reply.status === 400) {
        closed.set(kind, `GET ${path}: 400 ${messageOf(outcome.reply.body)}`);
        continue;
      }
      if (!outcome.ok || outcome.reply.status !== 200) return failureOf(outcome, `GET ${path}`);
      let body: unknown;
      try {
        body = JSON.parse(outcome.reply.body);
      } catch {
        return { ok: false, transient: false, reason: `GET ${path}: the answer is not JSON` };
      }
      // An empty list is `{"list":{},"total":0}` from Lua's empty table.
      const list: JsonValue = isObject(body) ? (body.list ?? []) : [];
      for (const item of Array.isArray(list) ? list : []) {
        if (!isObject(item) || !isObject(item.value)) continue;
        const id = item.value.id;
        if (typeof id !== 'string' && typeof id !== 'number') continue;
        objects.push({ kind, id: String(id), value: item.value });
      }
    }
    return closed.size > 0 ? { ok: true, objects, closed } : { ok: true, objects };
  }

  write(ops: readonly StoreOp[]): Promise<OpOutcome[]> {
    return mapBounded(ops, this.options.concurrency, (op) => this.writeOne(op));
  }

  private async writeOne(op: StoreOp): Promise<OpOutcome> {
    if (op.op === 'put') {
      const path = `/apisix/admin/${op.object.kind}/${encodeURIComponent(op.object.id)}`;
      const outcome = await this.send({ method: 'PUT', path, body: JSON.stringify(op.object.value) });
      if (outcome.ok && (outcome.reply.status === 200 || outcome.reply.status === 201)) return { ok: true };
      return refusalOf(outcome, `PUT ${path}`);
    }
    const path = `/apisix/admin/${op.kind}/${encodeURIComponent(op.id)}`;
    const outcome = await this.send({ method: 'DELETE', path });
    // 404: already gone (deleted behind the agent's back, or an earlier attempt landed before its answer was lost).
    if (outcome.ok && (outcome.reply.status === 200 || outcome.reply.status === 404)) return { ok: true };
    return failureOf(outcome, `DELETE ${path}`);
  }

  comparable(kind: GatewayKind, value: JsonObject): JsonObject {
    const shown = withoutTimestamps(value);
    if (kind !== 'ssls') return shown;
    // GET never returns ssl private keys (and PUT stores them encrypted).
    const { key: _key, keys: _keys, ...rest } = shown;
    return rest;
  }

  close(): void {
    this.http.close();
  }
}
