// Private keys are for the sinks only: anything meant to be shown (the config dump, errors, logs,
// the fidelity report) goes through here first. Keys are recognised by their PEM armour, wherever
// in a text they are; a BEGIN without its END is redacted to the end of the text (a key cut short
// is still a key). Keys that are not PEM are redacted by the callers that know which field holds one.
export const REDACTED_PRIVATE_KEY = '[redacted private key]';

const MARKER = 'PRIVATE KEY-----';
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;

export const containsPrivateKey = (text: string): boolean => text.includes(MARKER);

export function redactPrivateKeys(text: string): string {
  // The marker test first: almost every text has no key, and this runs on every log line.
  if (!containsPrivateKey(text)) return text;
  return text.replace(PRIVATE_KEY_BLOCK, REDACTED_PRIVATE_KEY);
}

/** A copy of a JSON-like value with every string redacted; the value itself when it holds no key. */
export function redactJsonStrings<T>(value: T): T {
  return redactValue(value, 0, new WeakSet()) as T;
}

/** Deep enough for any configuration object; deeper values are replaced rather than walked. */
const MAX_DEPTH = 64;

/** `seen`: each object is walked once (a logged object may hold cycles or shared parts). */
function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactPrivateKeys(value);
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  if (depth > MAX_DEPTH) return '[too deep to show]';
  seen.add(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const redacted = redactValue(item, depth + 1, seen);
      if (redacted !== item) (copy ??= [...(value as unknown[])])[i] = redacted;
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const redacted = redactValue(item, depth + 1, seen);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return copy ?? value;
}
