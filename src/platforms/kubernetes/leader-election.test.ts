import { hostname } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from './client.js';
import { KubeApiError } from './errors.js';
import {
  LeaderElector,
  microTime,
  parseMicroTime,
  type Lease,
  type LeaderElectionClock,
  type LeaderElectionLogger,
  type LeaseClient,
  type LeaderElectorOptions,
} from './leader-election.js';
import type { ResourceType } from './resources.js';

const START = Date.parse('2026-11-23T10:00:00.000Z');
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Virtual time: sleepers wake only when a test advances the clock. */
class ManualClock implements LeaderElectionClock {
  elapsed = 0;
  /** Wall-clock offset, to simulate a skewed clock. */
  skewMs = 0;
  private sleepers: { at: number; wake: () => void }[] = [];

  now(): Date {
    return new Date(START + this.elapsed + this.skewMs);
  }

  monotonic(): number {
    return this.elapsed;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((other) => other !== sleeper);
        resolve();
      };
      const sleeper = {
        at: this.elapsed + Math.max(0, ms),
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async advance(ms: number): Promise<void> {
    const end = this.elapsed + ms;
    for (;;) {
      await flush();
      const due = this.sleepers.filter((sleeper) => sleeper.at <= end);
      if (due.length === 0) break;
      const next = Math.min(...due.map((sleeper) => sleeper.at));
      this.elapsed = Math.max(this.elapsed, next);
      const waking = this.sleepers.filter((sleeper) => sleeper.at <= this.elapsed);
      this.sleepers = this.sleepers.filter((sleeper) => sleeper.at > this.elapsed);
      for (const sleeper of waking) sleeper.wake();
    }
    this.elapsed = end;
    await flush();
  }
}

/** An API server holding Leases, with resourceVersion preconditions and MicroTime validation. */
class FakeLeaseServer {
  readonly leases = new Map<string, Lease>();
  writes = 0;
  private version = 0;
  /** Makes every request from the named identity's client fail or hang. */
  readonly failing = new Set<string>();
  readonly hanging = new Set<string>();

  clientFor(identity: string): LeaseClient {
    const gate = async (): Promise<void> => {
      await Promise.resolve();
      if (this.hanging.has(identity)) await new Promise(() => undefined);
      if (this.failing.has(identity)) throw new KubeApiError('E_KUBE_TRANSPORT', 'injected failure', 0);
    };
    return {
      get: async <T extends KubeObject>(
        _resource: ResourceType,
        namespace: string | undefined,
        name: string,
      ) => {
        await gate();
        const lease = this.leases.get(`${namespace}/${name}`);
        return lease === undefined ? undefined : (structuredClone(lease) as unknown as T);
      },
      create: async <T extends KubeObject>(_resource: ResourceType, object: T) => {
        await gate();
        const key = `${object.metadata.namespace}/${object.metadata.name}`;
        if (this.leases.has(key)) throw new KubeApiError('E_KUBE_ALREADY_EXISTS', `${key} exists`, 409);
        return this.store(key, object) as unknown as T;
      },
      replace: async <T extends KubeObject>(_resource: ResourceType, object: T) => {
        await gate();
        const key = `${object.metadata.namespace}/${object.metadata.name}`;
        const current = this.leases.get(key);
        if (current === undefined) throw new KubeApiError('E_KUBE_NOT_FOUND', `${key} not found`, 404);
        if (current.metadata.resourceVersion !== object.metadata.resourceVersion) {
          throw new KubeApiError('E_KUBE_CONFLICT', `${key} was modified`, 409);
        }
        return this.store(key, object) as unknown as T;
      },
    };
  }

  lease(name = 'vireo-leader-election'): Lease | undefined {
    return this.leases.get(`vireo-system/${name}`);
  }

  put(spec: Lease['spec'], name = 'vireo-leader-election'): void {
    this.store(`vireo-system/${name}`, { metadata: { name, namespace: 'vireo-system' }, spec });
  }

  private store(key: string, object: KubeObject): Lease {
    const spec = (object as Lease).spec ?? {};
    for (const field of ['acquireTime', 'renewTime'] as const) {
      const value = spec[field];
      if (value !== undefined && !MICRO_TIME.test(value)) {
        throw new KubeApiError('E_KUBE_INVALID', `spec.${field}: ${value} is not a MicroTime`, 422);
      }
    }
    this.writes++;
    this.version++;
    const stored = structuredClone({
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(this.version) },
    }) as Lease;
    this.leases.set(key, stored);
    return structuredClone(stored);
  }
}

