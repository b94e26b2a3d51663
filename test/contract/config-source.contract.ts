// The behaviour every ConfigSource owes the apps (xDS, files, memory): updates carry a snapshot,
// bad input is reported through onError with a location (and does not end the watch: a later good
// input is published again), and dispose() is final. Sources may deliver asynchronously and more
// than once per change (file watchers do), so the suite waits for events instead of counting them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfigSource, ConfigWatcher, SourceError, SourceUpdate } from '../../src/ports/config-source.js';

export interface SourceFixture {
  readonly source: ConfigSource;
  /** Makes a valid configuration current (write the file, publish the snapshot…). */
  publishValid(): Promise<void>;
  /** Makes an invalid configuration current. */
  publishInvalid(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface SourceContractOptions {
  /** How long to wait for an expected event. */
  readonly timeoutMs?: number;
  /** How long a source may take to react (debounce): no event after this long means none is coming. */
  readonly quietMs?: number;
}

export type SourceEvent = { readonly kind: 'update'; readonly update: SourceUpdate } | { readonly kind: 'error'; readonly error: SourceError };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const describe = (event: SourceEvent): string => (event.kind === 'update' ? `update ${event.update.snapshot.version}` : `error ${event.error.location}: ${event.error.message}`);

/** Records every event; `next` waits for the first event of a kind at or after an index. */
export class SourceRecorder implements ConfigWatcher {
  readonly events: SourceEvent[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly timeoutMs: number) {}

  onUpdate(update: SourceUpdate): void {
    this.push({ kind: 'update', update });
  }

  onError(error: SourceError): void {
    this.push({ kind: 'error', error });
  }

  private push(event: SourceEvent): void {
    this.events.push(event);
    this.wake?.();
  }

  async next<K extends SourceEvent['kind']>(kind: K, from: number): Promise<{ event: Extract<SourceEvent, { kind: K }>; index: number }> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const index = this.events.findIndex((event, i) => i >= from && event.kind === kind);
      if (index !== -1) return { event: this.events[index] as Extract<SourceEvent, { kind: K }>, index };
      const left = deadline - Date.now();
      if (left <= 0) assert.unreachable(`no ${kind} within ${this.timeoutMs} ms; events so far: ${this.events.map(describe).join(' | ') || 'none'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

export function configSourceContract(name: string, setup: () => Promise<SourceFixture>, options: SourceContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 3000;
  const quietMs = options.quietMs ?? 400;
  const s = suite(`ConfigSource contract: ${name}`);

  const withFixture = (run: (fixture: SourceFixture, recorder: SourceRecorder) => Promise<void>) => async (): Promise<void> => {
    const fixture = await setup();
    const recorder = new SourceRecorder(timeoutMs);
    try {
      await run(fixture, recorder);
    } finally {
      await fixture.cleanup();
    }
  };

  s(
    'the first update carries a snapshot',
    withFixture(async ({ source, publishValid }, recorder) => {
      const subscription = source.watch(recorder);
      try {
        await publishValid();
        const { event, index } = await recorder.next('update', 0);
        const { snapshot, fidelity } = event.update;
        assert.type(snapshot.version, 'string');
        assert.ok(snapshot.listeners.size + snapshot.routeTables.size + snapshot.clusters.size > 0, 'the snapshot holds resources');
        assert.ok(Array.isArray(fidelity), 'fidelity records come with it');
        assert.equal(
          recorder.events
            .slice(0, index)
            .filter((e) => e.kind === 'error')
            .map(describe),
          [],
          'no error before it',
        );
      } finally {
        subscription.dispose();
      }
    }),
  );

  s(
    'invalid input yields onError with a location and a message; a later valid input updates again',
    withFixture(async ({ source, publishValid, publishInvalid }, recorder) => {
      const subscription = source.watch(recorder);
      try {
        await publishValid();
        await recorder.next('update', 0);
        await sleep(quietMs); // let the valid publication settle, so what follows answers the next input
        const beforeInvalid = recorder.events.length;
        await publishInvalid();
        const failed = await recorder.next('error', beforeInvalid);
        assert.type(failed.event.error.location, 'string');
        assert.ok(failed.event.error.location.length > 0, 'the error says where');
        assert.ok(failed.event.error.message.length > 0, 'the error says what');
        await publishValid();
        const recovered = await recorder.next('update', failed.index + 1);
        assert.ok(recovered.index > failed.index, 'the watch survives the error');
      } finally {
        subscription.dispose();
      }
    }),
  );

  s(
    'dispose() stops events',
    withFixture(async ({ source, publishValid, publishInvalid }, recorder) => {
      const subscription = source.watch(recorder);
      await publishValid();
      await recorder.next('update', 0);
      subscription.dispose();
      const seen = recorder.events.length;
      await publishInvalid();
      await publishValid();
      await sleep(quietMs);
      assert.equal(recorder.events.slice(seen).map(describe), [], 'nothing after dispose()');
    }),
  );

  s.run();
}
