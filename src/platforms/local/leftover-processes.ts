/**
 * Processes a killed daemon left behind: its replicas (each its own process group), their
 * children, and the nginx and Prometheus it ran. The daemon marks everything it starts with
 * VIREO_LOCAL_STATE=<state directory> in the environment (inherited by every child), so on Linux
 * they are found by reading /proc/<pid>/environ (nginx and Prometheus by their command line, which
 * names the state directory), whatever pid files say and even if they were overwritten. A pid reused by an unrelated program lacks the mark and is left alone. Where /proc
 * is missing, the recorded replica pids (`replicas.json`) are all there is.
 *
 * Both a starting daemon (before it resumes anything) and `vireo local down` (when no daemon
 * runs) stop them. See docs/adr/0013-local-daemon-ownership.md.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stopProcess } from '../../shared/process.js';
import { isSignalableGroup, processAlive, readProcStat, stopProcessGroup } from './process-group.js';

/** The environment variable that marks a process as started by the daemon of a state directory. */
export const STATE_MARK = 'VIREO_LOCAL_STATE';
/** Pids (each its process group's leader) of the replicas the runtime started, kept current. */
export const REPLICAS_FILE = 'replicas.json';

interface Marked {
  readonly pid: number;
  readonly pgid: number;
}

/**
 * Carries the mark, or is the nginx or Prometheus run in the state directory. nginx rewrites its
 * environment and command line to show its title ("nginx: master process nginx -p <dir>/nginx/"),
 * so for these two the command line, which names the directory, is what tells.
 */
async function marked(pid: number, mark: string, stateDirectory: string): Promise<boolean> {
  const environment = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
  if (environment.split('\0').includes(mark)) return true;
  const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const program = command[0] ?? '';
  const ours =
    /^nginx(:|$)/.test(program) || basename(program) === 'nginx' || basename(program) === 'prometheus';
  return ours && command.join(' ').includes(`${stateDirectory}/`);
}

/** Living processes carrying the state directory's mark; undefined where /proc cannot be read. */
export async function findMarkedProcesses(stateDirectory: string): Promise<Marked[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const mark = `${STATE_MARK}=${stateDirectory}`;
  const found = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
      .map(async (entry) => {
        const pid = Number(entry);
        if (!(await marked(pid, mark, stateDirectory))) return undefined;
        const stat = await readProcStat(pid);
        return stat?.living === true ? { pid, pgid: stat.pgid } : undefined;
      }),
  );
  return found.filter((entry): entry is Marked => entry !== undefined);
}

/**
 * Stops every process the state directory's previous daemon left. A group is signalled as a
 * whole only when its leader carries the mark (a replica and what it started); otherwise (nginx,
 * Prometheus, which share the dead daemon's group, or a group led by someone else's program) each
 * marked process is signalled alone. Returns how many groups or processes were stopped.
 */
export async function stopLeftoverProcesses(
  stateDirectory: string,
  options: { graceMs?: number } = {},
): Promise<number> {
  const graceMs = options.graceMs ?? 2_000;
  const found = await findMarkedProcesses(stateDirectory);
  const groups = new Set<number>();
  const single = new Set<number>();
  if (found === undefined) {
    // Without /proc nothing can be checked: a recorded pid that still leads a group is taken as ours.
    for (const pid of await recordedReplicaPids(stateDirectory)) groups.add(pid);
  } else {
    const markedPids = new Set(found.map((entry) => entry.pid));
    for (const { pid, pgid } of found) {
      // A group whose leader is marked, or gone (the killed daemon's own group), is all ours.
      const ours = isSignalableGroup(pgid) && (markedPids.has(pgid) || !(await processAlive(pgid)));
      if (ours) groups.add(pgid);
      else single.add(pid);
    }
  }
  const results = await Promise.all([
    ...[...groups].map((pgid) => stopProcessGroup(pgid, { graceMs })),
    ...[...single]
      .filter((pid) => !groups.has(pid))
      .map((pid) =>
        stopProcess(pid, [
          ['SIGTERM', graceMs],
          ['SIGKILL', 2_000],
        ]),
      ),
  ]);
  return results.filter((result) => result !== 'gone').length;
}

/** The replica pids the last daemon recorded (off Linux, the only trace of its processes). */
async function recordedReplicaPids(stateDirectory: string): Promise<number[]> {
  try {
    const pids: unknown = JSON.parse(await readFile(join(stateDirectory, REPLICAS_FILE), 'utf8'));
    return Array.isArray(pids)
      ? pids.filter((pid): pid is number => typeof pid === 'number' && isSignalableGroup(pid))
      : [];
  } catch {
    return [];
  }
}
