/**
 * Leader election on a real kube-apiserver: one leader among candidates, MicroTime stamps the API
 * accepts, stepping down within the renew deadline when renewals fail, takeover after expiry, and
 * immediate takeover after release(). Short timings (lease 3 s, renew 2 s, retry 0.5 s).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { KubeApiError } from '../../src/platforms/kubernetes/errors.js';
import {
  LeaderElector,
  type Lease,
  type LeaseClient,
} from '../../src/platforms/kubernetes/leader-election.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { eventually, startKubeTest, type KubeTest } from '../support/kube.js';

const NAMESPACE = 'leader';
const TIMINGS = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

let client: KubeClient;
let kube: KubeTest;
const electors: LeaderElector[] = [];

beforeAll(async () => {
  kube = await startKubeTest({ crds: false, namespaces: [NAMESPACE] });
  client = kube.client;
}, 180_000);

afterEach(async () => {
  await Promise.all(electors.splice(0).map((elector) => elector.release()));
});

afterAll(async () => {
  await kube?.stop();
}, 60_000);

/** A client whose requests can be made to fail, as when the leader is cut off from the API server. */
function breakableClient(): LeaseClient & { broken: boolean } {
  const fail = (): Promise<never> =>
    Promise.reject(new KubeApiError('E_KUBE_TRANSPORT', 'connection refused (injected)', 0));
  const wrapped: LeaseClient & { broken: boolean } = {
    broken: false,
    get: (...args: Parameters<KubeClient['get']>) => (wrapped.broken ? fail() : client.get(...args)),
    create: ((...args: Parameters<KubeClient['create']>) =>
      wrapped.broken ? fail() : client.create(...args)) as KubeClient['create'],
    replace: ((...args: Parameters<KubeClient['replace']>) =>
      wrapped.broken ? fail() : client.replace(...args)) as KubeClient['replace'],
  };
  return wrapped;
}

interface Candidate {
  readonly elector: LeaderElector;
  readonly client: LeaseClient & { broken: boolean };
  startedAt?: number;
  stoppedAt?: number;
  signal?: AbortSignal;
  readonly leaders: string[];
}

function candidate(lease: string, identity: string): Candidate {
  const wrapped = breakableClient();
  const elector = new LeaderElector({
    client: wrapped,
    namespace: NAMESPACE,
    name: lease,
    identity,
    ...TIMINGS,
  });
  electors.push(elector);
  const state: Candidate = { elector, client: wrapped, leaders: [] };
  void elector.run({
    onStartedLeading: (signal) => {
      state.startedAt = Date.now();
      state.signal = signal;
    },
    onStoppedLeading: () => {
      state.stoppedAt = Date.now();
    },
    onNewLeader: (leader) => state.leaders.push(leader),
  });
  return state;
}

const readLease = (name: string): Promise<Lease | undefined> =>
  client.get<Lease>(RESOURCES.leases, NAMESPACE, name);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('LeaderElector on a real API server', () => {
  it('elects exactly one of two candidates and stores six-digit MicroTime stamps', async () => {
    const a = candidate('one-leader', 'candidate-a');
    const b = candidate('one-leader', 'candidate-b');
    await eventually(
      () => Promise.resolve([a.elector.isLeader, b.elector.isLeader]),
      (leading) => leading.some(Boolean),
      10_000,
      'a leader',
    );
    // Over several renew periods, never both and never neither.
    for (let i = 0; i < 10; i++) {
      expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
      await sleep(200);
    }
    const leader = a.elector.isLeader ? a : b;
    const follower = leader === a ? b : a;
    expect(follower.startedAt).toBeUndefined();
    expect(follower.leaders).toEqual([leader.elector.identity]);

    const lease = await readLease('one-leader');
    expect(lease?.spec?.holderIdentity).toBe(leader.elector.identity);
    expect(lease?.spec?.leaseDurationSeconds).toBe(3);
    expect(lease?.spec?.leaseTransitions).toBe(0);
    expect(lease?.spec?.renewTime).toMatch(MICRO_TIME);
    expect(lease?.spec?.acquireTime).toMatch(MICRO_TIME);
    // Renewed: the renew time moves while the acquire time stays.
    const renewed = await eventually(
      () => readLease('one-leader'),
      (next) => next?.spec?.renewTime !== lease?.spec?.renewTime,
      5_000,
      'a renewal',
    );
    expect(renewed?.spec?.acquireTime).toBe(lease?.spec?.acquireTime);
  });

  it("refuses Date#toISOString()'s three fractional digits, which is why microTime exists", async () => {
    const attempt = client.create<Lease>(RESOURCES.leases, {
      metadata: { name: 'three-digits', namespace: NAMESPACE },
      spec: { holderIdentity: 'x', leaseDurationSeconds: 3, renewTime: new Date().toISOString() },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'E_KUBE_INVALID' });
  });

  it('steps down within the renew deadline when renewals fail, and the other takes over after expiry', async () => {
    const a = candidate('failover', 'leader-a');
    await eventually(() => Promise.resolve(a.elector.isLeader), Boolean, 10_000, 'a leading');
    const b = candidate('failover', 'follower-b');
    await eventually(
      () => Promise.resolve(b.leaders),
      (leaders) => leaders.includes('leader-a'),
      5_000,
      'b sees a',
    );

    const lastRenewal = await readLease('failover');
    a.client.broken = true;
    const brokenAt = Date.now();
    await eventually(
      () => Promise.resolve(a.stoppedAt),
      (at) => at !== undefined,
      5_000,
      'a stepping down',
    );
    expect(a.stoppedAt! - brokenAt).toBeLessThanOrEqual(TIMINGS.renewDeadlineMs + 100);
    expect(a.signal?.aborted).toBe(true);
    expect(a.elector.isLeader).toBe(false);

    await eventually(
      () => Promise.resolve(b.startedAt),
      (at) => at !== undefined,
      10_000,
      'b taking over',
    );
    // Not before a's last renewal expired (a renewal may have landed just before the break).
    const renewed = Date.parse(lastRenewal!.spec!.renewTime!);
    expect(b.startedAt! - renewed).toBeGreaterThanOrEqual(TIMINGS.leaseDurationMs);
    expect(b.startedAt!).toBeGreaterThan(a.stoppedAt!);
    const lease = await readLease('failover');
    expect(lease?.spec).toMatchObject({ holderIdentity: 'follower-b', leaseTransitions: 1 });
    expect(lease?.spec?.renewTime).toMatch(MICRO_TIME);
  });

  it('release() hands over at once instead of after the lease duration', async () => {
    const a = candidate('handover', 'leaving-a');
    await eventually(() => Promise.resolve(a.elector.isLeader), Boolean, 10_000, 'a leading');
    const b = candidate('handover', 'waiting-b');
    await eventually(
      () => Promise.resolve(b.leaders),
      (leaders) => leaders.includes('leaving-a'),
      5_000,
      'b sees a',
    );

    const releasedAt = Date.now();
    expect(await a.elector.release()).toBe(true);
    expect(a.signal?.aborted).toBe(true);
    expect(a.stoppedAt).toBeUndefined(); // a shutdown, not a loss
    await eventually(
      () => Promise.resolve(b.startedAt),
      (at) => at !== undefined,
      5_000,
      'b taking over',
    );
    // Within one jittered retry period (at most 2.2 × 0.5 s), well before a 3 s lease could expire.
    expect(b.startedAt! - releasedAt).toBeLessThan(TIMINGS.leaseDurationMs - 500);
    const lease = await readLease('handover');
    expect(lease?.spec).toMatchObject({ holderIdentity: 'waiting-b', leaseTransitions: 1 });
  });
});
