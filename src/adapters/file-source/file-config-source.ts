// ConfigSource over files: an Envoy admin config dump (JSON/YAML, as `istioctl proxy-config all
// -o json` prints it), a bootstrap's static_resources, an xDS resource list, or a directory of
// such files. Errors name the file, the resource and the field.
import { createHash } from 'node:crypto';
import { statSync, watch as watchFs, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { quote } from '../../domain/display-text.js';
import { FidelityReport } from '../../domain/fidelity.js';
import { err, ok, type Result } from '../../domain/result.js';
import { createSnapshot } from '../../domain/snapshot.js';
import { onRejection, type ConfigSource, type ConfigWatcher, type Disposable, type SourceError, type SourceUpdate } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';
import { streamDocument } from '../envoy/config-document.js';
import { decodeXdsResources, xdsResourceName, type XdsResource } from '../envoy/xds-resources.js';

export interface FileSourceOptions {
  /** A file, or a directory whose *.json, *.yaml and *.yml files are read together. */
  readonly path: string;
  /** Re-read and publish again when the files change. */
  readonly follow?: boolean;
  /** Told of updates the watcher rejects (a file has nobody upstream to NACK to). */
  readonly logger?: Logger;
}

const DOCUMENT_EXTENSIONS = new Set(['.json', '.yaml', '.yml']);

async function filesOf(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => DOCUMENT_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  return names.map((n) => join(path, n));
}

/** JSON is valid YAML, but JSON.parse is much faster and gives the same values. */
function parseText(text: string, file: string): Result<unknown[], SourceError> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return ok([JSON.parse(text)]);
    } catch (error) {
      return err({ location: file, message: `invalid JSON: ${(error as Error).message}` });
    }
  }
  const documents: unknown[] = [];
  // Parsed as one stream so that error positions are lines of the file, not of one document.
  for (const document of parseAllDocuments(text, { uniqueKeys: true })) {
    const [problem] = document.errors;
    if (problem) {
      const position = problem.linePos?.[0];
      const message = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return err({ location: position ? `${file}:${position.line}:${position.col}` : file, message: `invalid YAML: ${message}` });
    }
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) documents.push(value);
  }
  return ok(documents);
}

/** Where each resource came from, so that a decode error can name its file. */
const resourceKey = (type: string, name: string): string => `${type}/${name}`;

export class FileConfigSource implements ConfigSource {
  constructor(private readonly options: FileSourceOptions) {}

  async load(): Promise<Result<SourceUpdate, SourceError>> {
    let files: string[];
    try {
      files = await filesOf(this.options.path);
    } catch (error) {
      return err({ location: this.options.path, message: (error as Error).message });
    }
    if (files.length === 0) return err({ location: this.options.path, message: 'no .json, .yaml or .yml files' });
    const texts: (Result<string, SourceError> | undefined)[] = await Promise.all(
      files.map((file) => readFile(file, 'utf8').then(ok, (error: Error) => err({ location: file, message: error.message }))),
    );
    const hash = createHash('sha256');
    /** The documents of the f-th file; its text is let go, and the caller lets go of each document once checked. */
    const documentsOf = (f: number): Result<unknown[], SourceError> => {
      const text = texts[f]!;
      texts[f] = undefined;
      if (!text.ok) return text;
      hash.update(files[f]!).update(text.value);
      return parseText(text.value, files[f]!);
    };
    const origins = new Map<string, string>();
    let failure: SourceError | undefined;
    /**
     * Each resource is typed only when decodeXdsResources reaches it, so the typed messages die young. A file
     * that cannot be read or parsed, or a document error, ends the stream: `failure` then wins over decode errors.
     */
    function* resources(): Generator<XdsResource> {
      for (const [f, file] of files.entries()) {
        const documents = documentsOf(f);
        if (!documents.ok) return void (failure = documents.error);
        const count = documents.value.length;
        for (let d = 0; d < count; d++) {
          const where = count > 1 ? `${file} (document ${d + 1})` : file;
          // Taken out of the list: a config dump streams from its checked copy, and the parsed one can go.
          const stream = streamDocument(documents.value.splice(d, 1, undefined)[0]);
          const errors = stream.ok ? stream.value.errors : stream.error;
          if (stream.ok) {
            for (const resource of stream.value.resources) {
              const name = xdsResourceName(resource);
              const key = resourceKey(resource.type, name);
              const first = origins.get(key);
              // A duplicate is where its second copy is, not where the first one was.
              if (first !== undefined && name !== '') {
                const at = first === where ? 'earlier in this file' : `first in ${first}`;
                return void (failure = { location: `${where}: ${resource.type} ${quote(name)} field name`, message: `duplicate ${resource.type} ${quote(name)} (${at})` });
              }
              if (first === undefined) origins.set(key, where);
              if (errors.length === 0) yield resource;
            }
          }
          if (errors.length > 0) {
            const [first] = errors;
            const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
            return void (failure = { location: first?.path ? `${where}: ${first.path}` : where, message: `${first?.message ?? 'invalid'}${more}` });
          }
        }
      }
    }
    const report = new FidelityReport();
    const decoded = decodeXdsResources(resources(), report);
    if (failure) return err(failure);
    const [problem] = decoded.errors;
    if (problem) {
      const more = decoded.errors.length > 1 ? ` (and ${decoded.errors.length - 1} more)` : '';
      const file = origins.get(resourceKey(problem.resource.type, problem.resource.name)) ?? this.options.path;
      const location = `${file}: ${problem.resource.type} ${quote(problem.resource.name)}${problem.field ? ` field ${problem.field}` : ''}`;
      return err({ location, message: `${problem.message}${more}` });
    }
    const version = hash.digest('hex').slice(0, 16);
    return ok({ snapshot: createSnapshot(version, decoded.resources), fidelity: report.records });
  }

  /**
   * Watches the directory, not the file: a file replaced by rename (how editors and Kubernetes
   * ConfigMaps update files) would leave a file watch on the old inode.
   */
  private followChanges(onChange: () => void): FSWatcher {
    const path = this.options.path;
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // A missing file may appear later; its directory is watched.
    }
    const directory = isDirectory ? path : dirname(path);
    const name = basename(path);
    return watchFs(directory, { persistent: false }, (_event, changed) => {
      if (isDirectory || changed === null || changed === name) onChange();
    });
  }

  watch(watcher: ConfigWatcher): Disposable {
    let disposed = false;
    let watcherFs: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const publish = async (): Promise<void> => {
      const result = await this.load();
      if (disposed) return;
      if (!result.ok) return watcher.onError(result.error);
      onRejection(watcher.onUpdate(result.value), (reason) =>
        this.options.logger?.warn({ path: this.options.path, error: reason }, 'the configuration read from the file was rejected; the last good one stays'),
      );
    };
    void publish();
    if (this.options.follow) watcherFs = this.followChanges(() => {
      // Editors and ConfigMap updates write in several steps; settle before reading.
      clearTimeout(timer);
      timer = setTimeout(() => void publish(), 100);
    });
    return {
      dispose: () => {
        disposed = true;
        clearTimeout(timer);
        watcherFs?.close();
      },
    };
  }
}
