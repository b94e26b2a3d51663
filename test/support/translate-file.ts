// Loads an input file through the real file source and translates it, as the CLI does.
import { FileConfigSource } from '../../src/adapters/file-source/file-config-source.js';
import type { Translation } from '../../src/adapters/apisix/translate.js';
import { translateUpdate, type PipelineOptions } from '../../src/app/pipeline.js';
import type { SourceUpdate } from '../../src/ports/config-source.js';

/** Inputs without resources load too (an ECDS-only dump, a bootstrap with only dynamic_resources): the fixture sweeps take every input as it is. */
export async function loadFile(path: string): Promise<SourceUpdate> {
  const loaded = await new FileConfigSource({ path, allowEmpty: true }).load();
  if (!loaded.ok) throw new Error(`${loaded.error.location}: ${loaded.error.message}`);
  return loaded.value;
}

export async function translateFile(path: string, options: PipelineOptions = {}): Promise<{ update: SourceUpdate; translation: Translation }> {
  const update = await loadFile(path);
  const translated = translateUpdate(update, options);
  if (!translated.ok) throw new Error(translated.error.map((e) => `${e.resource} ${e.field}: ${e.message}`).join('\n'));
  return { update, translation: translated.value };
}
