/**
 * A small seeded pseudo-random generator (mulberry32) for the resilience suites: the seed is
 * printed, and the same seed replays the same choices (kill points, delays, outages).
 */
export interface SeededRandom {
  readonly seed: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** A duration in [minMs, maxMs). */
  between(minMs: number, maxMs: number): number;
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (minMs, maxMs) => minMs + next() * (maxMs - minMs),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick() from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
  };
}

/** The seed from `variable` (to replay a run) or a fresh one. */
export function seedFrom(variable: string): number {
  const given = process.env[variable];
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new Error(`${variable}: "${given}" is not a seed; use a whole number such as 1234`);
  }
  return seed;
}
