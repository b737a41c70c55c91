import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue, type WorkQueueOptions } from './queue.js';

const queues: WorkQueue[] = [];

function newTestQueue(options: Partial<WorkQueueOptions> = {}): { queue: WorkQueue; registry: Registry } {
  const registry = options.registry ?? new Registry();
  const queue = new WorkQueue({ registry, ...options });
  queues.push(queue);
  return { queue, registry };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

/** The value of a single-series counter or gauge. */
async function metricValue(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]!.value;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.shutDown()));
  vi.useRealTimers();
});

describe('WorkQueue', () => {
  it('keeps a key waiting at most once and hands keys out in order', async () => {
    const { queue, registry } = newTestQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.length).toBe(2);
    expect(await metricValue(registry, 'vireo_workqueue_adds_total')).toBe(2);
    expect(await metricValue(registry, 'vireo_workqueue_depth')).toBe(2);
    const seen: string[] = [];
    queue.run(1, (key) => {
      seen.push(key);
      return Promise.resolve();
    });
    await settle();
    expect(seen).toEqual(['a', 'b']);
    expect(queue.length).toBe(0);
    expect(await metricValue(registry, 'vireo_workqueue_depth')).toBe(0);
  });

  it('never processes one key concurrently, and processes a key re-added during processing once more after', async () => {
    const { queue } = newTestQueue();
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const calls: string[] = [];
    queue.run(4, async (key) => {
      calls.push(key);
      active += 1;
      maxActive = Math.max(maxActive, active);
      if (calls.length === 1) await gate.promise;
      active -= 1;
    });
    queue.add('a');
    await settle();
    expect(calls).toEqual(['a']);
    // Re-added three times while a worker holds it: idle workers must not take it.
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await settle();
    expect(calls).toEqual(['a']);
    expect(queue.length).toBe(0); // parked until the first run is done
    gate.resolve();
    await settle();
    expect(calls).toEqual(['a', 'a']); // the three re-adds coalesce into one run
    expect(maxActive).toBe(1);
  });

  it('runs different keys in parallel, up to the number of workers', async () => {
    const { queue } = newTestQueue();
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    queue.run(2, async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await gate.promise;
      active -= 1;
    });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    await settle();
    expect(maxActive).toBe(2);
    expect(queue.length).toBe(1);
    gate.resolve();
    await settle();
    expect(queue.length).toBe(0);
  });

  it('retries a failing key with exponential backoff from 5 ms, capped at 5 minutes, and forgets on success', async () => {
    const { queue, registry } = newTestQueue();
    const times: number[] = [];
    const errors: [string, number][] = [];
    let failUntil = 19;
    queue.run(
      1,
      (key) => {
        times.push(Date.now());
        if (times.length <= failUntil) return Promise.reject(new Error(`boom ${key}`));
        return Promise.resolve();
      },
      (key, _error, retries) => errors.push([key, retries]),
    );
    const start = Date.now();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(25 * 60_000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(times[0]).toBe(start);
    // 5 ms × 2^n: 5, 10, ..., 163 840, then the 300 000 ms ceiling.
    expect(gaps.slice(0, 16)).toEqual(Array.from({ length: 16 }, (_, n) => 5 * 2 ** n));
    expect(gaps.slice(16)).toEqual([300_000, 300_000, 300_000]);
    expect(errors[0]).toEqual(['a', 1]);
    expect(errors.at(-1)).toEqual(['a', 19]);
    expect(queue.retries('a')).toBe(0); // the success forgot it
    expect(await metricValue(registry, 'vireo_workqueue_retries_total')).toBe(19);

    // After forget, the next failure starts from 5 ms again.
    failUntil = times.length + 1;
    const before = times.length;
    queue.add('a');
    await vi.advanceTimersByTimeAsync(5);
    expect(times.length).toBe(before + 2);
    expect(times.at(-1)! - times.at(-2)!).toBe(5);
  });

  it('forget resets the per-key backoff', () => {
    const { queue } = newTestQueue();
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    expect(queue.retries('a')).toBe(2);
    queue.forget('a');
    expect(queue.retries('a')).toBe(0);
  });

  it('limits retries overall with a token bucket: a burst of 100, then 10 per second', async () => {
    const { queue } = newTestQueue();
    for (let i = 0; i < 150; i += 1) queue.addRateLimited(`k${i}`);
    await vi.advanceTimersByTimeAsync(5);
    expect(queue.length).toBe(100);
    await vi.advanceTimersByTimeAsync(95); // 100 ms: one more token
    expect(queue.length).toBe(101);
    await vi.advanceTimersByTimeAsync(4_900); // 5 s: all 50 spaced retries are in
    expect(queue.length).toBe(150);
  });

  it('addAfter delays a key; the earlier of two delays wins', async () => {
    const { queue } = newTestQueue();
    queue.addAfter('a', 1_000);
    queue.addAfter('a', 200);
    queue.addAfter('a', 5_000);
    await vi.advanceTimersByTimeAsync(199);
    expect(queue.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.length).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(queue.length).toBe(1); // the later delays were dropped, not queued twice
    expect(vi.getTimerCount()).toBe(0);
  });

  it('shutDown stops handing out work and waits for handlers in flight', async () => {
    const { queue, registry } = newTestQueue();
    const gate = deferred();
    const calls: string[] = [];
    let finished = false;
    queue.run(1, async (key) => {
      calls.push(key);
      await gate.promise;
      finished = true;
    });
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1_000);
    await settle();
    let down = false;
    const stopping = queue.shutDown().then(() => (down = true));
    await settle();
    expect(down).toBe(false); // 'a' is still being handled
    queue.add('d');
    expect(queue.length).toBe(1); // 'b' stays; 'd' is refused
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
    expect(calls).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(0); // the delayed 'c' was dropped
    expect(await registry.metrics()).toContain(
      'vireo_workqueue_work_duration_seconds_count{name="canaries"} 1',
    );
  });

  it('survives an onError that throws', async () => {
    const { queue } = newTestQueue();
    let calls = 0;
    queue.run(
      1,
      () => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('first')) : Promise.resolve();
      },
      () => {
        throw new Error('logger bug');
      },
    );
    queue.add('a');
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(2);
  });

  it('shares metrics between queues on one registry, told apart by name', async () => {
    const registry = new Registry();
    const { queue: one } = newTestQueue({ registry, name: 'canaries' });
    const { queue: two } = newTestQueue({ registry, name: 'other' });
    one.add('a');
    two.add('a');
    two.add('b');
    const text = await registry.metrics();
    expect(text).toContain('vireo_workqueue_depth{name="canaries"} 1');
    expect(text).toContain('vireo_workqueue_depth{name="other"} 2');
  });
});
