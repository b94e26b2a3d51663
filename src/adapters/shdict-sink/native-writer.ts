// The agent's handle on the shared-memory file, through libxds.so's writer functions (koffi):
// Node cannot mmap, so the mapping, the seqlock publication and the futex wait live in C.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { err, ok, type Result } from '../../domain/result.js';

/** The reader's report, as `struct xds_status` in native/src/xds_layout.h. */
export interface ReaderStatus {
  readonly appliedGeneration: number;
  readonly failedGeneration: number;
  /** Wall-clock ms of the reader's last sign of life; 0 when no reader ever attached. */
  readonly heartbeatMs: number;
  readonly dictKeys: number;
  readonly readerPid: number;
  readonly errorCode: number;
  readonly errorKey: string;
  readonly errorMessage: string;
}

export type AckOutcome = 'applied' | 'failed' | 'timeout';

interface RawStatus {
  applied_generation: number | bigint;
  failed_generation: number | bigint;
  heartbeat_ms: number | bigint;
  dict_keys: number | bigint;
  reader_pid: number;
  error_code: number;
  error_key: string;
  error_message: string;
}

// Anonymous types (not registered by name): a second copy of this module in one process (CommonJS and
// ESM copies under a test runner) would otherwise fail with a duplicate type name.
const STATUS = koffi.struct({
  applied_generation: 'uint64_t',
  failed_generation: 'uint64_t',
  heartbeat_ms: 'uint64_t',
  dict_keys: 'uint64_t',
  reader_pid: 'uint32_t',
  error_code: 'int32_t',
  error_key: 'char[256]',
  error_message: 'char[256]',
});
const WRITER = koffi.pointer(koffi.opaque());
const STATUS_OUT = koffi.out(koffi.pointer(STATUS));

interface WriterFunctions {
  open(path: string, capacity: number, mode: number, gid: number, error: Buffer, errorLen: number): unknown;
  publish(writer: unknown, data: Buffer, length: number, count: number, error: Buffer, errorLen: number): number | bigint;
  publishDelta(writer: unknown, data: Buffer, length: number, count: number, error: Buffer, errorLen: number): number | bigint;
  deltaRoom(writer: unknown): number | bigint;
  wait: { async(writer: unknown, generation: number, timeoutMs: number, out: Partial<RawStatus>, done: (error: unknown, result: number) => void): void };
  status(writer: unknown, out: Partial<RawStatus>): void;
  close(writer: unknown): void;
}

const loaded = new Map<string, WriterFunctions>();

function functionsOf(libraryPath: string): WriterFunctions {
  let functions = loaded.get(libraryPath);
  if (functions) return functions;
  const lib = koffi.load(libraryPath);
  functions = {
    open: lib.func('amesh_xds_writer_open', WRITER, ['const char *', 'uint64_t', 'uint32_t', 'int64_t', '_Out_ uint8_t *', 'size_t']),
    publish: lib.func('amesh_xds_writer_publish', 'uint64_t', [WRITER, 'const uint8_t *', 'uint64_t', 'uint64_t', '_Out_ uint8_t *', 'size_t']),
    publishDelta: lib.func('amesh_xds_writer_publish_delta', 'uint64_t', [WRITER, 'const uint8_t *', 'uint64_t', 'uint64_t', '_Out_ uint8_t *', 'size_t']),
    deltaRoom: lib.func('amesh_xds_writer_delta_room', 'uint64_t', [WRITER]),
    wait: lib.func('amesh_xds_writer_wait', 'int', [WRITER, 'uint64_t', 'uint32_t', STATUS_OUT]),
    status: lib.func('amesh_xds_writer_status', 'void', [WRITER, STATUS_OUT]),
    close: lib.func('amesh_xds_writer_close', 'void', [WRITER]),
  } as unknown as WriterFunctions;
  loaded.set(libraryPath, functions);
  return functions;
}

/** native/build/libxds.so of this package, from src/ (tsx) or dist/src/ (built); AMESH_LIBXDS overrides. */
export function defaultLibraryPath(): string {
  if (process.env.AMESH_LIBXDS) return process.env.AMESH_LIBXDS;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'libxds.so');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'build', 'libxds.so');
}

