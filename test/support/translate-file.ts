// Loads an input file through the real file source and translates it, as the CLI does.
import { FileConfigSource } from '../../src/adapters/file-source/file-config-source.js';
import type { Translation } from '../../src/adapters/apisix/translate.js';
import { translateUpdate, type PipelineOptions } from '../../src/app/pipeline.js';
import type { SourceUpdate } from '../../src/ports/config-source.js';

/** Fixtures may hold no resources (a dump of a bootstrap only, resources in other files): they are translated as empty. */
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
