// ConfigSource over files: an Envoy admin config dump (JSON/YAML, as `istioctl proxy-config all
// -o json` prints it), a bootstrap's static_resources, an xDS resource list, or a directory of
// such files. Errors name the file, the resource and the field.
//
// Input is not trusted to be sane: only regular files are read, no more than `maxInputBytes` in all
// (document-text.ts bounds nesting and alias expansion), and a file without any resource is refused
// unless `allowEmpty`: an empty, truncated or comment-only file would otherwise be published as an
// empty configuration and remove every route. A refused input is an error like any other: the
// consumer keeps the last good configuration.
import { createHash, type Hash } from 'node:crypto';
import { statSync, watch as watchFs, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { quote } from '../../domain/display-text.js';
import { FidelityReport } from '../../domain/fidelity.js';
import { err, ok, type Result } from '../../domain/result.js';
import { createSnapshot } from '../../domain/snapshot.js';
import { onRejection, type ConfigSource, type ConfigWatcher, type Disposable, type SourceError, type SourceUpdate } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';
import { streamDocument } from '../envoy/config-document.js';
import { decodeXdsResources, xdsResourceName, type XdsResource } from '../envoy/xds-resources.js';
import { DEFAULT_MAX_INPUT_BYTES, readRegularFile } from '../fs/bounded-read.js';
import { parseDocuments } from './document-text.js';

export interface FileSourceOptions {
  /** A file, or a directory whose *.json, *.yaml and *.yml files are read together. */
  readonly path: string;
  /** Re-read and publish again when the files change. */
  readonly follow?: boolean;
  /** Told of updates the watcher rejects (a file has nobody upstream to NACK to). */
  readonly logger?: Logger;
  /** The most bytes read from the input, all files together; default DEFAULT_MAX_INPUT_BYTES. */
  readonly maxInputBytes?: number;
  /** Publish a file that holds no resource (an empty configuration) instead of refusing it. */
  readonly allowEmpty?: boolean;
  /** Told what a long load is doing (for a progress line); called often, so it should be cheap. */
  readonly progress?: (what: string) => void;
}

const DOCUMENT_EXTENSIONS = new Set(['.json', '.yaml', '.yml']);

async function filesOf(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => DOCUMENT_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  return names.map((n) => join(path, n));
}

/** How often a directory that cannot be watched (not there yet) is looked for again. */
const WATCH_RETRY_MS = 1_000;

/** Where each resource came from, so that a decode error can name its file. */
const resourceKey = (type: string, name: string): string => `${type}/${name}`;

export class FileConfigSource implements ConfigSource {
  constructor(private readonly options: FileSourceOptions) {}

  async load(): Promise<Result<SourceUpdate, SourceError>> {
    try {
      return await this.loadOnce();
    } catch (error) {
      // Whatever the input does to the code below, it is this input's error, not the end of the process.
      return err({ location: this.options.path, message: `could not be read: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  /** Every file, read whole within the size limit: reading is the part that may block, not the parsing. */
  private async readAll(files: readonly string[], hash: Hash): Promise<Result<string[], SourceError>> {
    const maxBytes = this.options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
    const contents: string[] = [];
    let total = 0;
    for (const file of files) {
      this.options.progress?.(`reading ${file}`);
      // What the files before this one left of the limit: the limit is on the whole input.
      const read = await readRegularFile(file, maxBytes - total);
      if (!read.ok) {
        const refusal = read.error;
        if (refusal.kind === 'refused') return err({ location: file, message: refusal.message });
        const size = refusal.bytes === undefined ? 'more bytes' : `${refusal.bytes} bytes`;
        const before = total > 0 ? ` with the ${total} bytes of the files before it` : '';
        return err({ location: file, message: `${size}${before}: over the input size limit of ${maxBytes} bytes (max-input-bytes)` });
      }
      total += read.value.length;
      hash.update(file).update(read.value);
      // Decoded at once: the bytes are let go before parsing, which is where the memory peaks.
      contents.push(read.value.toString('utf8'));
    }
    return ok(contents);
  }

  private async loadOnce(): Promise<Result<SourceUpdate, SourceError>> {
    let files: string[];
    try {
      files = await filesOf(this.options.path);
    } catch (error) {
      return err({ location: this.options.path, message: (error as Error).message });
    }
    if (files.length === 0) return err({ location: this.options.path, message: 'no .json, .yaml or .yml files' });
    const hash = createHash('sha256');
    const read = await this.readAll(files, hash);
    if (!read.ok) return read;
    const contents: (string | undefined)[] = read.value;
    const { progress, allowEmpty } = this.options;
    /** The documents of the f-th file; its content is let go, and the caller lets go of each document once checked. */
    const documentsOf = (f: number): Result<unknown[], SourceError> => {
      const content = contents[f]!;
      contents[f] = undefined;
      progress?.(`parsing ${files[f]!}`);
      return parseDocuments(content, files[f]!);
    };
    const origins = new Map<string, string>();
    let failure: SourceError | undefined;
    let converted = 0;
    /**
     * Each resource is typed only when decodeXdsResources reaches it, so the typed messages die young. A file
     * that cannot be read or parsed, or a document error, ends the stream: `failure` then wins over decode errors.
     */
    function* resources(): Generator<XdsResource> {
      for (const [f, file] of files.entries()) {
        const documents = documentsOf(f);
        if (!documents.ok) return void (failure = documents.error);
        const count = documents.value.length;
        let found = 0;
        for (let d = 0; d < count; d++) {
          const where = count > 1 ? `${file} (document ${d + 1})` : file;
          progress?.(`checking ${where}`);
          // Taken out of the list: a config dump streams from its checked copy, and the parsed one can go.
          const stream = streamDocument(documents.value.splice(d, 1, undefined)[0]);
          const errors = stream.ok ? stream.value.errors : stream.error;
          if (stream.ok) {
            for (const resource of stream.value.resources) {
              found += 1;
              const name = xdsResourceName(resource);
              const key = resourceKey(resource.type, name);
              const first = origins.get(key);
              // A duplicate is where its second copy is, not where the first one was.
              if (first !== undefined && name !== '') {
                const at = first === where ? 'earlier in this file' : `first in ${first}`;
                return void (failure = { location: `${where}: ${resource.type} ${quote(name)} field name`, message: `duplicate ${resource.type} ${quote(name)} (${at})` });
              }
              if (first === undefined) origins.set(key, where);
              if (++converted % 1000 === 0) progress?.(`converting resources: ${converted}`);
              if (errors.length === 0) yield resource;
            }
          }
          if (errors.length > 0) {
            const [first] = errors;
            const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
            return void (failure = { location: first?.path ? `${where}: ${first.path}` : where, message: `${first?.message ?? 'invalid'}${more}` });
          }
        }
        if (found === 0 && !allowEmpty) {
          return void (failure = {
            location: file,
            message: 'holds no resources (empty, truncated or only comments): refused, as an empty configuration would remove every route (allow-empty accepts it)',
          });
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
    /** Watches the directory; one that is not there (yet) is reported once and looked for again every second. */
    const follow = (reported: boolean): void => {
      try {
        watcherFs = this.followChanges(() => {
          // Editors and ConfigMap updates write in several steps; settle before reading.
          clearTimeout(timer);
          timer = setTimeout(() => void publish(), 100);
        });
        if (reported) void publish();
      } catch (error) {
        if (!reported) watcher.onError({ location: this.options.path, message: `cannot watch for changes: ${(error as Error).message}; looking for it again every second` });
        timer = setTimeout(() => {
          if (!disposed) follow(true);
        }, WATCH_RETRY_MS);
      }
    };
    if (this.options.follow) follow(false);
    return {
      dispose: () => {
        disposed = true;
        clearTimeout(timer);
        watcherFs?.close();
      },
    };
  }
}
