/**
 * Supervised control-plane processes for the test cluster (see cluster.ts).
 *
 * Each process runs in its own process group (detached) so that stopping it also stops anything
 * it spawned, and so that a Ctrl-C in the terminal reaches the owner (test runner, tools/cluster.ts),
 * which then stops the cluster in order instead of every component dying at once.
 *
 * Since the owner may itself be killed without running any cleanup (SIGKILL, a test worker torn
 * down), a tiny detached shell "reaper" watches the owner's pid and kills the recorded process
 * groups and removes the cluster directory once the owner is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { TestClusterError } from './cluster-errors.js';

const LOG_TAIL_LINES = 40;

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly pid: number;
  /** Set once the process has exited. */
  readonly exit: ProcessExit | undefined;
  readonly exited: Promise<ProcessExit>;
  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Synchronous SIGKILL to the process group, for exit hooks. */
  killNow(): void;
}

/** Last lines of a log file, for error messages; never throws. */
export function tailOfFile(path: string, lines = LOG_TAIL_LINES): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return '(log file unreadable)';
  }
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: nothing to stop.
  }
}

export class ProcessGroupRegistry {
  private readonly pidFile: string;

  constructor(private readonly clusterDir: string) {
    this.pidFile = join(clusterDir, 'pids');
  }

  /** Starts `binary` with stdout and stderr appended to `<clusterDir>/<name>.log`. */
  start(name: string, binary: string, args: readonly string[], env?: NodeJS.ProcessEnv): ManagedProcess {
    const logPath = join(this.clusterDir, `${name}.log`);
    const logFd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(binary, args, {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: env ?? process.env,
      });
    } finally {
      closeSync(logFd); // the child holds its own copy
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.once('error', () => undefined); // reported by the throw below instead
      throw new TestClusterError('E_CLUSTER_PROCESS_EXITED', `could not start ${name} (${binary})`);
    }
    appendFileSync(this.pidFile, `${pid}\n`);
    return managed(name, logPath, pid, child);
  }

  /**
   * Starts the reaper. It exits on its own once the pid file is gone, which `forget()` arranges
   * after a normal stop.
   */
  startReaper(ownerPid: number): void {
    writeFileSync(this.pidFile, ''); // the reaper runs while this file exists
    const script = [
      'owner=$1; dir=$2; pids=$2/pids',
      'while kill -0 "$owner" 2>/dev/null && [ -f "$pids" ]; do sleep 1; done',
      '[ -f "$pids" ] || exit 0',
      'for pid in $(cat "$pids"); do kill -KILL -- "-$pid" 2>/dev/null; done',
      'rm -rf "$dir"',
    ].join('\n');
    // bash, not sh: dash's kill cannot signal a process group, and it aborts the script on trying.
    const reaper = spawn('bash', ['-c', script, 'vireo-cluster-reaper', String(ownerPid), this.clusterDir], {
      detached: true,
      stdio: 'ignore',
    });
    reaper.unref();
  }

  /** Tells the reaper that the processes were stopped properly. */
  forget(): void {
    rmSync(this.pidFile, { force: true });
  }
}

function managed(name: string, logPath: string, pid: number, child: ChildProcess): ManagedProcess {
  let exit: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    child.once('error', () => {
      exit = { code: null, signal: null };
      resolve(exit);
    });
  });
  // Let the owner exit even if it forgot to stop the cluster; the exit hook and reaper clean up.
  child.unref();

  return {
    name,
    logPath,
    pid,
    get exit() {
      return exit;
    },
    exited,
    async stop(graceMs: number): Promise<void> {
      if (exit !== undefined) return;
      // Hold the event loop open until the process is really gone, or an owner with nothing
      // else pending would exit halfway through stopping.
      child.ref();
      signalGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        signalGroup(pid, 'SIGKILL');
        await exited;
      }
      // The group may hold children that outlived the leader.
      signalGroup(pid, 'SIGKILL');
    },
    killNow(): void {
      signalGroup(pid, 'SIGKILL');
    },
  };
}
