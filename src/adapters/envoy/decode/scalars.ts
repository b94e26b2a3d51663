// Small conversions shared by the decoders.
import type { Duration } from '../generated/google/protobuf/duration.js';
import type { FractionalPercent } from '../generated/envoy/type/v3/percent.js';
import { FractionalPercent_DenominatorType } from '../generated/envoy/type/v3/percent.js';
import type { DataSource } from '../generated/envoy/config/core/v3/base.js';
import type { DecodeContext } from './decode-context.js';

export const durationMs = (duration: Duration | undefined): number | undefined =>
  duration === undefined ? undefined : duration.seconds * 1000 + duration.nanos / 1e6;

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
