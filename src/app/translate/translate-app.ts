// `amesh translate`: one source snapshot → translation → one sink, with a summary and, on request,
// the fidelity report. Bad input leaves the output untouched.
import { diffConfigs } from '../../domain/diff.js';
import { clip, displayText, ECHO_LIMIT } from '../../domain/display-text.js';
import type { FidelitySummaryLine } from '../../domain/fidelity.js';
import { GatewayConfig } from '../../domain/gateway-config.js';
import type { Translation } from '../../adapters/apisix/translate.js';
import type { ConfigSource, SourceError, SourceUpdate } from '../../ports/config-source.js';
import type { ConfigSink } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import { translateUpdate, type PipelineError, type PipelineOptions } from '../pipeline.js';
import { err, ok, type Result } from '../../domain/result.js';

export type TranslateFailure =
  | { readonly kind: 'input'; readonly error: SourceError }
  | { readonly kind: 'translation'; readonly errors: readonly PipelineError[] }
  | { readonly kind: 'output'; readonly reason: string };

/** Told what a long run is doing (see app/progress.ts). */
export interface Progress {
  update(what: string): void;
  /** Before anything else is written: the document may go to the same terminal. */
  done(): void;
}

export interface TranslateOutcome {
  readonly update: SourceUpdate;
  readonly translation: Translation;
  readonly elapsedMs: number;
}

/** The first update or error a source delivers. */
export function firstUpdate(source: ConfigSource): Promise<Result<SourceUpdate, SourceError>> {
  return new Promise((resolve) => {
    const subscription = source.watch({
      onUpdate: (update) => {
        queueMicrotask(() => subscription.dispose());
        resolve(ok(update));
      },
      onError: (error) => {
        queueMicrotask(() => subscription.dispose());
        resolve(err(error));
      },
    });
  });
}

export class TranslateApp {
  constructor(
    private readonly deps: { readonly source: ConfigSource; readonly sink: ConfigSink; readonly logger: Logger; readonly progress?: Progress | undefined },
    private readonly options: PipelineOptions,
  ) {}

  async run(): Promise<Result<TranslateOutcome, TranslateFailure>> {
    const started = performance.now();
    const { progress } = this.deps;
    const update = await firstUpdate(this.deps.source);
    if (!update.ok) {
      progress?.done();
      return err({ kind: 'input', error: update.error });
    }
    progress?.update(`translating ${update.value.snapshot.clusters.size} clusters, ${update.value.snapshot.listeners.size} listeners`);
    const translation = translateUpdate(update.value, this.options);
    // The document may go to the terminal the progress line is on (stdout): the line goes first.
    if (!translation.ok || this.deps.sink.target === 'stdout') progress?.done();
    if (!translation.ok) return err({ kind: 'translation', errors: translation.error });
    const desired = translation.value.config;
    progress?.update(`writing ${desired.objects.size} objects to ${this.deps.sink.target}`);
    const result = await this.deps.sink.apply({ desired, changes: diffConfigs(GatewayConfig.empty(), desired) });
    progress?.done();
    if (result.failed.length > 0) return err({ kind: 'output', reason: result.failed.map((f) => `${f.key}: ${f.reason}`).join('; ') });
    const elapsedMs = performance.now() - started;
    this.deps.logger.debug({ sink: this.deps.sink.target, objects: desired.objects.size, elapsedMs }, 'translated');
    return ok({ update: update.value, translation: translation.value, elapsedMs });
  }
}

/** One line for a terminal: names and reasons come from the input, so they are cut, escaped and redacted. */
export function formatSummaryLine(line: FidelitySummaryLine): string {
  const examples = line.examples.length > 0 ? ` (e.g. ${line.examples.map((name) => clip(name, ECHO_LIMIT)).join(', ')})` : '';
  return displayText(`${line.severity.padEnd(12)} ${line.resourceType} ${clip(line.field, ECHO_LIMIT)}: ${line.reason} ×${line.count}${examples}`);
}
