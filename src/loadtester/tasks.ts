/**
 * The tasks running now: the `--max-concurrent` limit, the deduplication of background tasks
 * (Flagger calls a `cmd` hook on every analysis tick; a load test that outlives the interval
 * must not be started twice), and stopping everything on shutdown.
 */
import { createHash } from 'node:crypto';
import { ShuttingDownError, TooManyTasksError } from './errors.js';

export type Admission<T> =
  { readonly started: false } | { readonly started: true; readonly result: Promise<T> };

/** Flagger's key: the canary and the command, hashed. */
export function dedupeKey(canary: string, command: string): string {
  return createHash('sha256').update(canary).update('\0').update(command).digest('hex');
}

export class TaskRegistry {
  private readonly running = new Map<number, { controller: AbortController; dedupeKey?: string }>();
  private readonly settled = new Set<Promise<unknown>>();
  private nextId = 1;
  private closing = false;

  constructor(private readonly maxConcurrent: number) {}

  get size(): number {
    return this.running.size;
  }

  isRunning(key: string): boolean {
    for (const task of this.running.values()) if (task.dedupeKey === key) return true;
    return false;
  }

  /**
   * Starts `work` unless a task with the same dedupe key is running (then `started` is false).
   * Throws TooManyTasksError at the limit and ShuttingDownError once shutdown began. `work` gets
   * a signal that aborts on shutdown.
   */
  start<T>(key: string | undefined, work: (signal: AbortSignal) => Promise<T>): Admission<T> {
    if (this.closing) throw new ShuttingDownError();
    if (key !== undefined && this.isRunning(key)) return { started: false };
    if (this.running.size >= this.maxConcurrent) throw new TooManyTasksError(this.maxConcurrent);
    const id = this.nextId++;
    const controller = new AbortController();
    this.running.set(id, { controller, ...(key === undefined ? {} : { dedupeKey: key }) });
    const result = Promise.resolve()
      .then(() => work(controller.signal))
      .finally(() => this.running.delete(id));
    const tracked = result.then(
      () => undefined,
      () => undefined,
    );
    this.settled.add(tracked);
    void tracked.then(() => this.settled.delete(tracked));
    return { started: true, result };
  }

  /** Refuses new tasks, aborts the running ones and waits until they have ended. */
  async shutdown(): Promise<void> {
    this.closing = true;
    for (const task of this.running.values()) task.controller.abort();
    await Promise.all([...this.settled]);
  }
}
