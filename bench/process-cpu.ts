import { readFile } from 'node:fs/promises';

/** user + system CPU seconds of a Linux process, all its threads, from /proc/<pid>/stat. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at the state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const clockTicksPerSecond = 100; // USER_HZ, 100 on every Linux architecture node runs on
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / clockTicksPerSecond;
}
