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
import { readdir } from 'node:fs/promises';
import {
  isSignalableGroup,
  processAlive,
  readProcStat,
  signalProcessGroup,
  stopBySignals,
} from '../../shared/process.js';

/** Re-exported for the callers that check a replica's or a daemon's pid, or signal its group. */
export { isSignalableGroup, processAlive, readProcStat, signalProcessGroup };

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
  const outcome = await stopBySignals(
    {
      signal: (signal) => signalProcessGroup(pgid, signal),
      alive: () => processGroupAlive(pgid),
      ...(options.leaderExited === undefined ? {} : { exited: options.leaderExited }),
    },
    [
      ['SIGTERM', options.graceMs ?? 5_000],
      ['SIGKILL', options.killWaitMs ?? 2_000],
    ],
    {
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.now === undefined ? {} : { monotonic: options.now }),
    },
  );
  return outcome === 'gone' ? 'gone' : outcome === 'SIGTERM' ? 'terminated' : 'killed';
}
