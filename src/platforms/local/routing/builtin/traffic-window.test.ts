import { describe, expect, it } from 'vitest';
import { histogramQuantile, SecondRing, windowSeconds } from './traffic-window.js';

const buckets = (counts: [number, number][]) => counts.map(([upperBound, count]) => ({ upperBound, count }));

describe('histogramQuantile', () => {
  it('interpolates linearly inside the bucket the rank falls in, from 0 for the first', () => {
    const histogram = buckets([
      [0.1, 40],
      [0.5, 80],
      [1, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.2, histogram)).toBeCloseTo(0.05, 12); // rank 20 of 40 in (0, 0.1]
    expect(histogramQuantile(0.6, histogram)).toBeCloseTo(0.3, 12); // rank 60: 0.1 + 0.4 × 20/40
    expect(histogramQuantile(0.99, histogram)).toBeCloseTo(0.975, 12); // rank 99: 0.5 + 0.5 × 19/20
  });

  it('answers the highest finite bound when the rank is in the +Inf bucket', () => {
    expect(
      histogramQuantile(
        0.99,
        buckets([
          [0.1, 10],
          [1, 50],
          [Infinity, 100],
        ]),
      ),
    ).toBe(1);
  });

  it('answers undefined without observations', () => {
    expect(
      histogramQuantile(
        0.99,
        buckets([
          [0.1, 0],
          [Infinity, 0],
        ]),
      ),
    ).toBeUndefined();
    expect(histogramQuantile(0.99, [])).toBeUndefined();
  });
});

describe('SecondRing', () => {
  it('adds up the seconds asked for, skipping empty and overwritten slots', () => {
    const ring = new SecondRing(4, [0.1, 1]);
    ring.add(100, false, 0.05);
    ring.add(101, true, 0.5);
    ring.add(101, false, 2);
    expect(ring.totals(100, 101)).toMatchObject({
      requests: 3,
      errors: 1,
      buckets: buckets([
        [0.1, 1],
        [1, 2],
        [Infinity, 3],
      ]),
    });
    expect(ring.totals(101, 101).requests).toBe(2);
    ring.add(104, false, 0.01); // reuses second 100's slot
    expect(ring.totals(100, 104).requests).toBe(3);
    ring.add(100, true, 0.01); // older than the slot's second: ignored
    expect(ring.totals(101, 104).errors).toBe(1);
  });

  it('counts a value on a bucket bound in that bucket (le)', () => {
    const ring = new SecondRing(2, [0.1, 1]);
    ring.add(1, false, 0.1);
    expect(ring.totals(1, 1).buckets[0]?.count).toBe(1);
  });
});

describe('windowSeconds', () => {
  it('covers every second that overlaps the window', () => {
    expect(windowSeconds(100_500, 60_000)).toEqual({ from: 40, to: 100 });
    expect(windowSeconds(100_000, 1_000)).toEqual({ from: 99, to: 100 });
  });
});
