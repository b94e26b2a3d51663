// The route configurations of the real fixtures: the inputs the translator accepts in ../shared
// (istioctl config dumps and describe inputs, Envoy's example configs) and the bundled example, and
// every route table in a decoded snapshot, inline ones included.
import path from 'node:path';
import type { RouteTable } from '../../src/domain/mesh/route.js';
import type { MeshSnapshot } from '../../src/domain/snapshot.js';
import { listFiles, repoRoot } from './shared-fixtures.js';

/** Config dumps, bootstraps and xDS resource lists among the fixtures, and the bundled example first. */
export function fixtureInputs(shared: string): string[] {
  const files = listFiles(path.join(shared, 'fixtures')).filter(
    (f) =>
      (f.startsWith('istio/istioctl/') && /config_?dump[^/]*\.(json|yaml)$|describe\/[^/]+\.json$/.test(f) && !f.includes('output')) ||
      (f.startsWith('envoy-examples/') && f.endsWith('.yaml')),
  );
  return [path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml'), ...files.map((f) => path.join(shared, 'fixtures', f))];
}

/** Every route table with at least one route: RDS tables and listeners' inline ones (named `<listener>#<chain>` as the translation names them). */
export function routeTablesOf(snapshot: MeshSnapshot): RouteTable[] {
  const all = [...snapshot.routeTables.values()];
  for (const listener of snapshot.listeners.values()) {
    listener.chains.forEach((chain, c) => {
      if (chain.protocol.kind === 'http' && chain.protocol.routes.kind === 'inline') {
        const table = chain.protocol.routes.table;
        all.push(table.name ? table : { ...table, name: `${listener.name}#${c}` });
      }
    });
  }
  return all.filter((table) => table.virtualHosts.some((vh) => vh.routes.length > 0));
}
