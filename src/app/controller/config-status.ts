// The status and Events an AmeshPluginConfig should carry, from what the controller computed for it
// and what sidecars reported. Pure: the controller compares the result with the stored status and
// writes only differences, so its own writes never make it loop.
import type { ShadowedPlugin } from '../../domain/plugins/merge.js';
import type { FieldProblem } from '../../domain/plugins/plugin-config.js';
import type { SchemaReport } from '../../domain/plugins/plugin-schema-check.js';
import type { ClusterEvent, ConfigCondition, ConfigStatus } from '../../ports/plugin-config-cluster.js';
import type { PluginProblem } from '../../ports/plugin-config-source.js';

/** How the plugins fared against APISIX's schemas (see domain/plugins/plugin-schema-check.ts). */
export type SchemaOutcome =
  /** The controller runs without schemas (no --plugin-schemas). */
  | { readonly kind: 'off' }
  /** The spec's structure is wrong already; its plugins were not checked. */
  | { readonly kind: 'not-checked' }
  | { readonly kind: 'checked'; readonly report: SchemaReport };

export interface ConfigOutcome {
  readonly generation: number;
  /** Structural problems, or the schema problems of its plugins: either way nothing is delivered. */
  readonly problems: readonly FieldProblem[];
  readonly schema: SchemaOutcome;
  readonly pods: readonly string[];
  readonly shadowed: readonly ShadowedPlugin[];
  /** Problems sidecars reported for this config's plugins, by pod. */
  readonly sidecarProblems: ReadonlyMap<string, readonly PluginProblem[]>;
}

const MAX_LISTED = 5;
const listed = (items: readonly string[]): string =>
  items.length <= MAX_LISTED ? items.join('; ') : `${items.slice(0, MAX_LISTED).join('; ')}; and ${items.length - MAX_LISTED} more`;

type DesiredCondition = Omit<ConfigCondition, 'lastTransitionTime'>;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The `Validated` condition: what APISIX's plugin schemas said, or why they were not asked. */
function validated(outcome: ConfigOutcome): DesiredCondition {
  const observedGeneration = outcome.generation;
  const schema = outcome.schema;
  if (schema.kind === 'off')
    return {
      type: 'Validated',
      status: 'Unknown',
      reason: 'NoSchemas',
      message: 'the controller has no APISIX plugin schemas (--plugin-schemas): only structural checks ran',
      observedGeneration,
    };
  if (schema.kind === 'not-checked')
    return {
      type: 'Validated',
      status: 'Unknown',
      reason: 'NotChecked',
      message: "not checked against APISIX's plugin schemas: the spec itself is invalid (see Ready)",
      observedGeneration,
    };
  const { problems, unknown, valid, external } = schema.report;
  if (problems.length > 0)
    return { type: 'Validated', status: 'False', reason: 'SchemaMismatch', message: listed(problems.map((p) => `${p.field}: ${p.message}`)), observedGeneration };
  const runners = external > 0 ? `; ${plural(external, 'runner plugin')} (pre-req/post-req) not APISIX's to check` : '';
  if (unknown.length > 0) {
    const names = listed(unknown.map((u) => `${u.field} ${u.name}`));
    return { type: 'Validated', status: 'Unknown', reason: 'UnknownPlugin', message: `no APISIX schema for ${names}: delivered unchecked${runners}`, observedGeneration };
  }
  const matched = valid === 0 ? 'no route plugins to check' : valid === 1 ? "1 plugin matches APISIX's schema" : `${valid} plugins match APISIX's schemas`;
  return { type: 'Validated', status: 'True', reason: 'SchemaValid', message: `${matched}${runners}`, observedGeneration };
}

export function desiredConditions(outcome: ConfigOutcome): DesiredCondition[] {
  const generation = outcome.generation;
  if (outcome.problems.length > 0) {
    const message = `not delivered: ${listed(outcome.problems.map((p) => `${p.field}: ${p.message}`))}`;
    return [
      { type: 'Ready', status: 'False', reason: 'Invalid', message, observedGeneration: generation },
      { type: 'Applied', status: 'Unknown', reason: 'Invalid', message: 'nothing delivered', observedGeneration: generation },
      validated(outcome),
    ];
  }
  const shadowed = outcome.shadowed.map((s) => `plugin ${s.name} (${s.phase}) is overridden by ${s.winner}`);
  const ready: DesiredCondition = {
    type: 'Ready',
    status: 'True',
    reason: outcome.shadowed.length > 0 ? 'PartlyOverridden' : 'Delivered',
    message: `selects ${outcome.pods.length} pod${outcome.pods.length === 1 ? '' : 's'}${shadowed.length > 0 ? `; ${listed(shadowed)}` : ''}`,
    observedGeneration: generation,
  };
  const failing = [...outcome.sidecarProblems].flatMap(([pod, problems]) => problems.map((p) => `pod ${pod}: ${p.name}: ${p.reason}`));
  const applied: DesiredCondition =
    failing.length > 0
      ? { type: 'Applied', status: 'False', reason: 'SidecarRejected', message: listed(failing), observedGeneration: generation }
      : { type: 'Applied', status: 'True', reason: 'NoProblemsReported', message: 'no sidecar reported a problem with these plugins', observedGeneration: generation };
  return [ready, applied, validated(outcome)];
}

/** Keeps a condition's lastTransitionTime while its status stays the same (Kubernetes convention). */
export function statusFor(outcome: ConfigOutcome, current: ConfigStatus | undefined, now: Date): ConfigStatus {
  const conditions = desiredConditions(outcome).map((c): ConfigCondition => {
    const before = current?.conditions.find((old) => old.type === c.type);
    return { ...c, lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  });
  return { observedGeneration: outcome.generation, matchedPods: outcome.pods.length, conditions };
}

/** Equal when a write would change nothing the user can see (transition times aside). */
export function sameStatus(a: ConfigStatus | undefined, b: ConfigStatus): boolean {
  if (!a) return false;
  const strip = (s: ConfigStatus): string =>
    JSON.stringify({
      g: s.observedGeneration,
      n: s.matchedPods,
      c: [...s.conditions].sort((x, y) => (x.type < y.type ? -1 : 1)).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration]),
    });
  return strip(a) === strip(b);
}

/** The Event for a change of the conditions' reasons or of the generation; undefined when nothing is new. */
export function eventFor(outcome: ConfigOutcome, conditions: readonly DesiredCondition[]): { key: string; event: ClusterEvent } | undefined {
  const ready = conditions.find((c) => c.type === 'Ready')!;
  const applied = conditions.find((c) => c.type === 'Applied')!;
  const checked = conditions.find((c) => c.type === 'Validated');
  const key = `${outcome.generation}/${ready.reason}/${applied.reason}/${checked?.reason ?? ''}`;
  if (ready.status === 'False') return { key, event: { type: 'Warning', reason: 'Invalid', message: ready.message } };
  if (applied.status === 'False') return { key, event: { type: 'Warning', reason: 'SidecarRejected', message: applied.message } };
  if (checked?.reason === 'UnknownPlugin') return { key, event: { type: 'Warning', reason: 'UnknownPlugin', message: checked.message } };
  return { key, event: { type: 'Normal', reason: ready.reason, message: ready.message } };
}
