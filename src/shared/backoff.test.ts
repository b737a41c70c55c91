import { describe, expect, it } from 'vitest';
import { backoffDelayMs, withFullJitter } from './backoff.js';

describe('backoffDelayMs', () => {
  it('doubles from the first wait up to the ceiling', () => {
    const backoff = { initialMs: 1_000, maxMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(backoff, retry))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
  });

  it('grows by the factor it is given', () => {
    const backoff = { initialMs: 3_000, factor: 3, maxMs: Infinity };
    expect([0, 1, 2].map((retry) => backoffDelayMs(backoff, retry))).toEqual([3_000, 9_000, 27_000]);
  });

  it('stays at the ceiling, a finite number, after any number of failures', () => {
    const backoff = { initialMs: 5, maxMs: 300_000 };
    for (const retry of [62, 1_023, 1_024, 10_000, Number.MAX_SAFE_INTEGER, Infinity]) {
      expect(backoffDelayMs(backoff, retry)).toBe(300_000);
    }
  });

  it('treats a negative or fractional retry number as the nearest whole one not below zero', () => {
    const backoff = { initialMs: 100, maxMs: 10_000 };
    expect(backoffDelayMs(backoff, -3)).toBe(100);
    expect(backoffDelayMs(backoff, 1.7)).toBe(200);
  });

  it('never answers NaN: no first wait means no wait, whatever the factor', () => {
    expect(backoffDelayMs({ initialMs: 0, factor: 3, maxMs: Infinity }, 2_000)).toBe(0);
    expect(backoffDelayMs({ initialMs: 1, factor: 3, maxMs: 50 }, 2_000)).toBe(50);
    expect(backoffDelayMs({ initialMs: 10, factor: 0, maxMs: 50 }, 3)).toBe(0);
  });
});

describe('withFullJitter', () => {
  it('spreads waits uniformly below the delay', () => {
    expect(withFullJitter(8_000, () => 0)).toBe(0);
    expect(withFullJitter(8_000, () => 0.5)).toBe(4_000);
    expect(withFullJitter(8_000, () => 0.999)).toBeLessThan(8_000);
  });
});

describe('backoffDelayMs without a ceiling', () => {
  it('keeps growing', () => {
    expect(backoffDelayMs({ initialMs: 1_000 }, 10)).toBe(1_024_000);
  });
});
