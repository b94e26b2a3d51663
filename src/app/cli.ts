// The `amesh` command line: parses arguments, runs the chosen app, maps the outcome to an exit code.
// Exit codes: 0 ok, 1 bad input or translation error, 2 usage error, 3 output could not be written.
import { Command, CommanderError } from 'commander';
import { buildTranslateContainer, TranslateAppToken, type ContainerOverrides } from './container.js';
import { parseTranslateConfig, type TranslateFlags } from './config.js';
import type { TranslateApp, TranslateFailure, TranslateOutcome } from './translate/translate-app.js';
import { formatSummaryLine } from './translate/translate-app.js';

export const EXIT = { ok: 0, input: 1, usage: 2, output: 3 } as const;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function describeFailure(failure: TranslateFailure): string {
  switch (failure.kind) {
    case 'input':
      return `error: ${failure.error.location}: ${failure.error.message}\n`;
    case 'translation':
      return failure.errors.map((e) => `error: ${e.resource}${e.field ? ` field ${e.field}` : ''}: ${e.message}\n`).join('');
    case 'output':
      return `error: could not write the output: ${failure.reason}\n`;
  }
}

function summary(outcome: TranslateOutcome, target: string): string {
  const { snapshot } = outcome.update;
  const counts = outcome.translation.config.counts();
  const records = outcome.translation.report.records;
  const dropped = records.filter((r) => r.severity === 'dropped').length;
  const approximated = records.length - dropped;
  return (
    `translated ${snapshot.listeners.size} listeners, ${snapshot.routeTables.size} route configurations, ${snapshot.clusters.size} clusters, ` +
    `${snapshot.endpoints.size} endpoint sets, ${snapshot.secrets.size} secrets\n` +
    `  → ${counts.routes} routes, ${counts.upstreams} upstreams, ${counts.ssls} ssls, ${counts.stream_routes} stream routes ` +
    `in ${outcome.elapsedMs.toFixed(0)} ms, written to ${target}\n` +
    `  fidelity: ${dropped} fields dropped, ${approximated} approximated${records.length > 0 ? ' (--explain for details)' : ''}\n`
  );
}

export async function runCli(argv: readonly string[], io: CliIo = defaultIo, overrides: ContainerOverrides = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('amesh')
    .description('Apache APISIX as the data plane of an Istio service mesh')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('translate')
    .description('translate Envoy configuration (config dump, bootstrap, xDS resource files) into APISIX configuration')
    .argument('[input]', 'a file or a directory of .json/.yaml files')
    .option('-o, --output <file>', 'write apisix.yaml or apisix.json (atomically); default: stdout')
    .option('--format <format>', 'yaml or json (default: from the output extension, else yaml)')
    .option('--explain [format]', 'print what could not be carried over, per resource and field (text or json)')
    .option('--partial', 'accept references to resources missing from the input (partial dumps): report them instead of failing')
    .option('--port-variable <var>', 'nginx variable holding the destination port, to keep per-port route tables apart')
    .option('--example <name>', 'translate a bundled example instead of a file (bookinfo)')
    .option('--log-level <level>', 'debug, info, warn, error or silent', 'warn')
    .action(async (input: string | undefined, flags: TranslateFlags) => {
      const config = parseTranslateConfig(input, flags);
      if (!config.ok) {
        io.err(`error: ${config.error}\n`);
        exitCode = EXIT.usage;
        return;
      }
      const container = buildTranslateContainer(config.value, overrides);
      const app = container.get<TranslateApp>(TranslateAppToken);
      const outcome = await app.run();
      if (!outcome.ok) {
        io.err(describeFailure(outcome.error));
        exitCode = outcome.error.kind === 'output' ? EXIT.output : EXIT.input;
        return;
      }
      const report = outcome.value.translation.report;
      // With the document on stdout, everything else goes to stderr.
      const side = config.value.output ? io.out : io.err;
      if (config.value.explain === 'json') side(`${JSON.stringify(report.records, null, 2)}\n`);
      else if (config.value.explain === 'text') side(report.summary().map((line) => `${formatSummaryLine(line)}\n`).join(''));
      side(summary(outcome.value, config.value.output ?? 'stdout'));
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return exitCode;
}
