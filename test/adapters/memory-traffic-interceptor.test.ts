// MemoryTrafficInterceptor stands in for iptables in the apps' tests: it must keep the same contract.
import { MemoryTrafficInterceptor } from '../../src/adapters/memory/memory-traffic-interceptor.js';
import { normalizeSave } from '../../src/domain/capture/netfilter-tables.js';
import { FOREIGN_RULES, trafficInterceptorContract } from '../contract/traffic-interceptor.contract.js';

trafficInterceptorContract('MemoryTrafficInterceptor', async () => {
  const interceptor = new MemoryTrafficInterceptor({ initial: FOREIGN_RULES });
  return {
    interceptor,
    tables: async () => ({ ipv4: normalizeSave(interceptor.save('ipv4')), ipv6: normalizeSave(interceptor.save('ipv6')) }),
    cleanup: async () => {},
  };
});
