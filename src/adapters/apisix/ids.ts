// Stable, APISIX-valid, collision-free ids. APISIX ids are 1–64 chars of [a-zA-Z0-9-_.]; Envoy
// names are not (`outbound|9080||reviews.default.svc.cluster.local`), so an id is a readable,
// sanitised prefix plus a 64-bit hash of the full original name. The original is kept in `name`/labels.
import { hash } from 'node:crypto';

const MAX_ID = 64;
const HASH_HEX = 16;

/** Ids are asked for again and again (each route asks for its upstream's): remember recent ones. */
const recent = new Map<string, string>();
const RECENT_MAX = 200_000;

export function stableId(kindPrefix: string, original: string): string {
  const key = `${kindPrefix}\u0000${original}`;
  const known = recent.get(key);
  if (known !== undefined) return known;
  const id = computeId(kindPrefix, original);
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(key, id);
  return id;
}

function computeId(kindPrefix: string, original: string): string {
  const digest = hash('sha256', original, 'hex').slice(0, HASH_HEX);
  const room = MAX_ID - kindPrefix.length - HASH_HEX - 2;
  const readable = original
    .replace(/[^a-zA-Z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
    .slice(0, room);
  return readable ? `${kindPrefix}-${readable}-${digest}` : `${kindPrefix}-${digest}`;
}

export const isValidApisixId = (id: string): boolean => /^[a-zA-Z0-9_.-]{1,64}$/.test(id);

/** Detects two different originals mapped to one id (a hash collision): never silently merge objects. */
export class IdRegistry {
  private readonly owners = new Map<string, string>();

  claim(id: string, original: string): void {
    const owner = this.owners.get(id);
    if (owner !== undefined && owner !== original) {
      throw new Error(`id collision: "${original}" and "${owner}" both map to ${id}`);
    }
    this.owners.set(id, original);
  }
}

/** APISIX caps `name` at 256 and `desc` at 256 characters; keep the ends, which carry the identity. */
export function clip(text: string, max = 256): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 1) / 2);
  return `${text.slice(0, half)}…${text.slice(text.length - (max - 1 - half))}`;
}

/** Label values must match ^\S+$ and be at most 256 characters. */
export function labelValue(text: string): string {
  const compact = text.replace(/\s+/g, '_');
  return clip(compact.length > 0 ? compact : '_');
}
