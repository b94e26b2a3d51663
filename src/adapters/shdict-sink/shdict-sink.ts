// ConfigSink that feeds APISIX's `xds-config` / `xds-config-version` shared dicts through
// libxds.so: an apply appends just its changes to the shared-memory file when they follow the state
// nginx acknowledged last, and publishes the whole desired state otherwise (first apply, after a
// failure, when the log is full); the in-nginx half stores what changed, bumps `version` once, and
// acknowledges. The apply resolves
// only on that acknowledgement, so a full dict or any store failure comes back as a failed apply
// (SyncService logs it, counts it and retries) instead of being lost.
import type { ApplyFailure, ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import { ok, type Result } from '../../domain/result.js';
import { defaultLibraryPath, SharedStateWriter, type ReaderStatus } from './native-writer.js';
import { groupId } from '../fs/posix-group.js';
import { objectKeyOfDictKey, StateEncoder } from './state-encoding.js';

export interface ShdictSinkOptions {
  /** The shared-memory file; nginx finds it through AMESH_XDS_SHM (default /run/amesh/xds.shm). */
  readonly path: string;
  /** Group of nginx's workers (gid or name): the file is made mode `mode` and this group. */
  readonly group?: number | string;
  /** Default 0o660: the agent and nginx's group only (the state holds TLS private keys). */
  readonly mode?: number;
  /** Bytes per state slot when the file is created; default 32 MiB (APISIX's xds-config dict is 10 MiB). */
  readonly slotCapacityBytes?: number;
  /** How long an apply waits for nginx to acknowledge; default 3000 ms. */
  readonly ackTimeoutMs?: number;
  readonly libraryPath?: string;
  readonly logger?: Logger;
}

const DEFAULT_SLOT_CAPACITY = 32 * 1024 * 1024;

/** The reader reports the dict key it failed on; ours are `/kind/id`, anything else is the batch. */
function failureOf(status: ReaderStatus, generation: number): ApplyFailure {
  const key = status.errorKey.startsWith('/') ? objectKeyOfDictKey(status.errorKey) : '*';
  const where = status.errorKey && key === '*' ? ` (${status.errorKey})` : '';
  return { key, reason: `nginx (pid ${status.readerPid}) did not apply generation ${generation}${where}: ${status.errorMessage}` };
}

function silence(status: ReaderStatus, timeoutMs: number): string {
  if (status.heartbeatMs === 0) return `no acknowledgement within ${timeoutMs} ms: no nginx has attached to the file yet (is libxds.so loaded, AMESH_XDS_SHM set?)`;
  const age = Date.now() - status.heartbeatMs;
  return `no acknowledgement within ${timeoutMs} ms (nginx pid ${status.readerPid}, last seen ${age} ms ago)`;
}

export class ShdictConfigSink implements ConfigSink {
  readonly target: string;
  private writer: SharedStateWriter | undefined;
  private readonly encoder = new StateEncoder();
  /** nginx acknowledged the last publication, which was the configuration of `syncedVersion`. */
  private synced = false;
  private syncedVersion: string | undefined;

  constructor(private readonly options: ShdictSinkOptions) {
    this.target = `shdict:${options.path}`;
  }

  async apply(update: SinkUpdate): Promise<ApplyResult> {
    if (this.synced && update.changes.changes.length === 0) {
      this.syncedVersion = update.desired.version;
      return { applied: 0, failed: [] };
    }
    const writer = this.open();
    if (typeof writer === 'string') return this.failed({ key: '*', reason: writer });
    const published = this.publish(writer, update);
    if (!published.ok) return this.failed({ key: '*', reason: `${this.options.path}: ${published.error}` });
    const timeoutMs = this.options.ackTimeoutMs ?? 3000;
    const { outcome, status } = await writer.waitFor(published.value, timeoutMs);
    if (outcome === 'failed') return this.failed(failureOf(status, published.value));
    if (outcome === 'timeout') return this.failed({ key: '*', reason: `${this.options.path}: generation ${published.value}: ${silence(status, timeoutMs)}` });
    this.synced = true;
    this.syncedVersion = update.desired.version;
    return { applied: update.changes.changes.length, failed: [] };
  }

  /** What nginx last reported (for diagnostics). */
  readerStatus(): ReaderStatus | undefined {
    return this.writer?.status();
  }

  /** Releases the file (nginx keeps serving and following it). */
  close(): void {
    this.writer?.close();
    this.writer = undefined;
  }

  /** The changes alone when they start from what nginx holds, else the whole state. */
  private publish(writer: SharedStateWriter, update: SinkUpdate): Result<number, string> {
    if (this.synced && update.changes.fromVersion === this.syncedVersion) {
      // Too big for the log: the changed entries are encoded anyway, and the whole state reuses them.
      const delta = this.encoder.encodeChanges(update.changes.changes, update.desired, writer.deltaRoom());
      const published = delta && writer.publishDelta(delta.payload, delta.count);
      if (published?.ok) return published;
    }
    const { payload, count } = this.encoder.encode(update.desired);
    return writer.publish(payload, count);
  }

  private open(): SharedStateWriter | string {
    if (this.writer) return this.writer;
    const gid = this.options.group === undefined ? ok(undefined) : groupId(this.options.group);
    if (!gid.ok) return `${this.options.path}: ${gid.error}`;
    const opened = SharedStateWriter.open({
      path: this.options.path,
      libraryPath: this.options.libraryPath ?? defaultLibraryPath(),
      slotCapacity: this.options.slotCapacityBytes ?? DEFAULT_SLOT_CAPACITY,
      mode: this.options.mode ?? 0o660,
      gid: gid.value,
    });
    if (!opened.ok) return opened.error;
    this.writer = opened.value;
    return this.writer;
  }

  private failed(failure: ApplyFailure): ApplyResult {
    // A failed batch leaves the dict as it was; the next apply must publish even without changes.
    this.synced = false;
    this.options.logger?.warn({ sink: this.target, key: failure.key, reason: failure.reason }, 'shared dict not updated');
    return { applied: 0, failed: [failure] };
  }
}
