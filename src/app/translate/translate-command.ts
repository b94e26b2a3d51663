// `amesh translate`: Envoy configuration files → APISIX configuration, once.
import { buildTranslateContainer, TranslateAppToken, type ContainerOverrides } from '../container.js';
import { parseTranslateConfig, type TranslateFlags } from '../config.js';
import { EXIT, terminalLine, type CliIo } from '../cli-io.js';
import { displayJson } from '../../domain/display-text.js';
import { ProgressLine } from '../progress.js';
import { formatSummaryLine, type TranslateApp, type TranslateFailure, type TranslateOutcome } from './translate-app.js';

/** Enough to fix an input; the rest are counted. */
const MAX_ERRORS_SHOWN = 20;

/** One line per error: what is echoed from the input is cut, escaped and redacted (terminalLine). */
function describeFailure(failure: TranslateFailure): string {
  const line = (text: string): string => `error: ${terminalLine(text)}\n`;
  switch (failure.kind) {
    case 'input':
      return line(`${failure.error.location}: ${failure.error.message}`);
    case 'translation': {
      const shown = failure.errors.slice(0, MAX_ERRORS_SHOWN).map((e) => line(`${e.resource}${e.field ? ` field ${e.field}` : ''}: ${e.message}`));
      const more = failure.errors.length - shown.length;
      return `${shown.join('')}${more > 0 ? line(`and ${more} more`) : ''}`;
    }
    case 'output':
      return line(`could not write the output: ${failure.reason}`);
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

export async function runTranslate(input: string | undefined, flags: TranslateFlags, io: CliIo, overrides: ContainerOverrides = {}): Promise<number> {
  const config = parseTranslateConfig(input, flags, io.env ?? {});
  if (!config.ok) {
    io.err(`error: ${config.error}\n`);
    return EXIT.usage;
  }
  // A long run says what it is doing, on a terminal only (see progress.ts).
  const progress = io.errIsTerminal ? new ProgressLine(io.err) : undefined;
  const container = buildTranslateContainer(config.value, overrides, progress);
  const app = container.get<TranslateApp>(TranslateAppToken);
  const outcome = await app.run();
  if (!outcome.ok) {
    io.err(describeFailure(outcome.error));
    return outcome.error.kind === 'output' ? EXIT.output : EXIT.input;
  }
  const report = outcome.value.translation.report;
  // With the document on stdout, everything else goes to stderr.
  const side = config.value.output ? io.out : io.err;
  if (config.value.explain === 'json') side(`${displayJson(report.records, 2)}\n`);
  else if (config.value.explain === 'text')
    side(
      report
        .summary()
        .map((line) => `${formatSummaryLine(line)}\n`)
        .join(''),
    );
  side(summary(outcome.value, config.value.output ?? 'stdout'));
  return EXIT.ok;
}
