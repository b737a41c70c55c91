/**
 * Time, injected: every module that reads the time, waits or sets a timer takes a Clock (or the
 * part of one it uses, `Pick<Clock, 'now'>`), so tests step time instead of sleeping, local mode
 * can run canaries faster than real time, and nothing reads the time at import.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** What `setTimeout` returned; only ever handed back to `clearTimeout`. */
export type TimerHandle = unknown;

export interface Clock {
  /** Wall-clock time: what goes into statuses, events and Kubernetes MicroTime fields. */
  now(): Date;
  /** Milliseconds on a monotonic scale (only differences mean something): for our own deadlines and durations, immune to wall-clock steps. */
  monotonic(): number;
  /** Waits `ms`; resolves early, without throwing, when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs `callback` once after `ms`. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a `setTimeout` that has not run; a handle that already ran is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The machine's clock. Globals are looked up at call time, so test fake timers that replace them apply. */
export function createSystemClock(): Clock {
  return {
    now: () => new Date(),
    monotonic: () => performance.now(),
    sleep: async (ms, signal) => {
      if (ms <= 0 || signal?.aborted === true) return;
      await delay(ms, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
    },
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}
