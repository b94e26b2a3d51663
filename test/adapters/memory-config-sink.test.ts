// MemoryConfigSink is the double the app tests rely on: it must honour the same contract as the
// real sinks, or tests written against it would prove nothing.
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { configSinkContract } from '../contract/config-sink.contract.js';

configSinkContract('MemoryConfigSink', async () => {
  const sink = new MemoryConfigSink();
  return {
    sink,
    readBack: async () => new Map([...sink.applied.objects].map(([key, object]) => [key, object.value] as const)),
    cleanup: async () => {},
  };
});
