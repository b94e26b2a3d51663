// The behaviour every SecretSource owes the sync service (pilot-agent files, memory): the current
// set arrives after watch(), a new set replaces it, bad input is an error with a location and
// publishes nothing (the last good set stays), and dispose() is final. Sources may deliver
// asynchronously, so the suite waits for events instead of counting them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Secret } from '../../src/domain/mesh/secret.js';
import type { SourceError } from '../../src/ports/config-source.js';
import type { SecretSource, SecretWatcher } from '../../src/ports/secret-source.js';

export interface SecretFixture {
  readonly source: SecretSource;
  /** Makes set 1 or 2 current (different certificates). */
  publish(set: 1 | 2): Promise<void>;
  /** Makes an unusable set current. */
  publishInvalid(): Promise<void>;
  /** The secrets set 1 or 2 must arrive as. */
  expected(set: 1 | 2): readonly Secret[];
  cleanup(): Promise<void>;
}

export type SecretEvent = { readonly kind: 'secrets'; readonly secrets: readonly Secret[] } | { readonly kind: 'error'; readonly error: SourceError };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records every event; `next` waits for the first event of a kind at or after an index. */
export class SecretRecorder implements SecretWatcher {
  readonly events: SecretEvent[] = [];

  constructor(private readonly timeoutMs: number) {}

  onSecrets(secrets: readonly Secret[]): void {
    this.events.push({ kind: 'secrets', secrets });
  }

  onError(error: SourceError): void {
    this.events.push({ kind: 'error', error });
  }

  async next<K extends SecretEvent['kind']>(kind: K, from: number): Promise<{ event: Extract<SecretEvent, { kind: K }>; index: number }> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const index = this.events.findIndex((event, i) => i >= from && event.kind === kind);
      if (index !== -1) return { event: this.events[index] as Extract<SecretEvent, { kind: K }>, index };
      if (Date.now() > deadline) {
        const seen = this.events.map((e) => (e.kind === 'error' ? `error ${e.error.location}: ${e.error.message}` : `secrets ${e.secrets.map((s) => s.name).join(',')}`));
        assert.unreachable(`no ${kind} within ${this.timeoutMs} ms; events so far: ${seen.join(' | ') || 'none'}`);
      }
      await sleep(10);
    }
  }

  secretsSince(from: number): number {
    return this.events.slice(from).filter((event) => event.kind === 'secrets').length;
  }
}

export interface SecretContractOptions {
  readonly timeoutMs?: number;
  /** How long a source may take to react: no event after this long means none is coming. */
  readonly quietMs?: number;
}

export function secretSourceContract(name: string, setup: () => Promise<SecretFixture>, options: SecretContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 3000;
  const quietMs = options.quietMs ?? 300;
  const s = suite(`SecretSource contract: ${name}`);

  const withFixture = (run: (fixture: SecretFixture, recorder: SecretRecorder) => Promise<void>) => async (): Promise<void> => {
    const fixture = await setup();
    try {
      await run(fixture, new SecretRecorder(timeoutMs));
    } finally {
      await fixture.cleanup();
    }
  };

  s(
    'the current set arrives after watch(), and a new set replaces it',
    withFixture(async (fixture, recorder) => {
      await fixture.publish(1);
      const subscription = fixture.source.watch(recorder);
      try {
        const first = await recorder.next('secrets', 0);
        assert.equal(first.event.secrets, fixture.expected(1));
        await fixture.publish(2);
        const second = await recorder.next('secrets', first.index + 1);
        assert.equal(second.event.secrets, fixture.expected(2));
      } finally {
        subscription.dispose();
      }
    }),
  );

  s(
    'bad input is an error with a location and publishes nothing; a later good set is published',
    withFixture(async (fixture, recorder) => {
      await fixture.publish(1);
      const subscription = fixture.source.watch(recorder);
      try {
        const first = await recorder.next('secrets', 0);
        await fixture.publishInvalid();
        const failure = await recorder.next('error', first.index + 1);
        assert.ok(failure.event.error.location.length > 0, 'the error says where');
        assert.ok(failure.event.error.message.length > 0, 'and what');
        assert.is(recorder.secretsSince(first.index + 1), 0, 'nothing was published for the bad input');
        await fixture.publish(2);
        const recovered = await recorder.next('secrets', failure.index + 1);
        assert.equal(recovered.event.secrets, fixture.expected(2));
      } finally {
        subscription.dispose();
      }
    }),
  );

  s(
    'no events after dispose()',
    withFixture(async (fixture, recorder) => {
      await fixture.publish(1);
      const subscription = fixture.source.watch(recorder);
      await recorder.next('secrets', 0);
      subscription.dispose();
      const seen = recorder.events.length;
      await fixture.publish(2);
      await fixture.publishInvalid();
      await sleep(quietMs);
      assert.is(recorder.events.length, seen);
    }),
  );

  s.run();
}
