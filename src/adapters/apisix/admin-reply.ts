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

/** A failed exchange as a StoreFailure: no answer or a 5xx is transient, any other status is a refusal. */
export function failureOf(outcome: HttpOutcome, what: string): StoreFailure {
  if (!outcome.ok) return { ok: false, transient: true, reason: `${what}: ${outcome.error}` };
  const { status, body } = outcome.reply;
  return { ok: false, transient: isTransientStatus(status), reason: `${what}: ${status} ${messageOf(body)}` };
}

/**
 * A failed write of an object to APISIX: as failureOf, and a 400 is APISIX's schema or reference check
 * refusing the body (its error_msg says why). 401/403 (the key), 404 and 409 are about the target.
 */
export function refusalOf(outcome: HttpOutcome, what: string): StoreFailure {
  const failure = failureOf(outcome, what);
  return outcome.ok && outcome.reply.status === 400 ? { ...failure, rejected: true } : failure;
}
