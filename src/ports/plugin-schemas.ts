// Port (controller side): APISIX's schema of each plugin, to check AmeshPluginConfigs before they
// are delivered (see domain/plugins/plugin-schema-check.ts). Loaded from data at run time; the
// controller runs without one when none is configured, and then says so.
import type { JsonObject } from '../domain/json.js';
import type { SchemaVerdict } from '../domain/plugins/plugin-schema-check.js';

export const PluginSchemas = Symbol.for('amesh.PluginSchemas');

export interface PluginSchemas {
  /** Where the schemas come from (a directory), for logs and status messages. */
  readonly source: string;
  /** Plugin names with a schema, sorted. */
  names(): readonly string[];
  /** `config` against plugin `name`'s schema; never throws. */
  check(name: string, config: JsonObject): SchemaVerdict;
}
