// ConfigSource over files: an Envoy admin config dump (JSON/YAML, as `istioctl proxy-config all
// -o json` prints it), a bootstrap's static_resources, an xDS resource list, or a directory of
// such files. Errors name the file, the resource and the field.
import { createHash } from 'node:crypto';
import { statSync, watch as watchFs, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FidelityReport } from '../../domain/fidelity.js';
import { err, ok, type Result } from '../../domain/result.js';
import { createSnapshot } from '../../domain/snapshot.js';
import { onRejection, type ConfigSource, type ConfigWatcher, type Disposable, type SourceError, type SourceUpdate } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';
import { resourcesOfDocument } from '../envoy/config-document.js';
import { decodeXdsResources, type XdsResource } from '../envoy/xds-resources.js';

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
    const hash = createHash('sha256');
    const resources: XdsResource[] = [];
    const origins = new Map<string, string>();
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        return err({ location: file, message: (error as Error).message });
      }
      hash.update(file).update(text);
      const parsed = parseText(text, file);
      if (!parsed.ok) return parsed;
      for (const [d, document] of parsed.value.entries()) {
        const where = parsed.value.length > 1 ? `${file} (document ${d + 1})` : file;
        const found = resourcesOfDocument(document);
        if (!found.ok) {
          const [first] = found.error;
          const more = found.error.length > 1 ? ` (and ${found.error.length - 1} more)` : '';
          return err({ location: first?.path ? `${where}: ${first.path}` : where, message: `${first?.message ?? 'invalid'}${more}` });
        }
        for (const resource of found.value.resources) {
          resources.push(resource);
          const name = resource.type === 'ClusterLoadAssignment' ? resource.message.clusterName : resource.message.name;
          if (!origins.has(resourceKey(resource.type, name))) origins.set(resourceKey(resource.type, name), where);
        }
      }
    }
    const report = new FidelityReport();
    const decoded = decodeXdsResources(resources, report);
    const [problem] = decoded.errors;
    if (problem) {
      const more = decoded.errors.length > 1 ? ` (and ${decoded.errors.length - 1} more)` : '';
      const file = origins.get(resourceKey(problem.resource.type, problem.resource.name)) ?? this.options.path;
      const location = `${file}: ${problem.resource.type} "${problem.resource.name}"${problem.field ? ` field ${problem.field}` : ''}`;
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
