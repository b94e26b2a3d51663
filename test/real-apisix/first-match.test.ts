// First match through a real APISIX 3.18, in every deployment mode a sink of ours feeds: the route
// tables of the first-match property test (generated) and of the fixtures, translated, delivered by
// the real sink, and requested over sockets. APISIX must serve each request with the route Envoy's
// reference matcher picks (documented approximations aside) and with the route our model of
// APISIX's router predicts. Runs on each build present (../shared/notes/real-apisix.md); says it is
// skipped when there is none.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminApiSink } from '../../src/adapters/admin-api-sink/admin-api-sink.js';
import { EtcdSink } from '../../src/adapters/etcd-sink/etcd-sink.js';
import { FileConfigSink } from '../../src/adapters/file-sink/file-sink.js';
import { ShdictConfigSink } from '../../src/adapters/shdict-sink/shdict-sink.js';
import { StandaloneApiSink } from '../../src/adapters/standalone-api-sink/standalone-api-sink.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { Cluster } from '../../src/domain/mesh/cluster.js';
import { SecretText } from '../../src/domain/secret-text.js';
import type { ConfigSink } from '../../src/ports/config-sink.js';
import { EtcdProcess, findEtcd } from '../support/etcd-process.js';
import { fixtureInputs, routeTablesOf } from '../support/fixture-route-tables.js';
import { ADMIN_KEY, ApisixInstance, apisixBuilds, NOBODY_GROUP, shmDirectory, type ApisixBuild, type ApisixMode } from '../support/real-apisix.js';
import { firstMatchThroughApisix, type RealCase } from '../support/real-first-match.js';
import { caseArb, requestsFor, snapshotOf } from '../support/route-generators.js';
import { requireShared } from '../support/shared-fixtures.js';
import { loadFile } from '../support/translate-file.js';
import type { BoundTable } from '../support/envoy-matcher.js';

/** A regular expression over "<build> <mode>" to run only some (while working on one). */
const ONLY = process.env.REAL_APISIX_ONLY ? new RegExp(process.env.REAL_APISIX_ONLY) : undefined;
const SEED = Number(process.env.REAL_APISIX_SEED ?? 20261205);
const GENERATED_CASES = Number(process.env.REAL_APISIX_CASES ?? 16);
/** The generated tables' listener ports (route-generators' LISTENER_PORTS). */
const GENERATED_PORTS = [80, 8080, 9080, 15006];
/** Fixture tables are bound one to a port from here, so that one configuration holds many of them. */
const FIXTURE_PORTS = Array.from({ length: 24 }, (_, i) => 20_001 + i);

const { builds, missing } = apisixBuilds();
for (const reason of missing) console.log(`real APISIX first match: skipped: ${reason}`);
const shared = requireShared('real APISIX first match');
const etcdBinary = findEtcd();
if (!etcdBinary.ok) console.log(`real APISIX first match: admin and etcd modes skipped: ${etcdBinary.reason}`);

/** The fixtures' route tables, renamed apart and bound to ports of their own, in configurations of at most FIXTURE_PORTS.length tables. */
async function fixtureCases(): Promise<RealCase[]> {
  if (!shared) return [];
  const tables: BoundTable[] = [];
  const clusters = new Map<string, Cluster>();
  for (const [f, input] of fixtureInputs(shared).entries()) {
    const { snapshot } = await loadFile(input);
    for (const cluster of snapshot.clusters.values()) clusters.set(cluster.name, cluster);
    for (const table of routeTablesOf(snapshot)) tables.push({ table: { ...table, name: `f${f}.${table.name}` }, ports: [] });
  }
  const cases: RealCase[] = [];
  for (let start = 0; start < tables.length; start += FIXTURE_PORTS.length) {
    const bindings = tables.slice(start, start + FIXTURE_PORTS.length).map((b, i) => ({ ...b, ports: [FIXTURE_PORTS[i]!] }));
    const requests = fc.sample(requestsFor(bindings, 40), { numRuns: 30, seed: SEED + start }).flat();
    cases.push({ snapshot: snapshotOf(bindings, clusters.values()), requests });
  }
  return cases;
}

function generatedCases(): RealCase[] {
  return fc.sample(caseArb({ min: 2, max: 3 }), { numRuns: GENERATED_CASES, seed: SEED }).map((kase) => ({ snapshot: kase.snapshot, requests: kase.requests }));
}

interface ModeUnderTest {
  readonly name: string;
  readonly mode: (etcd: EtcdProcess | undefined, prefix: string, shm: string) => ApisixMode | undefined;
  readonly sink: (instance: ApisixInstance) => ConfigSink & { close?: () => void };
}

