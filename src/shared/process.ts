/**
 * The life of a child process Vireo starts (a local replica, nginx, Prometheus) or finds left over
 * by a Vireo that was killed: did it start, is it still alive, and stopping it by a ladder of
 * signals (ask, then insist) that ends as soon as it is gone. Each owner chooses its own signals
 * and waits (docs/local/workloads.md "Stopping", docs/local/nginx.md); the waiting, polling and escalation live here.
 *
 * "Alive" means running: a zombie (exited, not yet reaped) counts as gone. In a container whose
 * pid 1 does not reap orphans a zombie can stay forever, so on Linux /proc is read.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves undefined once the child has started, or with the error when it could not be started. */
export function spawnOutcome(child: ChildProcess): Promise<Error | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
}

/** Settles when the child has exited; at once when it already has. */
export function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal` to one process. False when there is no such process (or it is not ours). */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A group id we may signal: never 0 (our own group) nor 1 (-1 means "every process we can signal"). */
export function isSignalableGroup(pgid: number): boolean {
  return Number.isSafeInteger(pgid) && pgid > 1;
}

/**
 * Sends `signal` to every process in the group (a replica, a loadtester task, and what they
 * started). False when the group is gone (or not ours).
 */
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

/**
 * The pid a pid file names, if that process still runs and its command line (NUL-separated
 * arguments, from /proc) passes `isOurs`: a pid reused by another program is never returned.
 */
export async function livePidFromFile(
  pidFile: string,
  isOurs: (commandLine: string) => boolean,
): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return commandLine !== '' && isOurs(commandLine) && (await processAlive(pid)) ? pid : undefined;
}

/** A signal, and how long to wait for the target to be gone before the next step. */
export type StopStep = readonly [signal: NodeJS.Signals, waitMs: number];

/** What a ladder of signals stops: one process, a process group, nginx and its workers… */
export interface StopTarget {
  /** Sends `signal`; false when there was nothing left to signal. */
  signal(signal: NodeJS.Signals): boolean;
  /** True while any part of the target lives. */
  alive(): boolean | Promise<boolean>;
  /** Settles when the target (its leader) exits, so the exit is noticed without waiting for a poll. */
  readonly exited?: Promise<unknown>;
}

export interface StopOptions {
  /** How often `alive()` is asked while waiting (default 25 ms). */
  readonly pollMs?: number;
  /** Milliseconds on a monotonic scale (default performance.now). */
  readonly monotonic?: () => number;
  /** Told when a step's wait ran out and the next signal follows. */
  readonly onEscalate?: (unanswered: NodeJS.Signals, next: NodeJS.Signals) => void;
}

/**
 * 'gone': the first signal found nothing to stop. A signal: the target was gone within that
 * step's wait. 'survived': it still lived after the last step's wait.
 */
export type StopOutcome = 'gone' | NodeJS.Signals | 'survived';

/** Sends each step's signal in turn until the target is gone. */
export async function stopBySignals(
  target: StopTarget,
  steps: readonly StopStep[],
  options: StopOptions = {},
): Promise<StopOutcome> {
  const monotonic = options.monotonic ?? (() => performance.now());
  const pollMs = options.pollMs ?? 25;
  let exited = false;
  const leader = target.exited?.then(() => (exited = true));
  const goneWithin = async (waitMs: number): Promise<boolean> => {
    const deadline = monotonic() + waitMs;
    for (;;) {
      if (!(await target.alive())) return true;
      const remaining = deadline - monotonic();
      if (remaining <= 0) return false;
      const pause = sleep(Math.min(pollMs, remaining));
      // Until the leader exits, its exit is the likely next change; afterwards, poll.
      await (leader !== undefined && !exited ? Promise.race([leader, pause]) : pause);
    }
  };
  for (const [index, [signal, waitMs]] of steps.entries()) {
    if (!target.signal(signal) && index === 0) return 'gone';
    if (await goneWithin(waitMs)) return signal;
    const next = steps[index + 1];
    if (next !== undefined) options.onEscalate?.(signal, next[0]);
  }
  return 'survived';
}

/** stopBySignals for one process known by its pid (a leftover one, found through its pid file). */
export function stopProcess(
  pid: number,
  steps: readonly StopStep[],
  options: StopOptions = {},
): Promise<StopOutcome> {
  return stopBySignals(
    { signal: (signal) => signalProcess(pid, signal), alive: () => processAlive(pid) },
    steps,
    options,
  );
}
