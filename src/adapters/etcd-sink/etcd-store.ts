// APISIX's etcd layout as an ObjectStore, through etcd's v3 JSON gateway (the same HTTP API APISIX's
// lua-resty-etcd speaks): `<prefix>/<kind>/<id>` → the object as APISIX's Admin API stores it (the body
// plus id, create_time and update_time in seconds; create_time kept across updates). Writes of one
// phase go in transactions of at most 128 operations (etcd's --max-txn-ops default), so a watcher
// sees one event per changed object and nothing for unchanged ones.
import { GATEWAY_KINDS, type GatewayKind } from '../../domain/gateway-config.js';
import type { JsonObject } from '../../domain/json.js';
import { failureOf } from '../apisix/admin-reply.js';
import { HttpJsonClient, type HttpOutcome, type HttpRequest } from '../apisix/http-json.js';
import { withoutTimestamps, type ListOutcome, type ObjectStore, type OpOutcome, type StoreOp, type StoredObject } from '../apisix/object-store.js';
import { mapBounded } from '../apisix/retry.js';

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members (http://host:2379); the next one is tried when one fails. */
  readonly endpoints: readonly string[];
  /** APISIX's `deployment.etcd.prefix`; default /apisix. */
  readonly prefix: string;
  /** Transactions in flight at once. */
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly maxOpsPerTxn?: number;
  /** Below etcd's --max-request-bytes default (1.5 MiB). */
  readonly maxTxnBytes?: number;
  /** Seconds since the epoch (APISIX uses ngx.time()). */
  readonly now?: () => number;
}

const PAGE = 1000;
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The key after every key starting with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  let i = bytes.length - 1;
  while (i >= 0 && bytes[i] === 0xff) i--;
  const end = Buffer.from(bytes.subarray(0, i + 1));
  end[i] = end[i]! + 1;
  return end.toString('base64');
}

interface EtcdOp {
  readonly request: JsonObject;
  readonly bytes: number;
  readonly createTime: number | undefined;
}

export class EtcdStore implements ObjectStore {
  readonly target: string;
  private readonly clients: HttpJsonClient[];
  private current = 0;
  private readonly prefix: string;

  constructor(private readonly options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: no endpoints');
    this.clients = options.endpoints.map((baseUrl) => new HttpJsonClient({ baseUrl, timeoutMs: options.timeoutMs, maxSockets: options.concurrency }));
    this.prefix = options.prefix.replace(/\/+$/, '');
    this.target = `etcd:${this.clients.map((c) => c.origin).join(',')}${this.prefix}`;
  }

  keyOf(kind: GatewayKind, id: string): string {
    return `${this.prefix}/${kind}/${id}`;
  }

  /** Sends to the current member; a member that does not answer hands over to the next one. */
  private async send(request: HttpRequest): Promise<HttpOutcome> {
    const start = this.current;
    const outcome = await this.clients[start]!.send(request);
    if (!outcome.ok && this.clients.length > 1) this.current = (start + 1) % this.clients.length;
    return outcome;
  }

  private async post(path: string, body: JsonObject): Promise<{ ok: true; body: JsonObject } | { ok: false; transient: boolean; reason: string }> {
    const outcome = await this.send({ method: 'POST', path, body: JSON.stringify(body) });
    if (!outcome.ok || outcome.reply.status !== 200) return failureOf(outcome, `etcd ${path}`);
    try {
      const parsed: unknown = JSON.parse(outcome.reply.body);
      if (isObject(parsed)) return { ok: true, body: parsed };
    } catch {
      // fall through
    }
    return { ok: false, transient: true, reason: `etcd ${path}: the answer is not JSON` };
  }

  async list(kinds: readonly GatewayKind[] = GATEWAY_KINDS): Promise<ListOutcome> {
    const objects: StoredObject[] = [];
    for (const kind of kinds) {
      const dir = `${this.prefix}/${kind}/`;
      const rangeEnd = prefixEnd(dir);
      let from = b64(dir);
      for (;;) {
        const page = await this.post('/v3/kv/range', { key: from, range_end: rangeEnd, limit: PAGE });
        if (!page.ok) return page;
        const kvs = Array.isArray(page.body.kvs) ? page.body.kvs : [];
        for (const kv of kvs) {
          if (!isObject(kv) || typeof kv.key !== 'string') continue;
          const key = unb64(kv.key);
          const id = key.slice(dir.length);
          let value: unknown;
          try {
            value = JSON.parse(typeof kv.value === 'string' ? unb64(kv.value) : '');
          } catch {
            continue; // APISIX's `init_dir` markers and anything else that is not an object
          }
          if (id && !id.includes('/') && isObject(value)) objects.push({ kind, id, value });
        }
        if (page.body.more !== true || kvs.length === 0) break;
        const last = kvs[kvs.length - 1] as JsonObject;
        from = Buffer.concat([Buffer.from(last.key as string, 'base64'), Buffer.from([0])]).toString('base64');
      }
    }
    return { ok: true, objects };
  }

  async write(ops: readonly StoreOp[]): Promise<OpOutcome[]> {
    const now = (this.options.now ?? (() => Math.floor(Date.now() / 1000)))();
    const maxOps = this.options.maxOpsPerTxn ?? 128;
    const maxBytes = this.options.maxTxnBytes ?? 1_000_000;
    const etcdOps = ops.map((op): EtcdOp => {
      if (op.op === 'delete') {
        const key = b64(this.keyOf(op.kind, op.id));
        return { request: { request_delete_range: { key } }, bytes: key.length, createTime: undefined };
      }
      const createTime = op.createTime ?? now;
      const value = b64(JSON.stringify({ ...op.object.value, id: op.object.id, create_time: createTime, update_time: now }));
      const key = b64(this.keyOf(op.object.kind, op.object.id));
      return { request: { request_put: { key, value } }, bytes: key.length + value.length, createTime };
    });
    const chunks: number[][] = [];
    let bytes = 0;
    etcdOps.forEach((op, index) => {
      const last = chunks[chunks.length - 1];
      if (!last || last.length >= maxOps || bytes + op.bytes > maxBytes) {
        chunks.push([index]);
        bytes = op.bytes;
      } else {
        last.push(index);
        bytes += op.bytes;
      }
    });
    const outcomes = new Array<OpOutcome>(ops.length);
    await mapBounded(chunks, this.options.concurrency, async (chunk) => {
      const result = await this.post('/v3/kv/txn', { success: chunk.map((i) => etcdOps[i]!.request) });
      for (const i of chunk) outcomes[i] = result.ok ? { ok: true, ...(etcdOps[i]!.createTime !== undefined ? { createTime: etcdOps[i]!.createTime } : {}) } : result;
    });
    return outcomes;
  }

  comparable(_kind: GatewayKind, value: JsonObject): JsonObject {
    return withoutTimestamps(value);
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}
