#!/usr/bin/env node
// Generates the TypeScript protobuf layer for Envoy xDS into src/adapters/envoy/generated/ (gitignored,
// never edited by hand). Usage: `npm run gen:proto` (always regenerates) or `node scripts/gen-proto.mjs
// --if-missing` (the `prepare` hook: does nothing when up-to-date output exists, and exits 0 quietly when
// the dev-only generators are not installed, e.g. `npm ci --omit=dev`).
//
// What comes out:
// - one .ts file per .proto in the import closure of ROOTS (ts-proto only generates the files it is given,
//   so the closure is computed first, from protoc's own descriptor set);
// - `descriptor-set.binpb`: a binary google.protobuf.FileDescriptorSet of the same closure (no source info),
//   for tools (protoc --decode, buf); `descriptor-set.ts` holds the same bytes as base64, which
//   proto/proto-json.ts loads into a @bufbuild/protobuf registry for the proto3-JSON path (a module rather
//   than a file read, because tsc does not copy .binpb files into dist/);
// - `.stamp.json`: the generation key, written last, so a half-written folder is never taken as done.
//
// ts-proto options (see TS_PROTO_OPTS), chosen so that:
// - ESM under NodeNext works: importSuffix=.js, esModuleInterop=true;
// - env=node: `bytes` fields are Buffer;
// - forceLong=number: uint64/int64 are plain numbers (ts-proto throws on values > 2^53 rather than lose them);
// - oneof=unions-value: every oneof is ONE optional property named after the oneof, typed as a
//   discriminated union `{ $case: "prefix"; value: string } | { $case: "path"; value: string } | ...`,
//   so `switch (m.pathSpecifier?.$case)` narrows `value`;
// - useOptionals=messages: message-typed fields and oneofs are optional keys (`field?: T`); scalars
//   stay required and carry proto3 defaults after decode;
// - useUnknownForValue=true: google.protobuf.Struct/Value come out as `{[k: string]: unknown}` / `unknown`
//   instead of `any`;
// - outputServices=grpc-js: ADS/SDS service definitions for @grpc/grpc-js;
// - outputJsonMethods=false, comments=false: no fromJSON/toJSON (proto/proto-json.ts parses JSON strictly
//   itself) and no copied proto comments: a third less code, whose source text a running sidecar keeps in
//   its heap (see docs/benchmarks.md, idle RSS).
// Deliberately NOT outputTypeRegistry=true (its `$type` casts fail to typecheck); proto/message-registry.ts
// maps type URLs to codecs by hand.
//
// Proto sources come from the @grpc/grpc-js-xds devDependency (deps/{envoy-api,xds,googleapis,
// protoc-gen-validate}); the well-known types from the `protoc` package. That validate.proto is older than
// its envoy-api: protoc rejects `StringRules.ignore_empty` until field 26 is added, so a patched copy is
// written to a temp dir that shadows the original on the include path (the repo is never written to).
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(repoRoot, 'src/adapters/envoy/generated');
const stampFile = path.join(outDir, '.stamp.json');
const DESCRIPTOR_SET = 'descriptor-set.binpb';

const ROOTS = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/admin/v3/config_dump_shared.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'udpa/type/v1/typed_struct.proto',
  'xds/type/v3/typed_struct.proto',
];

const TS_PROTO_OPTS = [
  'importSuffix=.js',
  'esModuleInterop=true',
  'env=node',
  'forceLong=number',
  'oneof=unions-value',
  'useOptionals=messages',
  'useUnknownForValue=true',
  'outputServices=grpc-js',
  'outputJsonMethods=false',
  'comments=false',
];

const ifMissing = process.argv.includes('--if-missing');

function locateTools() {
  const require = createRequire(import.meta.url);
  const dirOf = (pkg) => path.dirname(require.resolve(`${pkg}/package.json`));
  try {
    const tsProto = dirOf('ts-proto');
    const protoc = dirOf('protoc');
    const xdsDeps = path.join(dirOf('@grpc/grpc-js-xds'), 'deps');
    require.resolve('@bufbuild/protobuf'); // its exports map hides package.json
    const version = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    return {
      plugin: path.join(tsProto, 'protoc-gen-ts_proto'),
      protocJs: path.join(protoc, 'protoc.cjs'),
      wktInclude: path.join(protoc, 'include'),
      xdsDeps,
      key: {
        tsProto: version(tsProto),
        protoc: version(protoc),
        protoSources: `@grpc/grpc-js-xds@${version(path.dirname(xdsDeps))}`,
        roots: ROOTS,
        options: TS_PROTO_OPTS,
      },
    };
  } catch (e) {
    if (e?.code === 'MODULE_NOT_FOUND') return undefined; // a dev-only package is absent
    throw e;
  }
}

