/**
 * The one scheduler of canary ticks, for every platform (docs/engine.md "Scheduling"). One job
 * per canary: it ticks at once (or after `firstTickInMs`), then every interval, and a job never
 * overlaps itself: the next tick is scheduled when the previous one has finished, so a slow
 * metric backend delays one canary instead of piling ticks up.
 *
 * The Kubernetes controller recreates a job when its interval changes (Flagger's ticker is
 * recreated, and ticks at once); local mode keeps the job and lets the new interval apply from
 * the next wait (`restartOnChange: false`).
 *
 * A new job's first tick is the heavy one (it creates the primary, the Services and the routes,
 * and on a controller start every canary has one at once), so at most `maxFirstTicks` of them
 * run together; the others wait their turn, in order (docs/controller.md "Memory"). Later ticks
 * are not limited: a slow one delays only its own canary.
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
  /** True until the job's first tick has started (only for jobs new to the scheduler). */
  firstTickPending: boolean;
}

export interface SchedulerOptions {
  /** How many new jobs may run their first tick at once (default 10). */
  readonly maxFirstTicks?: number;
}

export const DEFAULT_MAX_FIRST_TICKS = 10;

export class CanaryScheduler {
  private readonly jobs = new Map<string, Job>();
  private stopped = false;
  private firstTicksRunning = 0;
  /** New jobs waiting for a first-tick slot, oldest first. */
  private readonly waitingFirst: [string, Job][] = [];
  private readonly maxFirstTicks: number;

  constructor(
    private readonly tick: (id: string) => Promise<void>,
    private readonly timers: SchedulerTimers = NODE_TIMERS,
    options: SchedulerOptions = {},
  ) {
    this.maxFirstTicks = Math.max(1, options.maxFirstTicks ?? DEFAULT_MAX_FIRST_TICKS);
  }

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
    const job: Job = {
      intervalMs,
      timer: undefined,
      running: undefined,
      stopped: false,
      firstTickPending: existing === undefined,
    };
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
    const first = job.firstTickPending;
    if (first) {
      if (this.firstTicksRunning >= this.maxFirstTicks) {
        if (!this.waitingFirst.some(([, waiting]) => waiting === job)) this.waitingFirst.push([id, job]);
        return;
      }
      job.firstTickPending = false;
      this.firstTicksRunning += 1;
    }
    job.running = this.tick(id)
      .catch(() => undefined)
      .finally(() => {
        job.running = undefined;
        if (first) {
          this.firstTicksRunning -= 1;
          this.startWaitingFirstTick();
        }
        if (!job.stopped) job.timer = this.timers.setTimeout(() => this.run(id, job), job.intervalMs);
      });
  }

  private startWaitingFirstTick(): void {
    while (this.firstTicksRunning < this.maxFirstTicks) {
      const next = this.waitingFirst.shift();
      if (next === undefined) return;
      const [id, job] = next;
      if (!job.stopped && job.running === undefined) this.run(id, job);
    }
  }
}
