/**
 * A rate-limited work queue of string keys, with client-go's semantics (`util/workqueue`), which
 * Flagger's controller relies on (style lesson 10):
 *
 * - dedup: a key waits in the queue at most once, however often it is added;
 * - a key is never processed by two workers at once: re-added while a worker has it, it is
 *   queued again when that worker is done, so the change that caused the re-add is not lost;
 * - `addRateLimited` waits max(per-key exponential backoff, overall token bucket): one failing
 *   key backs off alone, and a burst of failures cannot hammer the API server;
 * - handlers read the latest state by key (from the informer caches), so coalescing many adds
 *   into one run is correct and cheap.
 *
 * Timers and the clock are injectable so tests step time instead of sleeping.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { backoffDelayMs } from '../../shared/backoff.js';
import { createSystemClock, type Clock } from '../../shared/clock.js';

export type WorkQueueClock = Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;

export interface WorkQueueOptions {
  /** Where the metrics go; queues sharing a registry share the metrics, told apart by `name`. */
  readonly registry: Registry;
  /** The `name` label of the metrics (default "canaries"). */
  readonly name?: string;
  /** First per-key retry delay (default 5 ms), doubled on each failure of that key. */
  readonly baseDelayMs?: number;
  /** Per-key retry delay ceiling (default 5 min). */
  readonly maxDelayMs?: number;
  /** Overall retry rate once the burst is spent (default 10 per second). */
  readonly qps?: number;
  /** Retries allowed at once before `qps` applies (default 100). */
  readonly burst?: number;
  readonly clock?: WorkQueueClock;
}

export type WorkHandler = (key: string) => Promise<void>;
export type WorkErrorHandler = (key: string, error: unknown, retries: number) => void;

/** Reconcile durations: sub-millisecond cache reads up to slow API writes and webhooks. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface QueueMetrics {
  depth: Gauge<'name'>;
  adds: Counter<'name'>;
  retries: Counter<'name'>;
  duration: Histogram<'name'>;
}

/** One set of metrics per registry, reused by every queue on it (prom-client refuses duplicates). */
function queueMetrics(registry: Registry): QueueMetrics {
  const registers = [registry];
  const existing = <M>(name: string): M | undefined => registry.getSingleMetric(name) as M | undefined;
  return {
    depth:
      existing<Gauge<'name'>>('vireo_workqueue_depth') ??
      new Gauge({
        name: 'vireo_workqueue_depth',
        help: 'Keys waiting in the work queue (not counting delayed retries or keys being processed).',
        labelNames: ['name'],
        registers,
      }),
    adds:
      existing<Counter<'name'>>('vireo_workqueue_adds_total') ??
      new Counter({
        name: 'vireo_workqueue_adds_total',
        help: 'Keys added to the work queue (adds of a key already waiting are not counted).',
        labelNames: ['name'],
        registers,
      }),
    retries:
      existing<Counter<'name'>>('vireo_workqueue_retries_total') ??
      new Counter({
        name: 'vireo_workqueue_retries_total',
        help: 'Keys re-added with a rate-limited delay after their handler failed.',
        labelNames: ['name'],
        registers,
      }),
    duration:
      existing<Histogram<'name'>>('vireo_workqueue_work_duration_seconds') ??
      new Histogram({
        name: 'vireo_workqueue_work_duration_seconds',
        help: 'Seconds a handler took to process one key.',
        labelNames: ['name'],
        buckets: DURATION_BUCKETS,
        registers,
      }),
  };
}

export class WorkQueue {
  private readonly name: string;
  private readonly clock: WorkQueueClock;
  private readonly metrics: QueueMetrics;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly qps: number;
  private readonly burst: number;

  /** Keys waiting, in insertion order (a Set: a key waits at most once). */
  private readonly queue = new Set<string>();
  /** Keys that need processing: waiting, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Delayed adds: the earliest wins when a key is delayed twice. */
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private tokens: number;
  private tokensAt: number;

  private readonly idle: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name ?? 'canaries';
    this.clock = options.clock ?? createSystemClock();
    this.metrics = queueMetrics(options.registry);
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
    this.tokensAt = this.clock.monotonic();
    this.metrics.depth.set({ name: this.name }, 0);
  }

  /** Keys waiting to be handed to a worker. */
  get length(): number {
    return this.queue.size;
  }

  /** Queues `key` unless it is already waiting; a key being processed is queued again once done. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics.adds.inc({ name: this.name });
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds `key` after `ms`; if the key is already delayed, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.monotonic() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      this.clock.clearTimeout(pending.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Adds `key` after its backoff: max(base × 2^failures capped, the token bucket's wait). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.retries.inc({ name: this.name });
    this.addAfter(key, Math.max(this.itemDelay(key), this.bucketDelay()));
  }

  /** Forgets the failures of `key` (after a success), so its next retry starts from the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many rate-limited retries `key` has had since it was last forgotten. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Starts `workers` loops that take keys and call `handler`. Success forgets the key's failures;
   * a rejection goes to `onError` and re-adds the key rate-limited.
   */
  run(workers: number, handler: WorkHandler, onError: WorkErrorHandler = () => undefined): void {
    for (let i = 0; i < workers; i += 1) this.workers.push(this.work(handler, onError));
  }

  /** Stops handing out keys and drops pending delays; resolves when handlers in flight are done. */
  async shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const wake of this.idle.splice(0)) wake();
    await Promise.all(this.workers);
  }

  private async work(handler: WorkHandler, onError: WorkErrorHandler): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      const started = this.clock.monotonic();
      try {
        await handler(key);
        this.forget(key);
      } catch (error) {
        // The caller logs; the count passed is the retry this failure leads to.
        try {
          onError(key, error, this.retries(key) + 1);
        } catch {
          // A throwing error handler must not kill the worker.
        }
        this.addRateLimited(key);
      } finally {
        this.metrics.duration.observe({ name: this.name }, (this.clock.monotonic() - started) / 1000);
        this.done(key);
      }
    }
  }

  /** The next key to process, marked as processing; undefined once shutting down. */
  private async next(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.queue.values().next();
      if (!key.done) {
        this.queue.delete(key.value);
        this.dirty.delete(key.value);
        this.processing.add(key.value);
        this.metrics.depth.set({ name: this.name }, this.queue.size);
        return key.value;
      }
      await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }

  private done(key: string): void {
    this.processing.delete(key);
    // Re-added while being processed: now it may run again.
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.metrics.depth.set({ name: this.name }, this.queue.size);
    this.idle.shift()?.();
  }

  private itemDelay(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return backoffDelayMs({ initialMs: this.baseDelayMs, maxMs: this.maxDelayMs }, failures);
  }

  /** Takes a token; when none is left, the wait until one will be (tokens may go negative). */
  private bucketDelay(): number {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAt) * this.qps) / 1000);
    this.tokensAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }
}