const stampText = (tools) => `${JSON.stringify(tools.key, null, 2)}\n`;

function readStamp() {
  try {
    return fs.readFileSync(stampFile, 'utf8');
  } catch {
    return undefined;
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${path.basename(args[0] ?? cmd)} exited with ${r.status}`);
}

// Adds `optional bool ignore_empty = 26;` to StringRules, keeping the file's CRLF line endings.
function writePatchedValidate(xdsDeps, dir) {
  const src = fs.readFileSync(path.join(xdsDeps, 'protoc-gen-validate/validate/validate.proto'), 'utf8');
  let patched = src;
  if (!/\bignore_empty\s*=\s*26\s*;/.test(src)) {
    patched = src.replace(/(message StringRules \{)(\r?\n)/, '$1$2    optional bool ignore_empty = 26;$2');
    if (patched === src) throw new Error('validate.proto: `message StringRules {` not found, cannot patch');
  }
  fs.mkdirSync(path.join(dir, 'validate'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'validate/validate.proto'), patched);
}

async function closureOf(descriptorSetPath) {
  const { fromBinary } = await import('@bufbuild/protobuf');
  const { FileDescriptorSetSchema } = await import('@bufbuild/protobuf/wkt');
  const set = fromBinary(FileDescriptorSetSchema, fs.readFileSync(descriptorSetPath));
  return set.file.map((f) => f.name).sort();
}

function listFiles(dir) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
}

async function generate(tools) {
  const started = performance.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amesh-gen-proto-'));
  try {
    const patchedDir = path.join(tmp, 'patched');
    const stage = path.join(tmp, 'out');
    fs.mkdirSync(stage);
    writePatchedValidate(tools.xdsDeps, patchedDir);
    // The patched dir comes first so its validate/validate.proto shadows the original.
    const includes = [patchedDir, ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(tools.xdsDeps, d)), tools.wktInclude].map((d) => `-I${d}`);
    const protoc = (args) => run(process.execPath, [tools.protocJs, ...includes, ...args]);

    const descriptorSet = path.join(stage, DESCRIPTOR_SET);
    protoc([`--descriptor_set_out=${descriptorSet}`, '--include_imports', ...ROOTS]);
    const files = await closureOf(descriptorSet);
    fs.writeFileSync(
      path.join(stage, 'descriptor-set.ts'),
      '// Code generated by scripts/gen-proto.mjs. DO NOT EDIT.\n' +
        `// ${DESCRIPTOR_SET} (FileDescriptorSet of ${files.length} files) as base64.\n` +
        `export const descriptorSetBase64 =\n  "${fs.readFileSync(descriptorSet).toString('base64')}";\n`,
    );
    protoc([`--plugin=protoc-gen-ts_proto=${tools.plugin}`, `--ts_proto_out=${stage}`, `--ts_proto_opt=${TS_PROTO_OPTS.join(',')}`, ...files]);

    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(outDir), { recursive: true });
    fs.cpSync(stage, outDir, { recursive: true });
    fs.writeFileSync(stampFile, stampText(tools));

    const generated = listFiles(outDir).filter((e) => e.name.endsWith('.ts'));
    const bytes = generated.reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `gen:proto: ${files.length} .proto -> ${generated.length} .ts (${(bytes / 1e6).toFixed(1)} MB) ` + `+ ${DESCRIPTOR_SET} in ${path.relative(repoRoot, outDir)} (${secs}s)`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const tools = locateTools();
if (ifMissing) {
  const stamp = readStamp();
  // Up to date, or output present and no way to regenerate it: nothing to do.
  if (stamp !== undefined && (!tools || stamp === stampText(tools))) process.exit(0);
  if (!tools) process.exit(0); // production install without the dev-only generators
}
if (!tools) {
  console.error('gen:proto: ts-proto, protoc, @grpc/grpc-js-xds or @bufbuild/protobuf is not installed (run npm install)');
  process.exit(1);
}
try {
  await generate(tools);
} catch (e) {
  console.error(`gen:proto: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
