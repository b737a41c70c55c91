/**
 * Windowed traffic counts in bounded memory: one ring of per-second slots per series, each
 * slot holding the second's request count, 5xx count, latency sum and latency histogram. A
 * question about the last N seconds adds up the slots of those seconds; older seconds are
 * overwritten as the ring turns, so memory stays fixed whatever the traffic.
 *
 * `histogramQuantile` estimates a quantile from cumulative buckets the way Prometheus'
 * `histogram_quantile` does, so a check answered here and the same check answered by
 * Prometheus from the exported histogram agree.
 */

export interface BucketCount {
  /** Upper bound in seconds; Infinity for the +Inf bucket. */
  readonly upperBound: number;
  /** Observations ≤ upperBound (cumulative). */
  readonly count: number;
}

export interface WindowTotals {
  readonly requests: number;
  readonly errors: number;
  readonly sumSeconds: number;
  /** Cumulative, in increasing bounds, ending with +Inf. */
  readonly buckets: readonly BucketCount[];
}

/** Per-second slots for one series (namespace, service, arm). */
export class SecondRing {
  /** Which epoch second each slot holds; -1 when the slot was never used. */
  private readonly slotSecond: Float64Array;
  /** Per slot: requests, errors, sum, then one count per bucket (+Inf last), not cumulative. */
  private readonly cells: Float64Array;
  private readonly stride: number;

  /** `bounds`: finite upper bounds in seconds, increasing. */
  constructor(
    private readonly slots: number,
    private readonly bounds: readonly number[],
  ) {
    this.stride = 3 + bounds.length + 1;
    this.slotSecond = new Float64Array(slots).fill(-1);
    this.cells = new Float64Array(slots * this.stride);
  }

  /** Adds one request at `second` (epoch seconds). Seconds older than the ring are ignored. */
  add(second: number, isError: boolean, durationSeconds: number): void {
    const slot = second % this.slots;
    const held = this.slotSecond[slot] ?? -1;
    if (held > second) return;
    const base = slot * this.stride;
    if (held !== second) {
      this.cells.fill(0, base, base + this.stride);
      this.slotSecond[slot] = second;
    }
    this.cells[base] = (this.cells[base] ?? 0) + 1;
    if (isError) this.cells[base + 1] = (this.cells[base + 1] ?? 0) + 1;
    this.cells[base + 2] = (this.cells[base + 2] ?? 0) + durationSeconds;
    const bucket = base + 3 + bucketIndex(this.bounds, durationSeconds);
    this.cells[bucket] = (this.cells[bucket] ?? 0) + 1;
  }

  /** Sums the seconds `from`..`to` (inclusive), at most the ring's length ending at `to`. */
  totals(from: number, to: number): WindowTotals {
    const first = Math.max(from, to - this.slots + 1);
    const perBucket = new Array<number>(this.bounds.length + 1).fill(0);
    let requests = 0;
    let errors = 0;
    let sumSeconds = 0;
    for (let second = first; second <= to; second += 1) {
      const slot = second % this.slots;
      if (this.slotSecond[slot] !== second) continue;
      const base = slot * this.stride;
      requests += this.cells[base] ?? 0;
      errors += this.cells[base + 1] ?? 0;
      sumSeconds += this.cells[base + 2] ?? 0;
      for (let index = 0; index < perBucket.length; index += 1) {
        perBucket[index] = (perBucket[index] ?? 0) + (this.cells[base + 3 + index] ?? 0);
      }
    }
    let cumulative = 0;
    const buckets = perBucket.map((count, index) => {
      cumulative += count;
      return { upperBound: this.bounds[index] ?? Number.POSITIVE_INFINITY, count: cumulative };
    });
    return { requests, errors, sumSeconds, buckets };
  }
}

/** Index of the first bucket whose bound is ≥ value (Prometheus buckets are `le`). */
function bucketIndex(bounds: readonly number[], value: number): number {
  for (let index = 0; index < bounds.length; index += 1) {
    if (value <= (bounds[index] ?? Number.POSITIVE_INFINITY)) return index;
  }
  return bounds.length;
}

/**
 * The seconds a window of `windowMs` ending at `nowMs` covers: every second that overlaps
 * [now − window, now], so nothing inside the window is missed (at most one second more is read).
 */
export function windowSeconds(nowMs: number, windowMs: number): { from: number; to: number } {
  return { from: Math.floor((nowMs - windowMs) / 1000), to: Math.floor(nowMs / 1000) };
}

/**
 * Prometheus' histogram_quantile on cumulative buckets ending with +Inf: find the bucket the
 * rank falls in and interpolate linearly inside it (from 0 for the first bucket). A rank in
 * the +Inf bucket answers the highest finite bound. Undefined when there are no observations.
 */
export function histogramQuantile(q: number, buckets: readonly BucketCount[]): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0 || buckets.length < 2) return undefined;
  const rank = q * total;
  let index = buckets.findIndex((bucket, i) => i < buckets.length - 1 && bucket.count >= rank);
  if (index === -1) index = buckets.length - 1;
  if (index === buckets.length - 1) return buckets[buckets.length - 2]?.upperBound;
  const bucket = buckets[index]!;
  const previous = index === 0 ? { upperBound: 0, count: 0 } : buckets[index - 1]!;
  const lower = index === 0 && bucket.upperBound <= 0 ? bucket.upperBound : previous.upperBound;
  const inBucket = bucket.count - previous.count;
  if (inBucket === 0) return lower;
  return lower + (bucket.upperBound - lower) * ((rank - previous.count) / inBucket);
}
