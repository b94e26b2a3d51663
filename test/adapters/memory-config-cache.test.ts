// MemoryConfigCache is the double the sync-service tests rely on: it must honour the same contract
// as the file cache.
import { MemoryConfigCache } from '../../src/adapters/memory/memory-config-cache.js';
import { configCacheContract } from '../contract/config-cache.contract.js';

configCacheContract('MemoryConfigCache', async () => {
  const cache = new MemoryConfigCache();
  // Memory storage lives in the instance: "reopening" is the same object.
  return { cache, reopen: () => cache, cleanup: async () => {} };
});
