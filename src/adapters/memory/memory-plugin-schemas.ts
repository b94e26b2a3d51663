// In-memory PluginSchemas: each plugin's check is a function (unit tests, embedding without files).
import type { JsonObject } from '../../domain/json.js';
import type { SchemaVerdict } from '../../domain/plugins/plugin-schema-check.js';
import type { PluginSchemas } from '../../ports/plugin-schemas.js';

/** The errors in `config` (each starting with its JSON pointer), none when it is valid. */
export type PluginRule = (config: JsonObject) => readonly string[];

export class MemoryPluginSchemas implements PluginSchemas {
  readonly source = 'memory';

  constructor(private readonly rules: Readonly<Record<string, PluginRule>>) {}

  names(): readonly string[] {
    return Object.keys(this.rules).sort();
  }

  check(name: string, config: JsonObject): SchemaVerdict {
    const rule = Object.hasOwn(this.rules, name) ? this.rules[name] : undefined;
    if (!rule) return { kind: 'unknown', reason: `no schema for plugin "${name}" in ${this.source}` };
    const errors = rule(config);
    return errors.length === 0 ? { kind: 'valid' } : { kind: 'invalid', errors };
  }
}
