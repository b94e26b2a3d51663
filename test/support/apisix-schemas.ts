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

const PLUGIN_SCHEMAS: Record<string, string> = {
  'traffic-split': 'plugin-traffic-split.schema.json',
  'proxy-rewrite': 'plugin-proxy-rewrite.schema.json',
};

export interface SchemaViolation {
  readonly key: string;
  readonly errors: string;
}

export class ApisixSchemas {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(schemaDir: string) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'))) {
      ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, file), 'utf8')) as object, file);
    }
    for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'))) {
      this.validators.set(file, ajv.getSchema(file)!);
    }
  }

  private check(file: string, value: unknown, key: string, out: SchemaViolation[]): void {
    const validate = this.validators.get(file)!;
    if (!validate(value)) out.push({ key, errors: JSON.stringify(validate.errors?.slice(0, 3)) });
  }

  /**
   * The first reason APISIX's Admin API would refuse `value` as a `kind` object (its schema and the
   * schemas of the plugins we have), worded like APISIX's `invalid configuration: …`; undefined if valid.
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
      const pluginFile = PLUGIN_SCHEMAS[name];
      if (!pluginFile) continue;
      const validatePlugin = this.validators.get(pluginFile)!;
      if (!validatePlugin(conf)) return `failed to check the configuration of plugin ${name} err: ${validatePlugin.errors?.[0]?.message ?? 'invalid'}`;
    }
    return undefined;
  }

  /** Every object by its kind's schema, every plugin with a schema by that, and the whole standalone document. */
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
        const pluginFile = PLUGIN_SCHEMAS[name];
        if (pluginFile) this.check(pluginFile, conf, `${key} plugin ${name}`, out);
      }
    }
    this.check('standalone.schema.json', standaloneDocument(config), 'standalone document', out);
    return out;
  }
}
