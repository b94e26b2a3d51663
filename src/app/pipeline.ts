// source update → consistency check → translation: what every app does with a new snapshot.
import { Translator, type Translation, type TranslateOptions } from '../adapters/apisix/translate.js';
import { FidelityReport } from '../domain/fidelity.js';
import { quote } from '../domain/display-text.js';
import { err, ok, type Result } from '../domain/result.js';
import { danglingReferences, type DanglingReference, type MeshSnapshot } from '../domain/snapshot.js';
import type { SourceUpdate } from '../ports/config-source.js';

export interface PipelineOptions extends TranslateOptions {
  /**
   * Accept references to resources the input lacks (a partial config dump): they are reported and
   * rendered as Envoy would answer them (503). Otherwise they are an error.
   */
  readonly partial?: boolean;
}

export interface PipelineError {
  readonly resource: string;
  readonly field: string;
  readonly message: string;
}

const danglingMemo = new WeakMap<Translator, { readonly key: readonly unknown[]; readonly result: DanglingReference[] }>();

/** danglingReferences, again only when a map it reads changed (endpoints are not among them). */
function danglingOf(snapshot: MeshSnapshot, clusters: boolean, translator: Translator): DanglingReference[] {
  const key = [snapshot.listeners, snapshot.routeTables, snapshot.clusters, snapshot.secrets, clusters];
  const memo = danglingMemo.get(translator);
  if (memo && memo.key.every((k, i) => k === key[i])) return memo.result;
  const result = danglingReferences(snapshot, { clusters });
  danglingMemo.set(translator, { key, result });
  return result;
}

/** `translator` carries reusable work from one update to the next (the sidecar keeps one). */
export function translateUpdate(update: SourceUpdate, options: PipelineOptions, translator = new Translator()): Result<Translation, PipelineError[]> {
  const report = new FidelityReport();
  if (update.fidelityGroups) for (const group of update.fidelityGroups) report.recordGroup(group);
  else report.recordAll(update.fidelity);
  // Missing clusters are fatal only without --partial; otherwise the translation reports them itself.
  const dangling = danglingOf(update.snapshot, !options.partial, translator);
  if (dangling.length > 0 && !options.partial) {
    return err(
      dangling.map((d) => ({
        resource: `${d.from.type} ${quote(d.from.name)}`,
        field: d.field,
        message: `references ${d.to.type} ${quote(d.to.name)}, which is not in the configuration (use --partial for incomplete dumps)`,
      })),
    );
  }
  // Missing clusters are reported by the translation itself, with what APISIX does instead.
  for (const d of dangling) {
    if (d.to.type !== 'Cluster') report.record({ resource: d.from, field: d.field, severity: 'dropped', reason: `${d.to.type} ${quote(d.to.name)} is not in the input` });
  }
  const translation = translator.translate(update.snapshot, options, report);
  if (!translation.ok) {
    return err(translation.error.map((e) => ({ resource: `${e.resource.type} ${quote(e.resource.name)}`, field: e.field, message: e.message })));
  }
  return ok(translation.value);
}