const MODES: readonly ModeUnderTest[] = [
  { name: 'file: apisix.yaml', mode: () => ({ kind: 'yaml' }), sink: (i) => new FileConfigSink({ path: i.configFile, group: String(NOBODY_GROUP) }) },
  { name: 'file: apisix.json', mode: () => ({ kind: 'json' }), sink: (i) => new FileConfigSink({ path: i.configFile, group: String(NOBODY_GROUP) }) },
  {
    name: 'admin: Admin API over etcd',
    mode: (etcd, prefix) => (etcd ? { kind: 'admin', etcd: etcd.url, prefix } : undefined),
    sink: (i) => new AdminApiSink({ url: i.adminUrl, apiKey: new SecretText(ADMIN_KEY), resyncMs: 0 }),
  },
  {
    name: 'standalone: PUT /apisix/admin/configs',
    mode: () => ({ kind: 'standalone' }),
    sink: (i) => new StandaloneApiSink({ url: i.adminUrl, apiKey: new SecretText(ADMIN_KEY), resyncMs: 0 }),
  },
  {
    name: 'etcd: data plane reading etcd',
    mode: (etcd, prefix) => (etcd ? { kind: 'etcd', etcd: etcd.url, prefix } : undefined),
    sink: (i) => {
      const mode = i.options.mode as Extract<ApisixMode, { kind: 'etcd' }>;
      return new EtcdSink({ endpoints: [mode.etcd], prefix: mode.prefix, resyncMs: 0 });
    },
  },
  {
    name: 'shdict: xds provider through libxds.so',
    mode: (_, __, shm) => ({ kind: 'xds', shmPath: join(shm, 'xds.shm') }),
    sink: (i) => new ShdictConfigSink({ path: (i.options.mode as Extract<ApisixMode, { kind: 'xds' }>).shmPath, group: NOBODY_GROUP }),
  },
];

function suiteFor(build: ApisixBuild): void {
  const s = suite(`real APISIX 3.18 (${build.name} nginx): first match through each sink`);
  let etcd: EtcdProcess | undefined;
  let backend: Server;
  let backendPort = 0;
  let shm = '';
  let generated: RealCase[] = [];
  let fixtures: RealCase[] = [];
  const totals = { requests: 0, agree: 0, documented: 0 };

  s.before(async () => {
    if (etcdBinary.ok) etcd = await EtcdProcess.start(etcdBinary.path);
    backend = createServer((_, res) => res.end('backend'));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendPort = (backend.address() as AddressInfo).port;
    shm = await shmDirectory();
    generated = generatedCases();
    fixtures = await fixtureCases();
  });
  s.after(async () => {
    await etcd?.stop();
    await new Promise((resolve) => backend.close(resolve));
    console.log(
      `real APISIX (${build.name}): ${totals.requests} requests, ${totals.agree} as Envoy, ${totals.documented} documented approximations; model = APISIX on every request`,
    );
  });

  for (const [m, under] of MODES.entries()) {
    if (ONLY && !ONLY.test(`${build.name} ${under.name}`)) continue;
    s(under.name, async () => {
      const mode = under.mode(etcd, `/amesh-${build.name}-${m}`, shm);
      if (!mode) {
        console.log(`  ${under.name}: skipped: no etcd`);
        return;
      }
      const instance = await ApisixInstance.start({ build, mode, httpPorts: [...GENERATED_PORTS, ...FIXTURE_PORTS] });
      const sink = under.sink(instance);
      try {
        let previous = GatewayConfig.empty();
        const counts = { requests: 0, agree: 0, documented: 0, unsendable: 0 };
        const cases = [...generated, ...fixtures];
        assert.ok(cases.length > GENERATED_CASES, 'fixture tables found');
        for (const [k, kase] of cases.entries()) {
          const { report, delivered } = await firstMatchThroughApisix(kase, {
            sink,
            previous,
            ip: instance.ip,
            probePort: GENERATED_PORTS[0]!,
            backend: { host: '127.0.0.1', port: backendPort },
            version: `c${k}`,
          });
          previous = delivered;
          assert.equal(report.modelMismatches.slice(0, 3), [], `case ${k}: APISIX did not do what the router model says`);
          assert.equal(report.envoyMismatches.slice(0, 3), [], `case ${k}: APISIX did not route as Envoy`);
          counts.requests += report.requests;
          counts.agree += report.agreeWithEnvoy;
          counts.documented += report.documented;
          counts.unsendable += report.unsendable;
        }
        assert.equal(await instance.errors(), [], 'error.log');
        console.log(
          `  ${build.name} ${under.name}: ${cases.length} configurations, ${counts.requests} requests, ${counts.agree} as Envoy, ${counts.documented} documented approximations, ${counts.unsendable} unsendable left out`,
        );
        totals.requests += counts.requests;
        totals.agree += counts.agree;
        totals.documented += counts.documented;
      } finally {
        sink.close?.();
        await instance.stop();
      }
    });
  }
  s.run();
}

for (const build of builds) suiteFor(build);
