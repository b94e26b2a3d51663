// Reading APISIX Admin API answers: the message of an error body and whether retrying can help.
import { displayText } from '../../domain/display-text.js';
import type { JsonObject } from '../../domain/json.js';
import type { HttpOutcome } from './http-json.js';
import type { StoreFailure } from './object-store.js';
import { isTransientStatus } from './retry.js';

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * APISIX's message from an error body: error_msg, or message (404s), or the raw text. It goes into
 * logs, the config dump and NACKs: one bounded line (APISIX's messages can hold CR/LF and quote the
 * object), no private keys.
 */
export function messageOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isObject(parsed)) {
      const text = parsed.error_msg ?? parsed.message;
      const detail = parsed.description;
      if (typeof text === 'string') return displayText(typeof detail === 'string' ? `${text} (${detail})` : text, MESSAGE_CHARS);
    }
  } catch {
    // not JSON: quote it as it came
  }
  return displayText(body.trim(), 300) || '(empty body)';
}

const MESSAGE_CHARS = 1000;

/** A failed exchange as a StoreFailure: no answer, a 5xx or a reference race is transient, any other status is a refusal. */
export function failureOf(outcome: HttpOutcome, what: string): StoreFailure {
  if (!outcome.ok) return { ok: false, transient: true, reason: `${what}: ${outcome.error}` };
  const { status, body } = outcome.reply;
  const message = messageOf(body);
  return { ok: false, transient: isTransientStatus(status) || (status === 400 && REFERENCE_RACE.test(message)), reason: `${what}: ${status} ${message}` };
}

/**
 * APISIX checks a delete's references against its workers' copy of etcd, which follows the writes just
 * made with a delay: "route [...] is still using it now" right after that route stopped using it is a
 * race to wait out, not a refusal (seen with a real APISIX 3.18 in test/real-apisix).
 */
const REFERENCE_RACE = /is still using it now/;

/**
 * A failed write of an object to APISIX: as failureOf, and a 400 is APISIX's schema or reference check
 * refusing the body (its error_msg says why). 401/403 (the key), 404 and 409 are about the target.
 */
export function refusalOf(outcome: HttpOutcome, what: string): StoreFailure {
  const failure = failureOf(outcome, what);
  return outcome.ok && outcome.reply.status === 400 && !failure.transient ? { ...failure, rejected: true } : failure;
}
