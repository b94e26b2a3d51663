// Reading an input file without trusting the path: it may name a FIFO (opening one blocks until a writer
// comes, reading it may never end), a device (/dev/zero never ends), a directory, or a file far larger
// than the memory it would take to handle. The path is opened without blocking, the opened file (not the
// path, which could be swapped meanwhile) must be a regular file, and no more than the limit is read,
// whatever size it claims (files under /proc say 0).
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { err, ok, type Result } from '../../domain/result.js';

/**
 * The default input limit of the commands that read configuration files: 256 MiB, a config dump of a
 * mesh of some 20,000 services, handled in a few GB (about 10 times the input at the peak); /dev/zero
 * or a runaway file stops there.
 */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** What the small files an agent reads (certificates, keys, downward-API files, tokens) are far below. */
export const SMALL_FILE_MAX_BYTES = 1024 * 1024;

/** Big enough for most configuration files in one read; the buffer grows for larger ones. */
const FIRST_READ_BYTES = 64 * 1024;

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Why a file was not read: over the limit (the caller knows what the limit is called), or another reason. */
export type ReadRefusal =
  | { readonly kind: 'over-limit'; readonly bytes: number | undefined }
  /** `code`: the system's error code when there is one (ENOENT: the caller may take a missing file as absent). */
  | { readonly kind: 'refused'; readonly message: string; readonly code?: string };

/**
 * The whole content of the regular file at `path`, or why not (the message without the path: the caller
 * names it). `bytes` of an over-limit file is its size when it said so, undefined when it only ran over.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Result<Buffer, ReadRefusal>> {
  const refused = (message: string, code?: string) => err<ReadRefusal>({ kind: 'refused', message, ...(code ? { code } : {}) });
  const overLimit = (bytes?: number) => err<ReadRefusal>({ kind: 'over-limit', bytes });
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; regular files ignore it.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return refused((error as Error).message, (error as NodeJS.ErrnoException).code);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return refused(`${kindOf(info)}, not a regular file: refused (reading it could block or never end)`);
    if (info.size > maxBytes) return overLimit(info.size);
    // One byte over the limit tells a file that grew (or lied about its size) from one that fits.
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes, info.size > 0 ? info.size : FIRST_READ_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) return overLimit();
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return overLimit();
    return ok(buffer.subarray(0, length));
  } catch (error) {
    return refused((error as Error).message);
  } finally {
    await handle.close();
  }
}

/** The message for a refusal, for readers that report a plain string. */
export function describeRefusal(refusal: ReadRefusal, maxBytes: number): string {
  if (refusal.kind === 'refused') return refusal.message;
  return `${refusal.bytes === undefined ? 'more bytes' : `${refusal.bytes} bytes`} than the limit of ${maxBytes} bytes for this file`;
}

/** readRegularFile for the few synchronous readers (a FIFO would block the whole process there). */
export function readRegularFileSync(path: string, maxBytes: number): Result<Buffer, ReadRefusal> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return err({ kind: 'refused', message: (error as Error).message, ...(code ? { code } : {}) });
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return err({ kind: 'refused', message: `${kindOf(info)}, not a regular file: refused (reading it could block or never end)` });
    if (info.size > maxBytes) return err({ kind: 'over-limit', bytes: info.size });
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes, info.size > 0 ? info.size : FIRST_READ_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) return err({ kind: 'over-limit', bytes: undefined });
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) return err({ kind: 'over-limit', bytes: undefined });
    return ok(buffer.subarray(0, length));
  } catch (error) {
    return err({ kind: 'refused', message: (error as Error).message });
  } finally {
    closeSync(fd);
  }
}
