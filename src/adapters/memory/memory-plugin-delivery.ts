// In-memory plugin delivery: the controller side and the sidecar side in one process (embedding,
// unit tests). `source(pod)` is the sidecar end; it follows the same version rules as the gRPC one.
import type { PluginConfigSource, PluginReport, PodPluginSet } from '../../ports/plugin-config-source.js';
import type { PluginDelivery, PodReport } from '../../ports/plugin-delivery.js';

export class MemoryPluginDelivery implements PluginDelivery {
  readonly target = 'memory';
  private readonly sets = new Map<string, PodPluginSet>();
  private readonly connected = new Map<string, Set<MemoryPluginConfigSource>>();
  private readonly listeners: ((report: PodReport) => void)[] = [];
  /** While paused: sources cut off or refused, which (like a reconnecting sidecar) come back on resume. */
  private parked: { pod: string; source: MemoryPluginConfigSource }[] | undefined;

  /** `nextVersion` stamps the empty set a pod without a published set gets (see VersionClock). */
  constructor(private readonly nextVersion: () => number) {}

  publish(pod: string, set: PodPluginSet): void {
    this.sets.set(pod, set);
    for (const source of this.connected.get(pod) ?? []) source.deliver(set);
  }

  forget(pod: string): void {
    this.sets.delete(pod);
  }

  pause(_reason: string): void {
    this.sets.clear();
    const parked = this.parked ?? [];
    for (const [pod, sources] of this.connected) for (const source of sources) parked.push({ pod, source });
    this.connected.clear();
    this.parked = parked;
  }

  resume(): void {
    const parked = this.parked ?? [];
    this.parked = undefined;
    for (const { pod, source } of parked) this.attach(pod, source);
  }

  onReport(listener: (report: PodReport) => void): void {
    this.listeners.push(listener);
  }

  subscribers(): readonly string[] {
    return [...this.connected]
      .filter(([, sources]) => sources.size > 0)
      .map(([pod]) => pod)
      .sort();
  }

  async close(): Promise<void> {
    for (const sources of this.connected.values()) for (const source of sources) source.detach();
    this.connected.clear();
    this.parked = undefined;
  }

  private attach(pod: string, source: MemoryPluginConfigSource): void {
    if (this.parked) {
      this.parked.push({ pod, source });
      return;
    }
    const set = this.connected.get(pod) ?? new Set();
    set.add(source);
    this.connected.set(pod, set);
    source.deliver(this.sets.get(pod) ?? { version: this.nextVersion(), plugins: [] });
  }

  /** The sidecar end for `pod` (`namespace/name`). */
  source(pod: string): MemoryPluginConfigSource {
    return new MemoryPluginConfigSource(pod, {
      attach: (source) => this.attach(pod, source),
      detach: (source) => {
        this.connected.get(pod)?.delete(source);
        if (this.parked) this.parked = this.parked.filter((p) => p.source !== source);
      },
      report: (report) => {
        for (const listener of this.listeners) listener({ ...report, pod });
      },
    });
  }
}

interface Hub {
  attach(source: MemoryPluginConfigSource): void;
  detach(source: MemoryPluginConfigSource): void;
  report(report: PluginReport): void;
}

export class MemoryPluginConfigSource implements PluginConfigSource {
  readonly target: string;
  private onSet: ((set: PodPluginSet) => void) | undefined;
  private lastVersion = -1;

  constructor(
    pod: string,
    private readonly hub: Hub,
  ) {
    this.target = `memory:${pod}`;
  }

  subscribe(onSet: (set: PodPluginSet) => void): void {
    this.onSet = onSet;
    this.hub.attach(this);
  }

  report(report: PluginReport): void {
    this.hub.report(report);
  }

  async close(): Promise<void> {
    this.detach();
  }

  /** @internal */
  deliver(set: PodPluginSet): void {
    if (!this.onSet || set.version <= this.lastVersion) return;
    this.lastVersion = set.version;
    this.onSet(set);
  }

  /** @internal */
  detach(): void {
    this.hub.detach(this);
    this.onSet = undefined;
  }
}
