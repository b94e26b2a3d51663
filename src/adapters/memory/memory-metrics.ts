// Metrics port that records calls, for tests of the apps.
import type { Metrics, Outcome } from '../../ports/metrics.js';

export class MemoryMetrics implements Metrics {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();

  private inc(key: string, by = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  xdsConnected(connected: boolean): void {
    this.gauges.set('xds_connected', connected ? 1 : 0);
  }
  xdsResponse(type: string, resources: number): void {
    this.inc(`response:${type}`);
    this.inc(`resources:${type}`, resources);
  }
  xdsAck(type: string): void {
    this.inc(`ack:${type}`);
  }
  xdsNack(type: string): void {
    this.inc(`nack:${type}`);
  }
  translation(_seconds: number, outcome: Outcome): void {
    this.inc(`translation:${outcome}`);
  }
  apply(sink: string, _seconds: number, outcome: Outcome): void {
    this.inc(`apply:${sink}:${outcome}`);
  }
  gatewayObjects(kind: string, count: number): void {
    this.gauges.set(`objects:${kind}`, count);
  }
  fidelity(dropped: number, approximated: number): void {
    this.gauges.set('fidelity:dropped', dropped);
    this.gauges.set('fidelity:approximated', approximated);
  }
  unserved(sink: string, count: number): void {
    this.gauges.set(`unserved:${sink}`, count);
  }
}
