// One stream's interest in one type, shared by SotW (full name lists) and Delta (subscribe/unsubscribe),
// after go-control-plane's `pkg/server/stream/v3/subscription.go`. Owns the wildcard rules of xds_protocol
// "How the client specifies what resources to return"; knows nothing of resources or nonces.

export const WILDCARD = '*';

export interface NamesChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcardChanged: boolean;
}

export interface DeltaChange {
  /** istiod's `subChanged`: the subscribed set (with `*` as a member) gained or lost a name. */
  readonly changed: boolean;
  /** Names that left the set, so the server can forget what the client held. */
  readonly unsubscribed: readonly string[];
}

export class Subscription {
  private wildcardFlag = false;
  private readonly subscribed = new Set<string>();
  /** Legacy wildcard (an empty list) holds only until the client has named anything, `*` included. */
  private named = false;

  /** LDS and CDS may be wildcard; on other types `*` is just an odd name. */
  constructor(readonly allowsWildcard: boolean) {}

  get wildcard(): boolean {
    return this.wildcardFlag;
  }

  get names(): readonly string[] {
    return [...this.subscribed].sort();
  }

  wants(name: string): boolean {
    return this.wildcardFlag || this.subscribed.has(name);
  }

  hasName(name: string): boolean {
    return this.subscribed.has(name);
  }

  isEmpty(): boolean {
    return !this.wildcardFlag && this.subscribed.size === 0;
  }

  /** SotW: the request's `resource_names` replace the whole set. */
  setNames(requested: readonly string[]): NamesChange {
    const before = new Set(this.subscribed);
    const wasWildcard = this.wildcardFlag;
    const explicitWildcard = this.allowsWildcard && requested.includes(WILDCARD);
    this.wildcardFlag = explicitWildcard || (this.allowsWildcard && requested.length === 0 && !this.named);
    if (requested.length > 0) this.named = true;
    this.subscribed.clear();
    for (const name of requested) if (!(this.allowsWildcard && name === WILDCARD)) this.subscribed.add(name);
    return {
      added: [...this.subscribed].filter((n) => !before.has(n)),
      removed: [...before].filter((n) => !this.subscribed.has(n)),
      wildcardChanged: wasWildcard !== this.wildcardFlag,
    };
  }

  /** Delta: apply one request's subscribe/unsubscribe lists; `first` is the stream's first request of the type. */
  update(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): DeltaChange {
    let changed = false;
    const unsubscribed: string[] = [];
    for (const name of subscribe) {
      if (this.allowsWildcard && name === WILDCARD) {
        changed ||= !this.wildcardFlag;
        this.wildcardFlag = true;
      } else if (!this.subscribed.has(name)) {
        this.subscribed.add(name);
        changed = true;
      }
    }
    for (const name of unsubscribe) {
      if (this.allowsWildcard && name === WILDCARD) {
        changed ||= this.wildcardFlag;
        this.wildcardFlag = false;
      } else if (this.subscribed.delete(name)) {
        unsubscribed.push(name);
        changed = true;
      }
    }
    // Legacy wildcard. Istio's own clients subscribe and unsubscribe `*` in one first request to mean
    // "nothing yet"; that names something, so it is not legacy.
    if (first && this.allowsWildcard && subscribe.length === 0 && !unsubscribe.includes(WILDCARD)) {
      this.wildcardFlag = true;
    }
    if (subscribe.length > 0) this.named = true;
    return { changed, unsubscribed };
  }
}