const elector = (
  server: FakeLeaseServer,
  clock: ManualClock,
  identity: string,
  options: Partial<LeaderElectorOptions> = {},
): LeaderElector =>
  new LeaderElector({
    client: server.clientFor(identity),
    namespace: 'vireo-system',
    identity,
    clock,
    random: () => 0,
    ...options,
  });

const recorder = () => {
  const events: string[] = [];
  let signal: AbortSignal | undefined;
  return {
    events,
    signal: () => signal,
    callbacks: {
      onStartedLeading: (leading: AbortSignal) => {
        signal = leading;
        events.push('started');
      },
      onStoppedLeading: () => {
        events.push('stopped');
      },
      onNewLeader: (identity: string) => {
        events.push(`leader:${identity}`);
      },
    },
  };
};

describe('microTime', () => {
  it('writes six fractional digits, which Date#toISOString does not', () => {
    const date = new Date('2026-11-23T10:00:00.123Z');
    expect(date.toISOString()).toBe('2026-11-23T10:00:00.123Z');
    expect(microTime(date)).toBe('2026-11-23T10:00:00.123000Z');
    expect(microTime(new Date(0))).toBe('1970-01-01T00:00:00.000000Z');
    expect(microTime(new Date('2026-01-02T03:04:05.007+02:00'))).toBe('2026-01-02T01:04:05.007000Z');
  });

  it('refuses dates it cannot write', () => {
    expect(() => microTime(new Date(Number.NaN))).toThrow(
      expect.objectContaining({ code: 'E_LEADER_ELECTION_STATE' }),
    );
    expect(() => microTime(new Date('+010000-01-01T00:00:00Z'))).toThrow(/0000–9999/);
  });

  it('reads back what it writes and what the API server returns', () => {
    const date = new Date('2026-11-23T10:00:00.123Z');
    expect(parseMicroTime(microTime(date))).toBe(date.getTime());
    expect(parseMicroTime('2026-11-23T10:00:00.123456Z')).toBe(date.getTime());
    expect(parseMicroTime(undefined)).toBeUndefined();
    expect(parseMicroTime('')).toBeUndefined();
    expect(parseMicroTime('yesterday')).toBeUndefined();
  });
});

describe('LeaderElector options', () => {
  it("defaults to Flagger's timings, the Vireo lease name and a unique hostname_uuid identity", () => {
    const server = new FakeLeaseServer();
    const one = new LeaderElector({ client: server.clientFor('x'), namespace: 'vireo-system' });
    const two = new LeaderElector({ client: server.clientFor('x'), namespace: 'vireo-system' });
    expect(one.name).toBe('vireo-leader-election');
    expect([one.leaseDurationMs, one.renewDeadlineMs, one.retryPeriodMs]).toEqual([60_000, 15_000, 5_000]);
    expect(one.identity.startsWith(`${hostname()}_`)).toBe(true);
    expect(one.identity).not.toBe(two.identity);
  });

  it("refuses timings where a rival could take over while the leader still acts (client-go's checks)", () => {
    const server = new FakeLeaseServer();
    const make = (leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number) => () =>
      new LeaderElector({
        client: server.clientFor('x'),
        namespace: 'ns',
        leaseDurationMs,
        renewDeadlineMs,
        retryPeriodMs,
      });
    const configError = expect.objectContaining({ code: 'E_LEADER_ELECTION_CONFIG' });
    expect(make(15_000, 15_000, 5_000)).toThrow(configError);
    expect(make(60_000, 6_000, 5_000)).toThrow(configError);
    expect(make(500, 400, 100)).toThrow(/at least 1000/);
    expect(make(60_000, 15_000, 0)).toThrow(configError);
    expect(make(3_000, 2_000, 500)).not.toThrow();
  });

  it('accepts a pino logger', () => {
    const logger: LeaderElectionLogger = pino({ level: 'silent' });
    expect(logger).toBeDefined();
  });
});

