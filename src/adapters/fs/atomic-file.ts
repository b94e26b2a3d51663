// Writing a file so that readers see the old or the new content, never a mixture: a temp file in
// the same directory, fsync, rename. Readers that poll the mtime in whole seconds (APISIX) would
// miss two writes within one second, so the mtime is pushed past the previous one. Shared by the
// adapters that write files (the file sink, the configuration cache).
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * `mkdir -p`, without Node's recursive mkdir: that one loops for ever where a directory cannot be made
 * inside one that exists (mkdir under /proc or /sys fails with ENOENT, and it retries the parent). The
 * missing directories are made from the nearest existing one down; the first refusal is the error.
 */
async function makeDirectories(directory: string): Promise<void> {
  const missing: string[] = [];
  for (let current = directory; ; current = dirname(current)) {
    try {
      await stat(current);
      break;
    } catch (error) {
      if (code(error) !== 'ENOENT' || dirname(current) === current) throw error;
      missing.push(current);
    }
  }
  for (const path of missing.reverse()) {
    try {
      await mkdir(path);
    } catch (error) {
      if (code(error) !== 'EEXIST') throw error; // made meanwhile by someone else: as good
    }
  }
}

async function previousMtimeSeconds(path: string): Promise<number | undefined> {
  try {
    return Math.floor((await stat(path)).mtimeMs / 1000);
  } catch {
    return undefined;
  }
}

/**
 * Only a regular file (or nothing) is replaced: the rename would put a file in the place of a device
 * (`-o /dev/full` replaced the device node), a FIFO or a socket, and through a symlink to one (`/dev/stdout`)
 * replace the link.
 */
async function refuseSpecialTarget(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (code(error) === 'ENOENT') return;
    throw error;
  }
  if (!info.isFile())
    throw new Error(
      `${path} is not a regular file (${info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a FIFO' : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : info.isSocket() ? 'a socket' : 'a special file'}): refusing to replace it`,
    );
}

/** `gid`: the group the file is given before it replaces the old one (a reader in that group, e.g. nginx's). */
export async function writeAtomically(path: string, text: string, mode: number, gid?: number): Promise<void> {
  const directory = dirname(path);
  await refuseSpecialTarget(path);
  await makeDirectories(directory);
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
    // -1 keeps the owner; the group is set before the rename so the file never appears unreadable.
    if (gid !== undefined) await chown(temp, -1, gid);
    await chmod(temp, mode); // the umask may have narrowed or the mode must be exact
    await rename(temp, path);
  } catch (error) {
    // The write's error is the one to tell, not a failure to clean up after it.
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  const after = await previousMtimeSeconds(path);
  if (before !== undefined && after !== undefined && after <= before) {
    const next = before + 1;
    await utimes(path, next, next);
  }
}