const text = (buffer: Buffer): string => buffer.toString('utf8', 0, Math.max(0, buffer.indexOf(0)));

function statusOf(raw: Partial<RawStatus>): ReaderStatus {
  return {
    appliedGeneration: Number(raw.applied_generation ?? 0),
    failedGeneration: Number(raw.failed_generation ?? 0),
    heartbeatMs: Number(raw.heartbeat_ms ?? 0),
    dictKeys: Number(raw.dict_keys ?? 0),
    readerPid: raw.reader_pid ?? 0,
    errorCode: raw.error_code ?? 0,
    errorKey: raw.error_key ?? '',
    errorMessage: raw.error_message ?? '',
  };
}

export interface OpenOptions {
  readonly path: string;
  readonly libraryPath: string;
  /** Bytes per slot when the file is created (an existing file keeps its own). */
  readonly slotCapacity: number;
  readonly mode: number;
  /** Group given to the file, so nginx's workers can map it; undefined keeps the creator's group. */
  readonly gid: number | undefined;
}

export class SharedStateWriter {
  private constructor(
    private readonly functions: WriterFunctions,
    private handle: unknown,
  ) {}

  static open(options: OpenOptions): Result<SharedStateWriter, string> {
    if (!existsSync(options.libraryPath)) return err(`${options.libraryPath} is missing (build it with npm run build:native)`);
    let functions: WriterFunctions;
    try {
      functions = functionsOf(options.libraryPath);
    } catch (error) {
      return err(`loading ${options.libraryPath}: ${(error as Error).message}`);
    }
    const error = Buffer.alloc(512);
    const handle = functions.open(options.path, options.slotCapacity, options.mode, options.gid ?? -1, error, error.length);
    return handle ? ok(new SharedStateWriter(functions, handle)) : err(text(error));
  }

  /** Copies a full state into the free slot and wakes the reader; returns the generation. */
  publish(state: Buffer, count: number): Result<number, string> {
    if (!this.handle) return err('the shared-memory writer is closed');
    const error = Buffer.alloc(512);
    const generation = Number(this.functions.publish(this.handle, state, state.length, count, error, error.length));
    return generation > 0 ? ok(generation) : err(text(error));
  }

  /** Bytes of entries a delta record may carry now; 0 when only a full state can be published. */
  deltaRoom(): number {
    return this.handle ? Number(this.functions.deltaRoom(this.handle)) : 0;
  }

  /**
   * Appends a delta record (changes since the latest publication) to the file; err when a full
   * state must be published instead (nothing to extend, or the log is full and is compacted that way).
   */
  publishDelta(changes: Buffer, count: number): Result<number, string> {
    if (!this.handle) return err('the shared-memory writer is closed');
    const error = Buffer.alloc(512);
    const generation = Number(this.functions.publishDelta(this.handle, changes, changes.length, count, error, error.length));
    return generation > 0 ? ok(generation) : err(text(error));
  }

  /** Waits off the event loop (koffi's worker thread) for the reader to apply or reject `generation`. */
  waitFor(generation: number, timeoutMs: number): Promise<{ readonly outcome: AckOutcome; readonly status: ReaderStatus }> {
    const handle = this.handle;
    if (!handle) return Promise.resolve({ outcome: 'timeout', status: statusOf({}) });
    return new Promise((resolvePromise, reject) => {
      const out: Partial<RawStatus> = {};
      this.functions.wait.async(handle, generation, timeoutMs, out, (error, result) => {
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else resolvePromise({ outcome: result > 0 ? 'applied' : result < 0 ? 'failed' : 'timeout', status: statusOf(out) });
      });
    });
  }

  status(): ReaderStatus {
    const out: Partial<RawStatus> = {};
    if (this.handle) this.functions.status(this.handle, out);
    return statusOf(out);
  }

  close(): void {
    if (this.handle) this.functions.close(this.handle);
    this.handle = undefined;
  }
}