describe('LeaderElector.tryAcquireOrRenew', () => {
  it('creates the Lease when there is none, with MicroTime stamps and no transitions', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const result = await elector(server, clock, 'a').tryAcquireOrRenew();
    expect(result).toEqual({ outcome: 'held', transition: true });
    expect(server.lease()?.spec).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 60,
      acquireTime: '2026-11-23T10:00:00.000000Z',
      renewTime: '2026-11-23T10:00:00.000000Z',
      leaseTransitions: 0,
    });
  });

  it('leaves a valid Lease of another holder alone', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({
      holderIdentity: 'other',
      leaseDurationSeconds: 60,
      renewTime: microTime(new Date(START - 59_000)),
      leaseTransitions: 3,
    });
    const writes = server.writes;
    expect(await elector(server, clock, 'a').tryAcquireOrRenew()).toEqual({
      outcome: 'other',
      holder: 'other',
    });
    expect(server.writes).toBe(writes);
  });

  it('takes over once renewTime + leaseDurationSeconds has passed, counting the transition', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({
      holderIdentity: 'other',
      leaseDurationSeconds: 60,
      acquireTime: microTime(new Date(START - 3_600_000)),
      renewTime: microTime(new Date(START - 60_000)),
      leaseTransitions: 3,
    });
    expect(await elector(server, clock, 'a').tryAcquireOrRenew()).toEqual({
      outcome: 'held',
      transition: true,
    });
    expect(server.lease()?.spec).toMatchObject({
      holderIdentity: 'a',
      acquireTime: microTime(clock.now()),
      renewTime: microTime(clock.now()),
      leaseTransitions: 4,
    });
  });

  it("uses the holder's leaseDurationSeconds, not its own, to judge expiry", async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({
      holderIdentity: 'other',
      leaseDurationSeconds: 120,
      renewTime: microTime(new Date(START - 90_000)),
    });
    expect((await elector(server, clock, 'a').tryAcquireOrRenew()).outcome).toBe('other');
  });

  it('takes a released Lease (holderIdentity "") at once', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: microTime(clock.now()),
      leaseTransitions: 2,
    });
    expect(await elector(server, clock, 'a').tryAcquireOrRenew()).toEqual({
      outcome: 'held',
      transition: true,
    });
    expect(server.lease()?.spec?.leaseTransitions).toBe(3);
  });

  it('renews its own Lease keeping acquireTime and leaseTransitions', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a');
    await a.tryAcquireOrRenew();
    await clock.advance(5_000);
    expect(await a.tryAcquireOrRenew()).toEqual({ outcome: 'held', transition: false });
    expect(server.lease()?.spec).toMatchObject({
      acquireTime: '2026-11-23T10:00:00.000000Z',
      renewTime: '2026-11-23T10:00:05.000000Z',
      leaseTransitions: 0,
    });
  });

  it('does not take over a Lease it sees being renewed, even when a fast clock says it expired', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a');
    const b = elector(server, clock, 'b');
    await a.tryAcquireOrRenew();
    expect((await b.tryAcquireOrRenew()).outcome).toBe('other');
    await clock.advance(5_000);
    await a.tryAcquireOrRenew();
    clock.skewMs = 120_000; // b's wall clock now runs two minutes ahead of a's stamps
    expect((await b.tryAcquireOrRenew()).outcome).toBe('other');
    await clock.advance(59_000);
    expect((await b.tryAcquireOrRenew()).outcome).toBe('other');
    await clock.advance(1_000); // a lease duration without a write that b saw
    expect((await b.tryAcquireOrRenew()).outcome).toBe('held');
  });

  it('lets exactly one of two candidates win an expired Lease (resourceVersion precondition)', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({
      holderIdentity: 'gone',
      leaseDurationSeconds: 60,
      renewTime: microTime(new Date(START - 61_000)),
    });
    const results = await Promise.all([
      elector(server, clock, 'a').tryAcquireOrRenew(),
      elector(server, clock, 'b').tryAcquireOrRenew(),
    ]);
    expect(results.filter((result) => result.outcome === 'held')).toHaveLength(1);
    expect(results.filter((result) => result.outcome === 'other')).toHaveLength(1);
    expect(server.lease()?.spec?.leaseTransitions).toBe(1);
  });

  it('lets exactly one of two candidates create the Lease', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const results = await Promise.all([
      elector(server, clock, 'a').tryAcquireOrRenew(),
      elector(server, clock, 'b').tryAcquireOrRenew(),
    ]);
    expect(results.map((result) => result.outcome).sort()).toEqual(['held', 'other']);
  });

  it('passes API failures to the caller as KubeApiError', async () => {
    const server = new FakeLeaseServer();
    server.failing.add('a');
    await expect(elector(server, new ManualClock(), 'a').tryAcquireOrRenew()).rejects.toMatchObject({
      code: 'E_KUBE_TRANSPORT',
    });
  });
});

