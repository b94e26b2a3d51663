// Metrics port over prom-client, in a registry of its own (served on the metrics endpoint).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics, Outcome } from '../../ports/metrics.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly connected = new Gauge({ name: 'amesh_xds_connected', help: '1 while the xDS stream is up', registers: [this.registry] });
  private readonly responses = new Counter({ name: 'amesh_xds_responses_total', help: 'xDS responses (pushes) received', labelNames: ['type'], registers: [this.registry] });
  private readonly resources = new Counter({
    name: 'amesh_xds_resources_received_total',
    help: 'resources received in xDS responses',
    labelNames: ['type'],
    registers: [this.registry],
  });
  private readonly acks = new Counter({ name: 'amesh_xds_acks_total', help: 'xDS responses accepted', labelNames: ['type'], registers: [this.registry] });
  private readonly nacks = new Counter({ name: 'amesh_xds_nacks_total', help: 'xDS responses rejected', labelNames: ['type'], registers: [this.registry] });
  private readonly translations = new Histogram({
    name: 'amesh_translation_seconds',
    help: 'Envoy to APISIX translation time',
    labelNames: ['outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly applies = new Histogram({
    name: 'amesh_apply_seconds',
    help: 'time to apply a configuration to a sink',
    labelNames: ['sink', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly objects = new Gauge({ name: 'amesh_gateway_objects', help: 'APISIX objects in the configuration in force', labelNames: ['kind'], registers: [this.registry] });
  private readonly fields = new Gauge({
    name: 'amesh_fidelity_fields',
    help: 'Envoy fields not carried over, in the configuration in force',
    labelNames: ['severity'],
    registers: [this.registry],
  });
  private readonly unservedObjects = new Gauge({
    name: 'amesh_sink_unserved_objects',
    help: "objects of the configuration in force that a sink's target does not serve as it is set up (e.g. stream routes while APISIX's stream mode is off)",
    labelNames: ['sink'],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'amesh_' });
  }

  xdsConnected(connected: boolean): void {
    this.connected.set(connected ? 1 : 0);
  }
  xdsResponse(type: string, resources: number): void {
    this.responses.inc({ type });
    this.resources.inc({ type }, resources);
  }
  xdsAck(type: string): void {
    this.acks.inc({ type });
  }
  xdsNack(type: string): void {
    this.nacks.inc({ type });
  }
  translation(seconds: number, outcome: Outcome): void {
    this.translations.observe({ outcome }, seconds);
  }
  apply(sink: string, seconds: number, outcome: Outcome): void {
    this.applies.observe({ sink, outcome }, seconds);
  }
  gatewayObjects(kind: string, count: number): void {
    this.objects.set({ kind }, count);
  }
  fidelity(dropped: number, approximated: number): void {
    this.fields.set({ severity: 'dropped' }, dropped);
    this.fields.set({ severity: 'approximated' }, approximated);
  }
  unserved(sink: string, count: number): void {
    this.unservedObjects.set({ sink }, count);
  }
}
