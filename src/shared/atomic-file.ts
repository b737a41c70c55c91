/**
 * Replaces a file so that a reader, or a restart after a crash, sees either the old content or
 * the new one, never half of either: the text goes to a temporary file beside the target, is
 * flushed to disk, and is renamed over the target (a rename within one directory is atomic).
 * Local mode's state, the applied manifests, the decision log, the loadtester's gates and
 * Prometheus's configuration are all written this way (docs/local/README.md).
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0o666 less the umask); 0o600 for anything private. */
  readonly mode?: number;
}

/** Distinguishes this process's temporary files, so concurrent writes never share one. */
let sequence = 0;

/**
 * Writes `data` to `file` atomically. The directory must exist. On failure the target is left as
 * it was, the temporary file is removed, and the error (from node:fs, with its `code`) is rethrown.
 */
export async function writeFileAtomically(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  sequence += 1;
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.${sequence}.tmp`);
  try {
    const handle = await open(temporary, 'wx', options.mode ?? 0o666);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (cause) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw cause;
  }
}
