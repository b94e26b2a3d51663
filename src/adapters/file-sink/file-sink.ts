// ConfigSink that writes an APISIX standalone file (apisix.yaml or apisix.json) atomically: a temp
// file in the same directory, fsync, rename. APISIX reloads when the file's mtime changes, compared
// in whole seconds, so two writes in one second would go unseen: the mtime is pushed forward.
import { extname } from 'node:path';
import { writeAtomically } from '../fs/atomic-file.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import { holdsPrivateKeys, renderStandalone, type StandaloneFormat } from '../apisix/standalone-document.js';

export interface FileSinkOptions {
  readonly path: string;
  /** Defaults from the extension: .json → json, anything else → yaml. */
  readonly format?: StandaloneFormat;
}

export class FileConfigSink implements ConfigSink {
  readonly target: string;
  private readonly format: StandaloneFormat;
  private written = false;

  constructor(private readonly options: FileSinkOptions) {
    this.format = options.format ?? (extname(options.path).toLowerCase() === '.json' ? 'json' : 'yaml');
    this.target = `file:${options.path}`;
  }

  async apply(update: SinkUpdate): Promise<ApplyResult> {
    if (this.written && update.changes.changes.length === 0) return { applied: 0, failed: [] };
    const text = renderStandalone(update.desired, this.format);
    try {
      await writeAtomically(this.options.path, text, holdsPrivateKeys(update.desired) ? 0o600 : 0o644);
    } catch (error) {
      return { applied: 0, failed: [{ key: '*', reason: `writing ${this.options.path}: ${(error as Error).message}` }] };
    }
    this.written = true;
    return { applied: update.changes.changes.length, failed: [] };
  }
}
