// Port: what the sidecar measures. Adapters turn these into Prometheus series (or record them).
export const Metrics = Symbol.for('amesh.Metrics');

export type Outcome = 'ok' | 'error';

export interface Metrics {
  xdsConnected(connected: boolean): void;
  /** One response received (a push) of a type, with its resource count. */
  xdsResponse(type: string, resources: number): void;
  xdsAck(type: string): void;
  xdsNack(type: string): void;
  translation(seconds: number, outcome: Outcome): void;
  apply(sink: string, seconds: number, outcome: Outcome): void;
  /** Objects of each kind in the configuration in force. */
  gatewayObjects(kind: string, count: number): void;
  /** Fields the configuration in force could not carry over. */
  fidelity(dropped: number, approximated: number): void;
  /** Objects of the configuration in force that a sink's target does not serve as it is set up (ApplyResult.unserved). */
  unserved(sink: string, count: number): void;
}
