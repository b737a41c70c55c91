/** Time for the loadtester: a monotonic reading in milliseconds and an abortable sleep. */
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds on a monotonic scale (only differences mean something). */
  now(): number;
  /** Waits `ms`; resolves early, without throwing, when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export function createSystemClock(): Clock {
  return {
    now: () => performance.now(),
    sleep: async (ms, signal) => {
      if (ms <= 0 || signal?.aborted === true) return;
      await delay(ms, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
    },
  };
}
