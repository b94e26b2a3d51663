// The hexagon's import rules (npm run boundaries): the domain is pure, ports know only the domain,
// adapters know the domain and ports and never a sibling adapter (except the shared protocol
// folders), inversify lives only in the app, and nothing in src/ reaches into tests or benches.
/** Folders under src/adapters that hold code shared by several adapters rather than an adapter. */
const SHARED = ['envoy', 'apisix', 'fs'];
const shared = `(${SHARED.join('|')})`;

module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain: the mesh model and its rules; no ports, adapters, app, generated types or I/O.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: {
        path: [
          '^src/(ports|adapters|app)/',
          '^node:(fs|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster)',
          '^(fs|net|http|https|child_process|dgram|dns|tls)$',
        ],
      },
    },
    {
      name: 'domain-without-frameworks',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer'] },
    },
    {
      name: 'ports-know-only-the-domain',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: '^src/(adapters|app)/' },
    },
    {
      name: 'adapters-never-import-the-app',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/app/' },
    },
    {
      name: 'adapters-never-import-a-sibling-adapter',
      comment: `An adapter may use the shared protocol folders (${SHARED.join(', ')}), not another adapter.`,
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/', pathNot: `^src/adapters/${shared}/` },
      to: { path: '^src/adapters/[^/]+/', pathNot: ['^src/adapters/$1/', `^src/adapters/${shared}/`] },
    },
    {
      name: 'shared-folders-stay-below-adapters',
      comment: 'The shared protocol folders are used by adapters; they import no adapter themselves.',
      severity: 'error',
      from: { path: `^src/adapters/${shared}/` },
      to: { path: `^src/adapters/(?!${shared}/)[^/]+/` },
    },
    {
      name: 'inversify-only-in-the-app',
      severity: 'error',
      from: { path: '^src/(domain|ports|adapters)/' },
      to: { path: 'node_modules/(inversify|@inversifyjs)/' },
    },
    {
      name: 'src-never-imports-tests-or-benches',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/adapters/envoy/generated/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/adapters/envoy/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] },
  },
};
