import { describe, expect, it } from 'vitest';
import { createSystemClock } from './clock.js';

const clock = createSystemClock();

describe('createSystemClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    const now = clock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('reads a monotonic scale that never goes back', () => {
    const readings = Array.from({ length: 1_000 }, () => clock.monotonic());
    for (let index = 1; index < readings.length; index++) {
      expect(readings[index]).toBeGreaterThanOrEqual(readings[index - 1] as number);
    }
  });

  it('sleeps at least as long as asked', async () => {
    const start = clock.monotonic();
    await clock.sleep(30);
    expect(clock.monotonic() - start).toBeGreaterThanOrEqual(29);
  });

  it('ends a sleep early, without throwing, when its signal aborts', async () => {
    const stop = new AbortController();
    const sleeping = clock.sleep(600_000, stop.signal);
    stop.abort();
    await expect(sleeping).resolves.toBeUndefined();
    await expect(clock.sleep(600_000, stop.signal)).resolves.toBeUndefined();
  });

  it('runs a timer once, and not at all once cleared', async () => {
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('kept'), 1);
    clock.clearTimeout(clock.setTimeout(() => fired.push('cleared'), 1));
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 50));
    expect(fired).toEqual(['kept']);
  });
});
