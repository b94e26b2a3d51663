import { MemoryPluginDelivery } from '../../src/adapters/memory/memory-plugin-delivery.js';
import { VersionClock } from '../../src/domain/plugins/version-clock.js';
import { pluginDeliveryContract } from '../contract/plugin-delivery.contract.js';

pluginDeliveryContract('memory', async () => {
  const clock = new VersionClock(Date.now);
  const delivery = new MemoryPluginDelivery(() => clock.next());
  return { delivery, source: (pod) => delivery.source(pod), cleanup: () => delivery.close() };
});
