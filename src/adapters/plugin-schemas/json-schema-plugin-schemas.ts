// PluginSchemas over a directory of JSON Schema files, one per plugin (`<name>.schema.json`, as in
// apisix-schemas/plugins: APISIX's own `schema` tables dumped to JSON), checked with ajv the way
// that data's README prescribes (ajv-formats on; strict mode off for two quirks copied from the Lua).
// Every file is read and parsed when loading, so a broken directory fails at startup; each schema
// is compiled on first use, since a controller sees a handful of plugins out of dozens.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { JsonObject } from '../../domain/json.js';
import type { SchemaVerdict } from '../../domain/plugins/plugin-schema-check.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { PluginSchemas } from '../../ports/plugin-schemas.js';

const SUFFIX = '.schema.json';
// Only names that can be APISIX plugin names reach the file map (no path tricks).
const PLUGIN_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const MAX_ERRORS = 3;

function describe(e: ErrorObject): string {
  const where = e.instancePath || '/';
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
  return `${where} ${e.message ?? 'is invalid'}${extra}`;
}

export class JsonSchemaPluginSchemas implements PluginSchemas {
  private readonly ajv = new Ajv({ strict: false });
  private readonly compiled = new Map<string, Result<ValidateFunction, string>>();

  private constructor(
    readonly source: string,
    private readonly schemas: ReadonlyMap<string, object>,
  ) {
    addFormats.default(this.ajv);
  }

  /** Reads every `<name>.schema.json` in `dir`; an unreadable directory or file is an error value. */
  static load(dir: string): Result<JsonSchemaPluginSchemas, string> {
    const source = resolve(dir);
    const stat = statSync(source, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) return err(`${source}: not a directory`);
    let files: string[];
    try {
      files = readdirSync(source).filter((f) => f.endsWith(SUFFIX));
    } catch (e) {
      return err(`${source}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const schemas = new Map<string, object>();
    for (const file of files.sort()) {
      const name = file.slice(0, -SUFFIX.length);
      if (!PLUGIN_NAME.test(name)) continue;
      try {
        const schema: unknown = JSON.parse(readFileSync(join(source, file), 'utf8'));
        if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return err(`${join(source, file)}: not a JSON Schema object`);
        schemas.set(name, schema);
      } catch (e) {
        return err(`${join(source, file)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (schemas.size === 0) return err(`${source}: no <plugin>${SUFFIX} files`);
    return ok(new JsonSchemaPluginSchemas(source, schemas));
  }

  names(): readonly string[] {
    return [...this.schemas.keys()];
  }

  check(name: string, config: JsonObject): SchemaVerdict {
    const validator = this.validator(name);
    if (!validator) return { kind: 'unknown', reason: `no schema for plugin "${name}" in ${this.source}` };
    if (!validator.ok) return { kind: 'unknown', reason: validator.error };
    if (validator.value(config)) return { kind: 'valid' };
    const errors = [...new Set((validator.value.errors ?? []).map(describe))];
    return { kind: 'invalid', errors: errors.length > MAX_ERRORS ? [...errors.slice(0, MAX_ERRORS), `and ${errors.length - MAX_ERRORS} more`] : errors };
  }

  private validator(name: string): Result<ValidateFunction, string> | undefined {
    const schema = PLUGIN_NAME.test(name) ? this.schemas.get(name) : undefined;
    if (!schema) return undefined;
    let validator = this.compiled.get(name);
    if (!validator) {
      try {
        validator = ok(this.ajv.compile(schema));
      } catch (e) {
        // e.g. a pattern only PCRE understands (openwhisk's \A…\z): reported as unchecked, not refused.
        validator = err(`the schema of plugin "${name}" in ${this.source} cannot be used: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.compiled.set(name, validator);
    }
    return validator;
  }
}
