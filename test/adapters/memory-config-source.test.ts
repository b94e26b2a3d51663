// MemoryConfigSource is both an embedding API and the double for app tests: it must behave like
// the real sources (contract), plus its documented extra: a late watcher gets the current snapshot.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigSource } from '../../src/adapters/memory/memory-config-source.js';
import type { SourceUpdate } from '../../src/ports/config-source.js';
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

s.run();
