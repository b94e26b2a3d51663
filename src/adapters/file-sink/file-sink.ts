// ConfigSink that writes an APISIX standalone file (apisix.yaml or apisix.json) atomically: a temp
// file in the same directory, fsync, rename. APISIX reloads when the file's mtime changes, compared
// in whole seconds, so two writes in one second would go unseen: the mtime is pushed forward.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
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

async function previousMtimeSeconds(path: string): Promise<number | undefined> {
  try {
    return Math.floor((await stat(path)).mtimeMs / 1000);
  } catch {
    return undefined;
  }
}

export async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const before = await previousMtimeSeconds(path);
  const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode); // the umask may have narrowed or the mode must be exact
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const after = await previousMtimeSeconds(path);
  if (before !== undefined && after !== undefined && after <= before) {
    const next = before + 1;
    await utimes(path, next, next);
  }
}
