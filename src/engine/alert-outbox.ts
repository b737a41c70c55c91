/**
 * Alerts leave the analysis tick through this outbox (docs/notifiers.md "Delivery"): `send`
 * queues the message and returns at once, and a per-canary worker delivers it in the background.
 * A chat service that fails, refuses connections or never answers therefore costs the canary
 * nothing: a rollback moves the traffic back to the primary at once instead of after the chat
 * transport's timeouts and retries (up to 18 s per message).
 *
 * - Order: each canary's alerts go out in the order the engine sent them ("New revision" before
 *   "promotion finished"); different canaries do not wait for each other.
 * - Bounds: at most `maxQueuedPerCanary` messages wait per canary (the oldest waiting one is
 *   dropped and counted beyond that), and the worker waits at most `deliveryDeadlineMs` for one
 *   delivery before it moves on, so a notifier that ignores its own timeout cannot hold a
 *   canary's later alerts forever.
 * - Shutdown: `drain` waits, up to a deadline, for what is queued.
 */
import type { Canary } from '../api/schema/canary.js';
import type { LogWriter } from '../shared/logger.js';
import type { AlertSender } from './engine.js';
import { formatKey, keyOf, type AlertSeverity } from './ports.js';

/** Messages waiting per canary before the oldest is dropped. */
export const DEFAULT_MAX_QUEUED_PER_CANARY = 100;
/**
 * Longest wait for one delivery: above the chat transport's own bound (3 attempts of 5 s plus
 * 3 s of backoff, src/notifiers/transport.ts), so it only cuts off notifiers that ignore it.
 */
export const DEFAULT_DELIVERY_DEADLINE_MS = 30_000;

/** What a user sees of the outbox (`ControllerMetrics` implements it). */
export interface AlertOutboxRecorder {
  /** Messages waiting or in delivery, across canaries. */
  setAlertsQueued(count: number): void;
  /** A message that was never handed to a notifier: the queue was full, or the outbox closed. */
  countAlertDropped(reason: AlertDropReason): void;
}

export type AlertDropReason = 'queue-full' | 'shutdown';

export type AlertOutboxLogger = Pick<LogWriter, 'warn'>;

export interface AlertOutboxOptions {
  /** Delivers one message to every destination of the canary (the `AlertRouter`); never throws. */
  readonly deliver: AlertSender;
  readonly maxQueuedPerCanary?: number;
  readonly deliveryDeadlineMs?: number;
  readonly recorder?: AlertOutboxRecorder;
  readonly logger?: AlertOutboxLogger;
}

interface QueuedAlert {
  readonly canary: Canary;
  readonly severity: AlertSeverity;
  readonly text: string;
}

interface CanaryQueue {
  /** Not yet handed to the notifiers; the message in delivery is not among them. */
  readonly waiting: QueuedAlert[];
  /** Delivers `waiting` one by one; undefined when the queue is idle. */
  worker: Promise<void> | undefined;
}

export class AlertOutbox implements AlertSender {
  private readonly queues = new Map<string, CanaryQueue>();
  private readonly maxQueued: number;
  private readonly deadlineMs: number;
  private queued = 0;
  private closed = false;

  constructor(private readonly options: AlertOutboxOptions) {
    this.maxQueued = Math.max(1, options.maxQueuedPerCanary ?? DEFAULT_MAX_QUEUED_PER_CANARY);
    this.deadlineMs = options.deliveryDeadlineMs ?? DEFAULT_DELIVERY_DEADLINE_MS;
  }

  /** Queues the message and resolves at once; delivery happens in the background. */
  send(canary: Canary, severity: AlertSeverity, text: string): Promise<void> {
    if (this.closed) {
      this.options.recorder?.countAlertDropped('shutdown');
      return Promise.resolve();
    }
    const name = formatKey(keyOf(canary));
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = { waiting: [], worker: undefined };
      this.queues.set(name, queue);
    }
    if (queue.waiting.length >= this.maxQueued) {
      const dropped = queue.waiting.shift();
      this.changeQueued(-1);
      this.options.recorder?.countAlertDropped('queue-full');
      this.warn({ canary: name, text: dropped?.text }, 'alert dropped: too many alerts waiting for delivery');
    }
    queue.waiting.push({ canary: structuredClone(canary), severity, text });
    this.changeQueued(1);
    if (queue.worker === undefined) queue.worker = this.work(name, queue);
    return Promise.resolve();
  }

  /** Messages waiting or in delivery. */
  get pending(): number {
    return this.queued;
  }

  /**
   * Waits until every queued message has been delivered (or given up on), at most `timeoutMs`.
   * Resolves true when nothing is left.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.queued > 0) {
      const workers = [...this.queues.values()].flatMap((queue) =>
        queue.worker === undefined ? [] : [queue.worker],
      );
      const left = deadline - Date.now();
      if (workers.length === 0 || left <= 0) break;
      await waitAtMost(Promise.allSettled(workers), left);
    }
    return this.queued === 0;
  }

  /** Stops accepting alerts, then drains (see `drain`); what is still queued is dropped and counted. */
  async close(timeoutMs: number): Promise<boolean> {
    this.closed = true;
    const drained = await this.drain(timeoutMs);
    for (const queue of this.queues.values()) {
      for (const alert of queue.waiting.splice(0)) {
        this.changeQueued(-1);
        this.options.recorder?.countAlertDropped('shutdown');
        this.warn({ canary: formatKey(keyOf(alert.canary)), text: alert.text }, 'alert dropped at shutdown');
      }
    }
    return drained;
  }

  private async work(name: string, queue: CanaryQueue): Promise<void> {
    for (let alert = queue.waiting.shift(); alert !== undefined; alert = queue.waiting.shift()) {
      const { canary, severity, text } = alert;
      // Called inside an async function, so a sender that throws instead of rejecting is caught too.
      const delivery = (async () => this.options.deliver.send(canary, severity, text))().catch(
        (error: unknown) => {
          // The AlertRouter never throws; a sender that does must not stop this canary's queue.
          this.warn({ canary: name, error: String(error) }, 'alert delivery threw');
        },
      );
      const settled = await waitAtMost(delivery, this.deadlineMs);
      if (!settled) {
        this.warn(
          { canary: name, text: alert.text, deadlineMs: this.deadlineMs },
          'alert delivery still running after its deadline; sending the next alert',
        );
      }
      // Counted out only now, so `pending` and `drain` include the message in delivery.
      this.changeQueued(-1);
    }
    queue.worker = undefined;
    if (queue.waiting.length === 0) this.queues.delete(name);
  }

  private changeQueued(delta: number): void {
    this.queued += delta;
    this.options.recorder?.setAlertsQueued(this.queued);
  }

  private warn(fields: object, message: string): void {
    try {
      this.options.logger?.warn(fields, message);
    } catch {
      // A broken log sink must not stop alert delivery.
    }
  }
}

/** Resolves true when `promise` settled within `ms`, false otherwise; the timer never keeps the process alive. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
