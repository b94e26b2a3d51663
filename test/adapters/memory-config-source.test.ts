// MemoryConfigSource is both an embedding API and the double for app tests: it must behave like
// the real sources (contract), plus its documented extra: a late watcher gets the current snapshot.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigSource } from '../../src/adapters/memory/memory-config-source.js';
import type { SourceUpdate } from '../../src/ports/config-source.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';
import { configSourceContract } from '../contract/config-source.contract.js';
import { loadFile } from '../support/translate-file.js';

const bookinfo = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));
let loaded: Promise<SourceUpdate> | undefined;
/** A real snapshot, decoded once for all tests. */
const bookinfoUpdate = (): Promise<SourceUpdate> => (loaded ??= loadFile(bookinfo));

configSourceContract(
  'MemoryConfigSource',
  async () => {
    const source = new MemoryConfigSource();
    const update = await bookinfoUpdate();
    return {
      source,
      publishValid: async () => source.publish(update),
      publishInvalid: async () => source.fail({ location: 'embedder: RouteConfiguration "9080"', message: 'rejected by the embedding application' }),
      cleanup: async () => {},
    };
  },
  { quietMs: 20 }, // delivery is synchronous: nothing can arrive late
);

const s = suite('MemoryConfigSource');

s('a watcher that joins late gets the current snapshot at once, and nothing before a first publish', async () => {
  const source = new MemoryConfigSource();
  const early: SourceUpdate[] = [];
  source.watch({ onUpdate: (u) => void early.push(u), onError: () => assert.unreachable('no error was published') }).dispose();
  assert.is(early.length, 0, 'nothing to deliver yet');
  const update = await bookinfoUpdate();
  source.publish(update);
  const late: SourceUpdate[] = [];
  const subscription = source.watch({ onUpdate: (u) => void late.push(u), onError: () => assert.unreachable('no error was published') });
  assert.is(late.length, 1, 'delivered synchronously inside watch()');
  assert.is(late[0], update);
  subscription.dispose();
});

s('a verdict that comes later (a promise): a rejection is logged, a failing watcher too, nothing goes unhandled', async () => {
  const logger = new RecordingLogger();
  const source = new MemoryConfigSource({ logger });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const update = await bookinfoUpdate();
    const answers = [
      Promise.resolve({ accepted: false as const, reason: 'routes/r1: refused by the gateway' }),
      Promise.reject(new Error('the sink blew up')),
      Promise.resolve({ accepted: true as const }),
    ];
    const subscription = source.watch({ onUpdate: () => answers.shift(), onError: () => assert.unreachable('no error was published') });
    source.publish(update);
    source.publish(update);
    source.publish(update);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(
      logger.entries.map((e) => e.fields['error']),
      ['routes/r1: refused by the gateway', 'the consumer failed: the sink blew up'],
    );
    assert.equal(unhandled, []);
    subscription.dispose();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

s.run();
