// A credential (an Admin API key) that can travel through configuration objects and logs without
// ever being printed: every textual form of it is a placeholder; only reveal() gives the value.
const REDACTED = '[redacted]';

export class SecretText {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
