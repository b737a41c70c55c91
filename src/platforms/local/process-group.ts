/**
 * Stopping a workload replica means stopping everything it started. Replicas are spawned as
 * process-group leaders (`detached: true`), so a signal to the negative pid reaches their
 * children and grandchildren too. These helpers are also what `vireo local down` needs to clean
 * up after a Vireo that was SIGKILLed, from the pids its state file recorded.
 *
 * "Gone" means no *living* member: a zombie (exited, not yet reaped) counts as gone. In a container
 * whose pid 1 does not reap orphans, a grandchild's zombie can stay forever, and `kill(-pgid, 0)`
 * still succeeds for it, so on Linux the group's members are read from /proc.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A group id we may signal: never 0 (our own group) nor 1 (-1 means "every process we can signal"). */
export function isSignalableGroup(pgid: number): boolean {
  return Number.isSafeInteger(pgid) && pgid > 1;
}

/** Sends `signal` to every process in the group. False when the group is gone (or not ours). */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!isSignalableGroup(pgid)) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: no such group. EPERM: the id now belongs to someone else's processes.
    return false;
  }
}

/**
 * Pids of the group's living (not zombie) members; undefined where /proc cannot be read (not
 * Linux), in which case callers fall back to `kill(-pgid, 0)`.
 */
export async function livingGroupMembers(pgid: number): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids = entries.filter((entry) => /^\d+$/.test(entry));
  const members = await Promise.all(
    pids.map(async (pid) => {
      const stat = await readProcStat(Number(pid));
      return stat !== undefined && stat.pgid === pgid && stat.living ? Number(pid) : undefined;
    }),
  );
  return members.filter((pid): pid is number => pid !== undefined);
}

/** True while the group has a living member. */
export async function processGroupAlive(pgid: number): Promise<boolean> {
  if (!signalProcessGroup(pgid, 0)) return false;
  const members = await livingGroupMembers(pgid);
  return members === undefined ? true : members.length > 0;
}

/** True while the process exists and is not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readProcStat(pid);
  return stat === undefined ? true : stat.living;
}

/** A process's group and whether it still runs (not a zombie), from /proc; undefined when gone. */
export async function readProcStat(pid: number): Promise<{ pgid: number; living: boolean } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so cut at the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0] ?? '';
    return { pgid: Number(fields[2]), living: state !== 'Z' && state !== 'X' };
  } catch {
    return undefined;
  }
}

export interface StopGroupOptions {
  /** How long the group has to exit after SIGTERM before SIGKILL (default 5000 ms). */
  readonly graceMs?: number;
  /** After SIGKILL, how long to wait for the kernel to finish (default 2000 ms). */
  readonly killWaitMs?: number;
  /** Settles when the leader has exited (its 'exit' event), to notice it without waiting a poll. */
  readonly leaderExited?: Promise<unknown>;
  readonly pollMs?: number;
  readonly now?: () => number;
}

export type StopGroupResult = 'gone' | 'terminated' | 'killed';

/**
 * SIGTERM to the whole group, then SIGKILL to whatever is left after the grace period. Resolves
 * once no member lives: 'gone' when there was nothing to stop, 'terminated' when SIGTERM was
 * enough, 'killed' when SIGKILL was needed.
 */
export async function stopProcessGroup(
  pgid: number,
  options: StopGroupOptions = {},
): Promise<StopGroupResult> {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 25;
  if (!signalProcessGroup(pgid, 'SIGTERM')) return 'gone';
  const waitEmpty = async (deadline: number): Promise<boolean> => {
    let leaderExited = false;
    const leader = options.leaderExited?.then(() => (leaderExited = true));
    for (;;) {
      if (!(await processGroupAlive(pgid))) return true;
      const remaining = deadline - now();
      if (remaining <= 0) return false;
      const pause = sleep(Math.min(pollMs, remaining));
      // Until the leader exits, its exit is the likely next change; afterwards, poll.
      await (leader !== undefined && !leaderExited ? Promise.race([leader, pause]) : pause);
    }
  };
  if (await waitEmpty(now() + (options.graceMs ?? 5_000))) return 'terminated';
  signalProcessGroup(pgid, 'SIGKILL');
  await waitEmpty(now() + (options.killWaitMs ?? 2_000));
  return 'killed';
}
