/**
 * The one scheduler of canary ticks, for every platform (docs/engine.md "Scheduling"). One job
 * per canary: it ticks at once (or after `firstTickInMs`), then every interval, and a job never
 * overlaps itself: the next tick is scheduled when the previous one has finished, so a slow
 * metric backend delays one canary instead of piling ticks up.
 *
 * The Kubernetes controller recreates a job when its interval changes (Flagger's ticker is
 * recreated, and ticks at once); local mode keeps the job and lets the new interval apply from
 * the next wait (`restartOnChange: false`).
 */

/** Where the scheduler's time comes from: Node's timers, or a test's fake ones. */
export interface SchedulerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const NODE_TIMERS: SchedulerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface EnsureOptions {
  /** Delay of a new job's first tick (default 0: at once). */
  readonly firstTickInMs?: number;
  /** Whether a changed interval restarts the job with a tick at once (default true). */
  readonly restartOnChange?: boolean;
}

interface Job {
  intervalMs: number;
  timer: unknown;
  running: Promise<void> | undefined;
  stopped: boolean;
}

export class CanaryScheduler {
  private readonly jobs = new Map<string, Job>();
  private stopped = false;

  constructor(
    private readonly tick: (id: string) => Promise<void>,
    private readonly timers: SchedulerTimers = NODE_TIMERS,
  ) {}

  /** Starts a job for `id`, or changes its interval (see EnsureOptions); otherwise leaves it alone. */
  ensure(id: string, intervalMs: number, options: EnsureOptions = {}): void {
    if (this.stopped) return;
    const existing = this.jobs.get(id);
    if (existing !== undefined && existing.intervalMs === intervalMs) return;
    if (existing !== undefined && options.restartOnChange === false) {
      existing.intervalMs = intervalMs;
      return;
    }
    if (existing !== undefined) this.stopJob(existing);
    const job: Job = { intervalMs, timer: undefined, running: undefined, stopped: false };
    this.jobs.set(id, job);
    const delay = existing === undefined ? (options.firstTickInMs ?? 0) : 0;
    if (delay > 0) job.timer = this.timers.setTimeout(() => this.run(id, job), delay);
    else this.run(id, job);
  }

  /** Runs the job's tick now (unless one is in flight), keeping its cadence from then on. */
  kick(id: string): void {
    const job = this.jobs.get(id);
    if (job === undefined || job.stopped || job.running !== undefined) return;
    this.timers.clearTimeout(job.timer);
    this.run(id, job);
  }

  /** Kicks the job and resolves when its tick (or the one already in flight) has finished. */
  async tickNow(id: string): Promise<void> {
    this.kick(id);
    await this.jobs.get(id)?.running;
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  get ids(): readonly string[] {
    return [...this.jobs.keys()];
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Stops the job: no other tick starts; resolves once the tick in flight has finished. */
  async remove(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (job === undefined) return;
    this.stopJob(job);
    this.jobs.delete(id);
    await job.running;
  }

  /** Stops every job for good and waits for the ticks in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
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
