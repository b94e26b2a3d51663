// The iptables adapter against real iptables in a network namespace the test creates, once per backend
// (nft and legacy each get their own namespaces: one backend per namespace). Needs root and the
// iptables package; otherwise it says why it is skipped.
import { IptablesInterceptor } from '../../src/adapters/iptables/iptables-interceptor.js';
import { normalizeSave } from '../../src/domain/capture/netfilter-tables.js';
import type { Logger } from '../../src/ports/logger.js';
import { FOREIGN_RULES, trafficInterceptorContract } from '../contract/traffic-interceptor.contract.js';
import { createNetns, deleteNetns, inNetns, netnsUnavailable, type Backend } from '../support/netns.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

for (const backend of ['nft', 'legacy'] as const satisfies readonly Backend[]) {
  const reason = netnsUnavailable(backend);
  if (reason) {
    console.log(`iptables interceptor (${backend}): skipped: ${reason}`);
  } else {
    trafficInterceptorContract(`IptablesInterceptor (${backend}, network namespace)`, async () => {
      const netns = await createNetns(`ipt-${backend}`);
      await inNetns(netns, `iptables-${backend}-restore`, ['--noflush'], FOREIGN_RULES.ipv4);
      await inNetns(netns, `ip6tables-${backend}-restore`, ['--noflush'], FOREIGN_RULES.ipv6);
      const save = async (tool: string): Promise<string> => normalizeSave(await inNetns(netns, tool, []));
      return {
        interceptor: new IptablesInterceptor({ logger: quiet }, { backend, netns }),
        tables: async () => ({ ipv4: await save(`iptables-${backend}-save`), ipv6: await save(`ip6tables-${backend}-save`) }),
        cleanup: () => deleteNetns(netns),
      };
    });
  }
}
