/**
 * One daemon per state directory. `daemon.lock` names the daemon that owns the directory (its pid
 * and, on Linux, the process's start time, so a pid reused by another program is not mistaken for
 * it). Taking the lock is one `link()`, which fails when the file exists: of two daemons started
 * at once, exactly one wins. A lock left by a daemon that was killed (its process is gone) is
 * broken under a second, short-lived lock (`daemon.lock.breaking`, a directory), so two daemons
 * that both find it stale cannot both take it. See docs/adr/0013-local-daemon-ownership.md.
 */
import { link, mkdir, readFile, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VireoError } from '../../shared/errors.js';
import { processAlive } from './process-group.js';

export const LOCK_FILE = 'daemon.lock';
const BREAKING_DIRECTORY = `${LOCK_FILE}.breaking`;
/** A breaker killed between mkdir and rmdir leaves its directory; older than this, it is ignored. */
const BREAKING_STALE_MS = 10_000;

export interface LockHolder {
  readonly pid: number;
  /** Clock ticks since boot when the process started (/proc/<pid>/stat field 22); absent off Linux. */
  readonly started?: number;
}

export class DaemonRunningError extends VireoError {
  constructor(
    readonly holder: LockHolder,
    directory: string,
  ) {
    super(
      'E_LOCAL_DAEMON_RUNNING',
      `vireo local already runs for ${directory} (pid ${holder.pid}): use vireo local status, or vireo local down first`,
    );
  }
}

export class DaemonLockError extends VireoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LOCAL_LOCK', message, options);
  }
}

export interface DaemonLock {
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours. */
  release(): Promise<void>;
}

/** The process's start time in clock ticks, or undefined where /proc cannot tell. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces, so count fields after the last ')'.
    const started = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(started) ? started : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock's holder is still the process that took it. */
export async function holderAlive(holder: LockHolder): Promise<boolean> {
  if (!(await processAlive(holder.pid))) return false;
  if (holder.started === undefined) return true;
  const started = await processStartTime(holder.pid);
  return started === undefined || started === holder.started;
}

export async function readLockHolder(directory: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(join(directory, LOCK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && Number.isSafeInteger(parsed.pid)) {
      return {
        pid: parsed.pid,
        ...(typeof parsed.started === 'number' ? { started: parsed.started } : {}),
      };
    }
  } catch {
    // A torn or foreign file: treated as held by nobody (pid 0 is never alive).
  }
  return { pid: 0 };
}

/** The daemon that holds the state directory, when one is alive. */
export async function liveHolder(directory: string): Promise<LockHolder | undefined> {
  const holder = await readLockHolder(directory);
  return holder !== undefined && (await holderAlive(holder)) ? holder : undefined;
}

/**
 * Takes the state directory's lock for this process, or throws DaemonRunningError naming the
 * living daemon that holds it. `timeoutMs` bounds waiting for another process breaking a stale lock.
 */
export async function acquireDaemonLock(directory: string, timeoutMs = 10_000): Promise<DaemonLock> {
  const lockPath = join(directory, LOCK_FILE);
  const started = await processStartTime(process.pid);
  const holder: LockHolder = { pid: process.pid, ...(started === undefined ? {} : { started }) };
  const text = JSON.stringify(holder);
  const temporary = join(directory, `${LOCK_FILE}.${process.pid}.tmp`);
  const deadline = Date.now() + timeoutMs;
  await writeFile(temporary, text, { mode: 0o600 });
  try {
    for (;;) {
      try {
        await link(temporary, lockPath);
        return {
          holder,
          release: async () => {
            const current = await readFile(lockPath, 'utf8').catch(() => undefined);
            if (current === text) await unlink(lockPath).catch(() => undefined);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new DaemonLockError(`cannot create ${lockPath}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      const current = await readLockHolder(directory);
      if (current !== undefined && (await holderAlive(current)))
        throw new DaemonRunningError(current, directory);
      if (current !== undefined) await breakStaleLock(directory, current);
      if (Date.now() > deadline) {
        throw new DaemonLockError(
          `cannot take ${lockPath}: another process keeps breaking it; remove ${join(directory, BREAKING_DIRECTORY)} if no vireo runs`,
        );
      }
    }
  } finally {
    await rm(temporary, { force: true });
  }
}

/** Removes the lock of a dead holder, unless someone else replaced it meanwhile. */
async function breakStaleLock(directory: string, stale: LockHolder): Promise<void> {
  const breaking = join(directory, BREAKING_DIRECTORY);
  try {
    await mkdir(breaking);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const since = await stat(breaking).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (since > BREAKING_STALE_MS) await rmdir(breaking).catch(() => undefined);
    else await sleep(50);
    return;
  }
  try {
    // Only breakers remove a dead holder's lock, one at a time: if it still names the dead
    // holder, nobody took the directory since we looked.
    const current = await readLockHolder(directory);
    if (current?.pid === stale.pid && current.started === stale.started)
      await unlink(join(directory, LOCK_FILE)).catch(() => undefined);
  } finally {
    await rmdir(breaking).catch(() => undefined);
  }
}
