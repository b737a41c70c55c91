/**
 * Capped exponential backoff, the one rule every retry in Vireo waits by: a crashed local replica,
 * a failed watch of the cluster, a canary whose sync failed, a chat message or webhook call that
 * got no answer, the wait for a restored target. Each caller keeps its own numbers (documented
 * where they are chosen); the arithmetic, and its guard against overflow, live here.
 */

export interface Backoff {
  /** The wait before the first retry. */
  readonly initialMs: number;
  /** Each further wait is the previous one times this (default 2). */
  readonly factor?: number;
  /** No wait is longer than this (default: no ceiling). */
  readonly maxMs?: number;
}

/**
 * The wait before retry number `retry` (0 for the first retry): initialMs × factor^retry, at most
 * maxMs. Never NaN or negative; past the point where the product overflows it is maxMs.
 */
export function backoffDelayMs(backoff: Backoff, retry: number): number {
  if (!(backoff.initialMs > 0)) return 0;
  const factor = backoff.factor ?? 2;
  // 2^1023 is the largest power of two a double holds; beyond it the product is Infinity anyway.
  const exponent = Math.min(Math.max(Math.floor(retry), 0), 1023);
  const delay = backoff.initialMs * factor ** exponent;
  const ceiling = backoff.maxMs ?? Infinity;
  return Math.max(0, Math.min(ceiling, Number.isNaN(delay) ? ceiling : delay));
}

/**
 * "Full jitter": a uniform wait in [0, delayMs), so that many clients failing together (every
 * watch after an API server restart) do not all retry at the same moment.
 */
export function withFullJitter(delayMs: number, random: () => number = Math.random): number {
  return random() * delayMs;
}
