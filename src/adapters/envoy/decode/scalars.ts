// Small conversions shared by the decoders.
import type { Duration } from '../generated/google/protobuf/duration.js';
import type { FractionalPercent } from '../generated/envoy/type/v3/percent.js';
import { FractionalPercent_DenominatorType } from '../generated/envoy/type/v3/percent.js';
import type { DataSource } from '../generated/envoy/config/core/v3/base.js';
import type { DecodeContext } from './decode-context.js';

export const durationMs = (duration: Duration | undefined): number | undefined => (duration === undefined ? undefined : duration.seconds * 1000 + duration.nanos / 1e6);

/** google.protobuf.Duration's range (±10,000 years), which Envoy enforces when it reads one. */
const MAX_DURATION_SECONDS = 315_576_000_000;

/**
 * A duration Envoy would accept: it refuses a negative one wherever it converts one
 * (DurationUtil: "Expected positive duration") and one out of protobuf's range; `positive` where
 * the field's validation rule is `gt: {}` (a cluster's connect_timeout). Undefined when unset or
 * refused (the failure is recorded).
 */
export function checkedDurationMs(duration: Duration | undefined, field: string, ctx: DecodeContext, rule: 'non-negative' | 'positive' = 'non-negative'): number | undefined {
  if (duration === undefined) return undefined;
  if (duration.seconds < 0 || duration.nanos < 0) {
    ctx.fail(field, `negative duration ${duration.seconds}s${duration.nanos !== 0 ? ` ${duration.nanos}ns` : ''}: Envoy expects a positive duration`);
    return undefined;
  }
  if (duration.seconds > MAX_DURATION_SECONDS) {
    ctx.fail(field, `duration ${duration.seconds}s is out of range (at most ${MAX_DURATION_SECONDS}s)`);
    return undefined;
  }
  const ms = durationMs(duration)!;
  if (rule === 'positive' && ms === 0) {
    ctx.fail(field, 'must be greater than 0');
    return undefined;
  }
  return ms;
}

/** 0..100 */
export function percentOf(fraction: FractionalPercent | undefined): number {
  if (!fraction) return 100;
  switch (fraction.denominator) {
    case FractionalPercent_DenominatorType.TEN_THOUSAND:
      return Math.min(100, fraction.numerator / 100);
    case FractionalPercent_DenominatorType.MILLION:
      return Math.min(100, fraction.numerator / 10_000);
    default:
      return Math.min(100, fraction.numerator);
  }
}

/** Inline data only: a sidecar has no business reading files named by its control plane. */
export function inlineData(source: DataSource | undefined, field: string, ctx: DecodeContext): string | undefined {
  const specifier = source?.specifier;
  if (!specifier) return undefined;
  switch (specifier.$case) {
    case 'inlineString':
      return specifier.value;
    case 'inlineBytes':
      return Buffer.from(specifier.value).toString('utf8');
    case 'filename':
      ctx.dropped(`${field}.filename`, `file "${specifier.value}" is not read; only inline data is translated`);
      return undefined;
    case 'environmentVariable':
      ctx.dropped(`${field}.environment_variable`, 'environment variables are not read; only inline data is translated');
      return undefined;
  }
}
