// MemorySecretSource is the double the sync-service tests rely on: it must honour the same contract
// as the OUTPUT_CERTS source.
import { MemorySecretSource } from '../../src/adapters/memory/memory-secret-source.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import { secretSourceContract } from '../contract/secret-source.contract.js';

const set = (n: 1 | 2): readonly Secret[] => [
  { kind: 'certificate', name: 'default', certificateChain: `CHAIN ${n}`, privateKey: `KEY ${n}` },
  { kind: 'validation', name: 'ROOTCA', trustedCa: 'ROOT' },
];

secretSourceContract('MemorySecretSource', async () => {
  const source = new MemorySecretSource();
  return {
    source,
    publish: async (n) => source.publish(set(n)),
    publishInvalid: async () => source.fail({ location: 'memory', message: 'rejected by the test' }),
    expected: set,
    cleanup: async () => {},
  };
});