describe('LeaderElector.run', () => {
  const timings = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

  it('leads, reports the leader, and renews every retry period', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    const seen = recorder();
    void a.run(seen.callbacks);
    await clock.advance(0);
    expect(seen.events).toEqual(['leader:a', 'started']);
    expect(a.isLeader).toBe(true);
    await clock.advance(1_000);
    expect(server.lease()?.spec?.renewTime).toBe('2026-11-23T10:00:01.000000Z');
    expect(() => a.run(seen.callbacks)).toThrow(expect.objectContaining({ code: 'E_LEADER_ELECTION_STATE' }));
    expect(await a.release()).toBe(true);
  });

  it('waits as a follower, then takes over once the leader stops renewing and its lease expires', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    const b = elector(server, clock, 'b', timings);
    const seenA = recorder();
    const seenB = recorder();
    const runA = a.run(seenA.callbacks);
    await clock.advance(0);
    void b.run(seenB.callbacks);
    await clock.advance(5_000);
    expect(seenB.events).toEqual(['leader:a']);

    server.failing.add('a');
    const failedAt = clock.elapsed;
    let stoppedAt: number | undefined;
    void runA.then(() => (stoppedAt = clock.elapsed));
    await clock.advance(2_000);
    expect(seenA.events).toEqual(['leader:a', 'started', 'stopped']);
    expect(seenA.signal()?.aborted).toBe(true);
    expect(a.isLeader).toBe(false);
    expect(stoppedAt).toBeDefined();
    expect(stoppedAt! - failedAt).toBeLessThanOrEqual(timings.renewDeadlineMs);
    expect(seenB.events).not.toContain('started');

    await clock.advance(3_000);
    expect(seenB.events).toEqual(['leader:a', 'leader:b', 'started']);
    expect(server.lease()?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.release();
  });

  it('gives up at the renew deadline when a renewal hangs', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    const seen = recorder();
    const running = a.run(seen.callbacks);
    await clock.advance(1_000);
    server.hanging.add('a');
    const hungAt = clock.elapsed;
    let stoppedAt: number | undefined;
    void running.then(() => (stoppedAt = clock.elapsed));
    await clock.advance(3_000);
    expect(seen.events).toContain('stopped');
    expect(stoppedAt! - hungAt).toBeLessThanOrEqual(timings.renewDeadlineMs);
  });

  it('steps down at once when it finds another holder in the Lease', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    const seen = recorder();
    void a.run(seen.callbacks);
    await clock.advance(0);
    const lease = server.lease()!;
    server.put({ ...lease.spec, holderIdentity: 'usurper' });
    await clock.advance(500);
    expect(seen.events).toEqual(['leader:a', 'started', 'leader:usurper', 'stopped']);
  });

  it('release() stops the work, clears the holder so a follower takes over at once, and is not a loss', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    const b = elector(server, clock, 'b', timings);
    const seenA = recorder();
    const seenB = recorder();
    void a.run(seenA.callbacks);
    await clock.advance(0);
    void b.run(seenB.callbacks);
    await clock.advance(1_000);

    const releasing = a.release();
    await clock.advance(0);
    expect(await releasing).toBe(true);
    expect(seenA.signal()?.aborted).toBe(true);
    expect(seenA.events).not.toContain('stopped');
    expect(server.lease()?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });

    // b's next attempt comes after one retry period, well before a's lease would have expired.
    await clock.advance(timings.retryPeriodMs);
    expect(seenB.events).toContain('started');
    expect(server.lease()?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.release();
  });

  it('release() waits for the work to wind down before clearing the Lease, but not forever', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const a = elector(server, clock, 'a', timings);
    void a.run({
      onStartedLeading: () => new Promise<void>(() => undefined), // ignores its signal
      onStoppedLeading: () => undefined,
    });
    await clock.advance(0);
    const releasing = a.release();
    await clock.advance(timings.renewDeadlineMs - 1);
    expect(server.lease()?.spec?.holderIdentity).toBe('a');
    await clock.advance(1);
    expect(await releasing).toBe(true);
  });

  it('release() of a follower writes nothing and resolves false', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    server.put({ holderIdentity: 'other', leaseDurationSeconds: 60, renewTime: microTime(clock.now()) });
    const a = elector(server, clock, 'a', timings);
    const seen = recorder();
    const running = a.run(seen.callbacks);
    await clock.advance(2_000);
    const writes = server.writes;
    expect(await a.release()).toBe(false);
    await running;
    expect(server.writes).toBe(writes);
    expect(server.lease()?.spec?.holderIdentity).toBe('other');
    expect(seen.events).toEqual(['leader:other']);
    expect(await elector(server, clock, 'c').release()).toBe(false);
  });

  it('keeps campaigning through API errors', async () => {
    const server = new FakeLeaseServer();
    const clock = new ManualClock();
    const warnings: string[] = [];
    const logger: LeaderElectionLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (_fields, message) => warnings.push(message),
      error: () => undefined,
    };
    server.failing.add('a');
    const a = elector(server, clock, 'a', { ...timings, logger });
    const seen = recorder();
    void a.run(seen.callbacks);
    await clock.advance(2_000);
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings[0]).toBe('failed to acquire the lease');
    server.failing.delete('a');
    await clock.advance(500);
    expect(seen.events).toContain('started');
    await a.release();
  });
});
