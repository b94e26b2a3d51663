// The oracle for everything we emit: APISIX's own schemas (../shared/apisix-schemas), compiled with
// ajv + ajv-formats as that folder's README prescribes (default options; strictRequired and
// strictTypes off because of two quirks copied from the Lua).
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { GatewayConfig, GatewayKind } from '../../src/domain/gateway-config.js';
import type { JsonObject } from '../../src/domain/json.js';
import { standaloneDocument } from '../../src/adapters/apisix/standalone-document.js';

const SCHEMA_OF_KIND: Partial<Record<GatewayKind, string>> = {
  routes: 'route.schema.json',
  upstreams: 'upstream.schema.json',
  ssls: 'ssl.schema.json',
  stream_routes: 'stream_route.schema.json',
  services: 'service.schema.json',
  plugin_configs: 'plugin_config.schema.json',
  global_rules: 'global_rule.schema.json',
};

/**
 * Plugins we may emit that have no schema in `plugins/`: the folder holds the plugins whose module loads on a
 * stock nginx build, so these are checked by nothing here. Each says why; any other plugin without a schema
 * is a violation.
 */
export const PLUGINS_WITHOUT_SCHEMA: Readonly<Record<string, string>> = {
  'limit-count': 'its module needs lua-resty-redis(-cluster), so its schema was not dumped; used only as a user plugin in AmeshPluginConfig tests',
};

export interface SchemaViolation {
  readonly key: string;
  readonly errors: string;
}

export class ApisixSchemas {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly pluginValidators = new Map<string, ValidateFunction | undefined>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });

  constructor(private readonly schemaDir: string) {
    addFormats.default(this.ajv);
    for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'))) {
      this.ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, file), 'utf8')) as object, file);
    }
    for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'))) {
      this.validators.set(file, this.ajv.getSchema(file)!);
    }
  }

  /** APISIX 3.18's own schema of plugin `name` (plugins/<name>.schema.json), compiled on first use. */
  pluginValidator(name: string): ValidateFunction | undefined {
    if (!this.pluginValidators.has(name)) {
      const file = path.join(this.schemaDir, 'plugins', `${name}.schema.json`);
      const schema = /^[a-z0-9-]+$/.test(name) && fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as object) : undefined;
      this.pluginValidators.set(name, schema ? this.ajv.compile(schema) : undefined);
    }
    return this.pluginValidators.get(name);
  }

  /** Why plugin `name`'s config `conf` is not one APISIX accepts; undefined if it is (or is listed as unchecked). */
  pluginError(name: string, conf: unknown): string | undefined {
    const validate = this.pluginValidator(name);
    if (!validate) return name in PLUGINS_WITHOUT_SCHEMA ? undefined : `no schema for plugin ${name} in apisix-schemas/plugins and no reason listed`;
    if (validate(conf)) return undefined;
    const first = validate.errors?.[0];
    return `property "${first?.instancePath || '/'}" validation failed: ${first?.message ?? 'invalid'}`;
  }

  private check(file: string, value: unknown, key: string, out: SchemaViolation[]): void {
    const validate = this.validators.get(file)!;
    if (!validate(value)) out.push({ key, errors: JSON.stringify(validate.errors?.slice(0, 3)) });
  }

  /**
   * The first reason APISIX's Admin API would refuse `value` as a `kind` object (its schema and its
   * plugins' schemas), worded like APISIX's `invalid configuration: …`; undefined if valid.
   */
  objectError(kind: GatewayKind, value: unknown): string | undefined {
    const file = SCHEMA_OF_KIND[kind];
    if (!file) return `no schema for kind ${kind}`;
    const validate = this.validators.get(file)!;
    if (!validate(value)) {
      const first = validate.errors?.[0];
      return `invalid configuration: property "${first?.instancePath || '/'}" validation failed: ${first?.message ?? 'invalid'}`;
    }
    const plugins = (value as JsonObject).plugins as JsonObject | undefined;
    for (const [name, conf] of Object.entries(plugins ?? {})) {
      const error = this.pluginError(name, conf);
      if (error) return `failed to check the configuration of plugin ${name} err: ${error}`;
    }
    return undefined;
  }

  /** Every object by its kind's schema, every plugin by APISIX's schema of it, and the whole standalone document. */
  violations(config: GatewayConfig): SchemaViolation[] {
    const out: SchemaViolation[] = [];
    for (const [key, object] of config.objects) {
      const file = SCHEMA_OF_KIND[object.kind];
      if (!file) {
        out.push({ key, errors: `no schema for kind ${object.kind}` });
        continue;
      }
      this.check(file, object.value, key, out);
      const plugins = object.value.plugins as JsonObject | undefined;
      for (const [name, conf] of Object.entries(plugins ?? {})) {
        const error = this.pluginError(name, conf);
        if (error) out.push({ key: `${key} plugin ${name}`, errors: error });
      }
    }
    this.check('standalone.schema.json', standaloneDocument(config), 'standalone document', out);
    return out;
  }
}
