import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CanaryScheduler } from './scheduler.js';

describe('CanaryScheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('ticks at once, then every interval after the previous tick finished', async () => {
    const ticks: number[] = [];
    const scheduler = new CanaryScheduler(async () => {
      ticks.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    });
    const start = Date.now();
    scheduler.ensure('test/podinfo', 10_000);
    await vi.advanceTimersByTimeAsync(30_000);
    // Ticks of 3 s each, 10 s apart: at 0, 13 and 26 s, never overlapping.
    expect(ticks.map((time) => time - start)).toEqual([0, 13_000, 26_000]);
    await scheduler.stop();
  });

  it('keeps a job whose interval did not change, and restarts one whose interval did', async () => {
    let count = 0;
    const scheduler = new CanaryScheduler(() => {
      count += 1;
      return Promise.resolve();
    });
    scheduler.ensure('a/b', 10_000);
    await vi.advanceTimersByTimeAsync(1);
    scheduler.ensure('a/b', 10_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(count).toBe(1);
    scheduler.ensure('a/b', 20_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(count).toBe(2);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(count).toBe(3);
    await scheduler.stop();
  });

  it('stops ticking a removed canary, and a failing tick does not stop the job', async () => {
    const seen: string[] = [];
    const scheduler = new CanaryScheduler((id) => {
      seen.push(id);
      return id === 'x/bad' ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    scheduler.ensure('x/bad', 10_000);
    scheduler.ensure('x/good', 10_000);
    await vi.advanceTimersByTimeAsync(10_001);
    void scheduler.remove('x/good');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seen.filter((id) => id === 'x/bad')).toHaveLength(3);
    expect(seen.filter((id) => id === 'x/good')).toHaveLength(2);
    expect(scheduler.size).toBe(1);
    await scheduler.stop();
    expect(scheduler.size).toBe(0);
  });

  it("local mode's cadence: a resumed job waits its first interval, and a new interval applies from the next wait", async () => {
    const ticks: number[] = [];
    const scheduler = new CanaryScheduler(() => {
      ticks.push(Date.now());
      return Promise.resolve();
    });
    const start = Date.now();
    scheduler.ensure('a/resumed', 10_000, { firstTickInMs: 10_000 });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(ticks.map((time) => time - start)).toEqual([10_000]);
    scheduler.ensure('a/resumed', 5_000, { restartOnChange: false });
    await vi.advanceTimersByTimeAsync(10_000);
    // The wait in progress keeps its 10 s; the next one is 5 s.
    expect(ticks.map((time) => time - start)).toEqual([10_000, 20_000]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ticks.map((time) => time - start)).toEqual([10_000, 20_000, 25_000]);
    await scheduler.stop();
  });

  it('kicks a job to tick now without doubling a tick in flight; remove and stop wait for it', async () => {
    let running = 0;
    let most = 0;
    let finished = 0;
    const scheduler = new CanaryScheduler(async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      running -= 1;
      finished += 1;
    });
    scheduler.ensure('a/b', 60_000);
    const joined = scheduler.tickNow('a/b');
    await vi.advanceTimersByTimeAsync(1_000);
    await joined;
    expect(finished).toBe(1);
    const kicked = scheduler.tickNow('a/b');
    await vi.advanceTimersByTimeAsync(1);
    expect(running).toBe(1);
    const removed = scheduler.remove('a/b');
    let removedDone = false;
    void removed.then(() => (removedDone = true));
    await vi.advanceTimersByTimeAsync(500);
    expect(removedDone).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    await kicked;
    await removed;
    expect(finished).toBe(2);
    expect(most).toBe(1);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(finished).toBe(2);
    await scheduler.stop();
    scheduler.ensure('a/c', 1_000);
    expect(scheduler.size).toBe(0);
  });

  it('runs at most maxFirstTicks first ticks at once, the others in order as slots free; later ticks are not limited', async () => {
    let running = 0;
    let runningFirst = 0;
    let most = 0;
    let mostFirst = 0;
    const started: string[] = [];
    const scheduler = new CanaryScheduler(
      async (id) => {
        started.push(id);
        // First ticks take 1 s, later ones 20 s (so they overlap if nothing limits them).
        const first = started.filter((other) => other === id).length === 1;
        running += 1;
        if (first) runningFirst += 1;
        most = Math.max(most, running);
        mostFirst = Math.max(mostFirst, runningFirst);
        await new Promise((resolve) => setTimeout(resolve, first ? 1_000 : 20_000));
        running -= 1;
        if (first) runningFirst -= 1;
      },
      undefined,
      { maxFirstTicks: 3 },
    );
    const ids = Array.from({ length: 7 }, (_, index) => `test/app-${index}`);
    for (const id of ids) scheduler.ensure(id, 2_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(ids.slice(0, 3));
    await vi.advanceTimersByTimeAsync(3_000);
    // Every first tick ran, three at a time, in the order the jobs came.
    expect(started.slice(0, 7)).toEqual(ids);
    expect(mostFirst).toBe(3);
    // Later ticks are not limited: all seven second ticks are in flight together.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(most).toBe(7);
    const stopping = scheduler.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    await stopping;
  });
});
