// ConfigSink that writes an APISIX standalone file (apisix.yaml or apisix.json) atomically: a temp
// file in the same directory, fsync, rename. APISIX reloads when the file's mtime changes, compared
// in whole seconds, so two writes in one second would go unseen: the mtime is pushed forward.
import { extname } from 'node:path';
import { writeAtomically } from '../fs/atomic-file.js';
import { groupId } from '../fs/posix-group.js';
import type { Logger } from '../../ports/logger.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import { holdsPrivateKeys, renderStandalone, type StandaloneFormat } from '../apisix/standalone-document.js';

export interface FileSinkOptions {
  readonly path: string;
  /** Defaults from the extension: .json → json, anything else → yaml. */
  readonly format?: StandaloneFormat;
  /**
   * The group of APISIX's workers (name or gid; they run as `nobody`). The file is given this group,
   * and a file holding private keys is then 0640 instead of 0600, so the workers can read it.
   */
  readonly group?: string | undefined;
  readonly logger?: Logger | undefined;
}

export class FileConfigSink implements ConfigSink {
  readonly target: string;
  private readonly format: StandaloneFormat;
  private written = false;
  private warnedPrivate = false;

  constructor(private readonly options: FileSinkOptions) {
    this.format = options.format ?? (extname(options.path).toLowerCase() === '.json' ? 'json' : 'yaml');
    this.target = `file:${options.path}`;
  }

  async apply(update: SinkUpdate): Promise<ApplyResult> {
    if (this.written && update.changes.changes.length === 0) return { applied: 0, failed: [] };
    const gid = this.options.group === undefined ? undefined : groupId(this.options.group);
    if (gid && !gid.ok) return { applied: 0, failed: [{ key: '*', reason: `${this.options.path}: ${gid.error}` }] };
    const text = renderStandalone(update.desired, this.format);
    const secret = holdsPrivateKeys(update.desired);
    if (secret && !gid) this.warnPrivate();
    try {
      await writeAtomically(this.options.path, text, secret ? (gid ? 0o640 : 0o600) : 0o644, gid?.value);
    } catch (error) {
      return { applied: 0, failed: [{ key: '*', reason: `writing ${this.options.path}: ${(error as Error).message}` }] };
    }
    this.written = true;
    return { applied: update.changes.changes.length, failed: [] };
  }

  /** Once: APISIX's workers (nobody) cannot open a 0600 file of ours, and keep their old config. */
  private warnPrivate(): void {
    if (this.warnedPrivate) return;
    this.warnedPrivate = true;
    this.options.logger?.warn(
      { sink: this.target, mode: '0600' },
      "the file holds private keys and is readable by its owner only: APISIX workers running as another user cannot read it; give the workers' group with file:<path>?group=<name|gid>",
    );
  }
}
