/**
 * Why a local workload does not serve, in words a user can act on: a command that cannot start,
 * a crash loop (with the last line the program wrote), a replica that does not answer on `$PORT`.
 * `vireo local status` shows it per canary and `vireo local apply` fails with it
 * (docs/local/manifest.md "Commands").
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadStatus } from './supervisor.js';

/** A problem with a set; `fatal` when waiting will not help (the command cannot start, a crash loop). */
export interface WorkloadProblem {
  readonly fatal: boolean;
  readonly message: string;
}

/** Crashes in a row after which a replica that never got ready is a crash loop, not a slow start. */
export const CRASH_LOOP_RESTARTS = 2;

const TAIL_BYTES = 4096;
const LINE_LIMIT = 300;

/** The last non-empty line a replica wrote to its log file, shortened; undefined without one. */
export function lastLogLine(logDirectory: string, set: string, replica: number): string | undefined {
  const file = join(logDirectory, `${set}-${replica}.log`);
  let descriptor: number | undefined;
  try {
    const size = statSync(file).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    descriptor = openSync(file, 'r');
    readSync(descriptor, buffer, 0, length, size - length);
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .map((line) => line.trim())
      // Node's trailer ("Node.js v20.…") and stack frames say less than the error line above them.
      .filter((line) => line !== '' && !/^Node\.js v\d/.test(line) && !line.startsWith('at '));
    const last = lines.at(-1);
    return last === undefined ? undefined : last.length > LINE_LIMIT ? `${last.slice(0, LINE_LIMIT)}…` : last;
  } catch {
    return undefined;
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

/** What is wrong with the set now, or undefined when every desired replica is ready. */
export function diagnoseWorkload(
  set: string,
  status: WorkloadStatus | undefined,
  logDirectory: string,
): WorkloadProblem | undefined {
  if (status === undefined) return undefined;
  const log = (index: number): string => `${join(logDirectory, `${set}-${index}.log`)}`;
  if (status.error !== undefined) return { fatal: true, message: status.error };
  const current = status.replicas.filter(
    (replica) => replica.specHash === status.specHash && replica.index < status.desired,
  );
  const crashing = current.find((replica) => !replica.ready && replica.lastExit !== undefined);
  if (crashing !== undefined) {
    const exit = crashing.lastExit!;
    const how = exit.signal === null ? `with code ${exit.code}` : `on ${exit.signal}`;
    const output = lastLogLine(logDirectory, set, crashing.index);
    return {
      fatal: crashing.restarts >= CRASH_LOOP_RESTARTS,
      message: `workload "${set}": replica ${crashing.index} exited ${how} (${crashing.restarts} restart${
        crashing.restarts === 1 ? '' : 's'
      } so far)${output === undefined ? '' : `; its last output: ${output}`}; see ${log(crashing.index)}`,
    };
  }
  if (status.ready >= status.desired && !status.rolling) return undefined;
  const waiting = current.find((replica) => !replica.ready && replica.notReady !== undefined);
  const counts = `${status.ready} of ${status.desired} replicas ready`;
  return {
    fatal: false,
    message:
      waiting === undefined
        ? `workload "${set}": ${counts}`
        : `workload "${set}": ${counts}; replica ${waiting.index} (pid ${waiting.pid ?? '-'}): ${waiting.notReady}`,
  };
}
