/**
 * One job per canary (docs/flagger-compatibility.md#0-process-model "Scheduler"): it ticks at once, then every analysis interval,
 * and is recreated when the interval changes. A job never overlaps itself: the next tick is
 * scheduled when the previous one has finished, so a slow metric backend delays one canary
 * instead of piling ticks up.
 */
export interface SchedulerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const NODE_TIMERS: SchedulerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Job {
  intervalMs: number;
  timer: unknown;
  running: Promise<void> | undefined;
  stopped: boolean;
}

export class CanaryScheduler {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly tick: (id: string) => Promise<void>,
    private readonly timers: SchedulerTimers = NODE_TIMERS,
  ) {}

  /** Starts a job for `id`, or restarts it when its interval changed; otherwise leaves it alone. */
  ensure(id: string, intervalMs: number): void {
    const existing = this.jobs.get(id);
    if (existing !== undefined && existing.intervalMs === intervalMs) return;
    if (existing !== undefined) this.stopJob(existing);
    const job: Job = { intervalMs, timer: undefined, running: undefined, stopped: false };
    this.jobs.set(id, job);
    this.run(id, job);
  }

  /** Runs the job's tick now (after the one in flight), keeping its cadence from then on. */
  kick(id: string): void {
    const job = this.jobs.get(id);
    if (job === undefined || job.stopped) return;
    if (job.running !== undefined) return;
    this.timers.clearTimeout(job.timer);
    this.run(id, job);
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Stops the job; a tick in flight finishes, and no other starts. */
  remove(id: string): void {
    const job = this.jobs.get(id);
    if (job === undefined) return;
    this.stopJob(job);
    this.jobs.delete(id);
  }

  /** Stops every job and waits for the ticks in flight. */
  async stop(): Promise<void> {
    const running: Promise<void>[] = [];
    for (const job of this.jobs.values()) {
      this.stopJob(job);
      if (job.running !== undefined) running.push(job.running);
    }
    this.jobs.clear();
    await Promise.allSettled(running);
  }

  private stopJob(job: Job): void {
    job.stopped = true;
    this.timers.clearTimeout(job.timer);
  }

  private run(id: string, job: Job): void {
    job.timer = undefined;
    job.running = this.tick(id)
      .catch(() => undefined)
      .finally(() => {
        job.running = undefined;
        if (!job.stopped) job.timer = this.timers.setTimeout(() => this.run(id, job), job.intervalMs);
      });
  }
}
