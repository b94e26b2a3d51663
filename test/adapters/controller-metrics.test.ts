// ControllerMetrics: the contract for the in-memory recorder and the Prometheus adapter (read back
// from its text exposition, as Prometheus scrapes it).
import { MemoryControllerMetrics } from '../../src/adapters/memory/memory-controller-metrics.js';
import { PrometheusControllerMetrics } from '../../src/adapters/metrics/prometheus-controller-metrics.js';
import { canonicalSeries, controllerMetricsContract } from '../contract/controller-metrics.contract.js';

controllerMetricsContract('memory', () => {
  const metrics = new MemoryControllerMetrics();
  return { metrics, read: async () => new Map([...metrics.series].map(([k, v]) => [canonicalSeries(k), v])) };
});

controllerMetricsContract('Prometheus (prom-client)', () => {
  const metrics = new PrometheusControllerMetrics({ processMetrics: false });
  return {
    metrics,
    read: async () => {
      const series = new Map<string, number>();
      for (const line of (await metrics.registry.metrics()).split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const space = line.lastIndexOf(' ');
        series.set(canonicalSeries(line.slice(0, space)), Number(line.slice(space + 1)));
      }
      return series;
    },
  };
});
