/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules and Flagger's
 * timings (lease 60 s, renew deadline 15 s, retry 5 s): client-node has no elector of its own
 * (engineering notes §2.5), and a second replica must never drive canaries at the same time.
 *
 * Safety comes from the API server, not from clocks: every write is a PUT carrying the
 * `metadata.resourceVersion` just read, so when two candidates race for the same Lease one of
 * them gets 409 and stays a follower. Clocks only decide *when* a candidate may try to take over
 * (the holder's `renewTime + leaseDurationSeconds` has passed, and we have not seen it write for
 * a lease duration), and the leader gives up after `renewDeadline` without a successful renewal,
 * which is well before anyone may take over.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { VireoError } from '../../shared/errors.js';
import type { LogWriter } from '../../shared/logger.js';
import { createSystemClock, type Clock } from '../../shared/clock.js';
import type { KubeClient, KubeObject } from './client.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import { RESOURCES } from './resources.js';

export const DEFAULT_LEASE_NAME = 'vireo-leader-election';
/** Flagger's (and client-go's usual) timings. */
export const DEFAULT_LEASE_DURATION_MS = 60_000;
export const DEFAULT_RENEW_DEADLINE_MS = 15_000;
export const DEFAULT_RETRY_PERIOD_MS = 5_000;
/** client-go's `JitterFactor`: acquire attempts wait between 1× and 2.2× the retry period. */
const JITTER_FACTOR = 1.2;

export class LeaderElectionConfigError extends VireoError {
  constructor(message: string) {
    super('E_LEADER_ELECTION_CONFIG', message);
  }
}

export class LeaderElectionStateError extends VireoError {
  constructor(message: string) {
    super('E_LEADER_ELECTION_STATE', message);
  }
}

/** What the elector needs of the client; a narrow type so tests can pass an in-memory fake. */
export type LeaseClient = Pick<KubeClient, 'get' | 'create' | 'replace'>;

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with six fractional digits. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** Wall-clock `now` for the Lease's MicroTime fields; `monotonic` for our own deadlines. */
export type LeaderElectionClock = Pick<Clock, 'now' | 'monotonic' | 'sleep'>;

export type LeaderElectionLogger = LogWriter;

export interface LeaderElectorOptions {
  readonly client: LeaseClient;
  readonly namespace: string;
  /** Lease name (default "vireo-leader-election"). */
  readonly name?: string;
  /** Unique per process (default `<hostname>_<uuid>`): a restarted pod must not pass for its predecessor. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock?: LeaderElectionClock;
  readonly logger?: LeaderElectionLogger;
  /** Random numbers in [0, 1) for the acquire jitter (default Math.random). */
  readonly random?: () => number;
}

export interface LeaderCallbacks {
  /** Starts the controller's work; `signal` aborts when leadership ends. Not awaited. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /**
   * Leadership was lost (no renewal within the renew deadline, or the Lease changed hands), after
   * the signal was aborted: exit, as Flagger does. Not called by release(), which is a shutdown.
   */
  onStoppedLeading(): void;
  /** A different holder was observed (including ourselves). */
  onNewLeader?(identity: string): void;
}

/** The outcome of one acquire-or-renew attempt. */
export type AttemptResult =
  /** We hold the Lease now (created, taken over, or renewed). */
  | { readonly outcome: 'held'; readonly transition: boolean }
  /** Someone else holds a valid Lease, or won the race for it (409 / AlreadyExists). */
  | { readonly outcome: 'other'; readonly holder: string };

/** Formats a Kubernetes MicroTime: RFC 3339 UTC with exactly six fractional digits. */
export function microTime(date: Date): string {
  const millis = date.getTime();
  if (!Number.isFinite(millis)) {
    throw new LeaderElectionStateError('cannot format an invalid date as a Lease MicroTime');
  }
  // toISOString gives milliseconds ("…00.123Z"), which the API server rejects for MicroTime
  // fields (client-node#828); Date has no finer precision, so the microseconds are zero.
  const iso = new Date(millis).toISOString();
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{3})Z$/.exec(iso);
  if (match === null) {
    throw new LeaderElectionStateError(`cannot format ${iso} as a Lease MicroTime (year outside 0000–9999)`);
  }
  return `${match[1]}.${match[2]}000Z`;
}

/** Milliseconds since the epoch of a MicroTime/RFC 3339 string; undefined when absent or unreadable. */
export function parseMicroTime(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const millis = Date.parse(value);
  return Number.isNaN(millis) ? undefined : millis;
}

export const systemLeaderElectionClock = (): LeaderElectionClock => createSystemClock();

const silentLogger: LeaderElectionLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly client: LeaseClient;
  private readonly clock: LeaderElectionClock;
  private readonly logger: LeaderElectionLogger;
  private readonly random: () => number;
  private readonly leaseDurationSeconds: number;

  /** The resourceVersion we last saw, and when (monotonic) it first appeared. */
  private observedVersion: string | undefined;
  private observedAt = 0;
  /** Whether `observedAt` is a write we saw happen (not just our first look at the Lease). */
  private observedChange = false;
  private reportedLeader: string | undefined;
  private callbacks: LeaderCallbacks | undefined;

  private stopping: AbortController | undefined;
  private running: Promise<void> | undefined;
  private leading = false;
  private released = false;

  constructor(options: LeaderElectorOptions) {
    this.client = options.client;
    this.namespace = options.namespace;
    this.name = options.name ?? DEFAULT_LEASE_NAME;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.clock = options.clock ?? systemLeaderElectionClock();
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? (() => Math.random());
    validateTimings(this.leaseDurationMs, this.renewDeadlineMs, this.retryPeriodMs);
    if (this.identity === '')
      throw new LeaderElectionConfigError('leader election identity must not be empty');
    if (this.namespace === '')
      throw new LeaderElectionConfigError('leader election namespace must not be empty');
    this.leaseDurationSeconds = Math.ceil(this.leaseDurationMs / 1000);
  }

  /** Whether this elector currently believes it leads. */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until elected and leads until renewal fails (then calls onStoppedLeading) or
   * release() is called; resolves when either is done, and never rejects (API errors are logged
   * and retried). One run per elector: a second call throws E_LEADER_ELECTION_STATE.
   */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.stopping !== undefined) {
      throw new LeaderElectionStateError(`leader elector ${this.identity} has already been started`);
    }
    const stopping = new AbortController();
    this.stopping = stopping;
    this.callbacks = callbacks;
    this.running = this.loop(callbacks, stopping.signal);
    return this.running;
  }

  /**
   * Stops campaigning or leading. If we lead, aborts the leadership signal, waits (at most the
   * renew deadline) for onStartedLeading's promise, then clears holderIdentity so a successor
   * can take over at once instead of waiting for the lease to expire. Resolves true when the
   * Lease was released; onStoppedLeading is not called (it means "lost", and callers exit on it).
   */
  async release(): Promise<boolean> {
    if (this.stopping === undefined) return false;
    this.stopping.abort();
    await this.running;
    return this.released;
  }

  /**
   * One acquire-or-renew step (client-go's tryAcquireOrRenew): create the Lease if absent; take
   * it over if free or expired; renew it if ours. Throws KubeApiError on API failures.
   */
  async tryAcquireOrRenew(): Promise<AttemptResult> {
    const now = this.clock.now();
    const stamp = microTime(now);
    const existing = await this.client.get<Lease>(RESOURCES.leases, this.namespace, this.name);
    if (existing === undefined) {
      try {
        const created = await this.client.create<Lease>(RESOURCES.leases, {
          metadata: { name: this.name, namespace: this.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: this.leaseDurationSeconds,
            acquireTime: stamp,
            renewTime: stamp,
            leaseTransitions: 0,
          },
        });
        this.observe(created);
        return { outcome: 'held', transition: true };
      } catch (error) {
        // Another candidate created it between our read and our write: it won this round.
        if (isAlreadyExists(error)) return { outcome: 'other', holder: '' };
        throw error;
      }
    }

    this.observe(existing);
    const spec = existing.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const ours = holder === this.identity;
    // A leader that finds someone else in the Lease has been displaced, expired record or not:
    // taking it back could leave two processes acting as leader.
    if (!ours && holder !== '' && (this.leading || this.isValid(spec, now))) {
      return { outcome: 'other', holder };
    }

    const next: Lease = {
      ...existing,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        // A renewal keeps the acquire time and the transition count; a change of holder moves both.
        acquireTime: ours ? (spec.acquireTime ?? stamp) : stamp,
        renewTime: stamp,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
    try {
      const written = await this.client.replace<Lease>(RESOURCES.leases, next);
      this.observe(written);
      return { outcome: 'held', transition: !ours };
    } catch (error) {
      // The resourceVersion precondition failed: someone wrote since our read (a rival's
      // takeover, or the holder's renewal). Not ours this round; the next read tells who.
      if (isConflict(error)) return { outcome: 'other', holder };
      // Deleted between read and write: the next round creates it.
      if (isNotFound(error)) return { outcome: 'other', holder: '' };
      throw error;
    }
  }

  private async loop(callbacks: LeaderCallbacks, stop: AbortSignal): Promise<void> {
    const fields = { lease: `${this.namespace}/${this.name}`, identity: this.identity };
    this.logger.info(fields, 'attempting to acquire leader lease');

    // Campaign: one attempt at once, then every retry period with jitter so candidates that
    // started together do not keep colliding.
    let attemptStart: number;
    for (;;) {
      if (stop.aborted) return;
      attemptStart = this.clock.monotonic();
      const result = await this.attempt(stop, undefined);
      if (result === 'stopped') return;
      if (typeof result === 'object' && result.outcome === 'held') break;
      const wait = this.retryPeriodMs * (1 + JITTER_FACTOR * this.random());
      await this.clock.sleep(wait, stop);
    }

    this.leading = true;
    const leadership = new AbortController();
    this.logger.info(fields, 'successfully acquired lease; started leading');
    const started = Promise.resolve()
      .then(() => callbacks.onStartedLeading(leadership.signal))
      .catch((error: unknown) => {
        this.logger.error({ ...fields, err: errorMessage(error) }, 'onStartedLeading failed');
      });

    // Lead: renew every retry period. The deadline runs from the start of the last successful
    // attempt, because that is the renewTime the others see.
    let lastRenewed = attemptStart;
    let reason: 'lost' | 'released';
    for (;;) {
      await this.clock.sleep(this.retryPeriodMs, stop);
      if (stop.aborted) {
        reason = 'released';
        break;
      }
      const start = this.clock.monotonic();
      const remaining = lastRenewed + this.renewDeadlineMs - start;
      if (remaining <= 0) {
        reason = 'lost';
        this.logger.error(
          fields,
          `failed to renew the lease within ${this.renewDeadlineMs} ms; leadership lost`,
        );
        break;
      }
      const result = await this.attempt(stop, remaining);
      if (result === 'stopped') {
        reason = 'released';
        break;
      }
      if (result === 'deadline') {
        reason = 'lost';
        this.logger.error(
          fields,
          `lease renewal did not finish within ${this.renewDeadlineMs} ms; leadership lost`,
        );
        break;
      }
      if (result === undefined) continue; // failed; logged; retried until the deadline
      if (result.outcome === 'held') {
        lastRenewed = start;
        continue;
      }
      if (result.holder !== '' && result.holder !== this.identity) {
        reason = 'lost';
        this.logger.error({ ...fields, holder: result.holder }, 'the lease changed hands; leadership lost');
        break;
      }
      // A conflict with our own earlier write (a slow renewal that landed late): retry.
    }

    this.leading = false;
    leadership.abort();
    if (reason === 'released') {
      // Let the work notice the abort before a successor may start, but never wait forever.
      const settle = new AbortController();
      await Promise.race([started, this.clock.sleep(this.renewDeadlineMs, settle.signal)]);
      settle.abort();
      this.released = await this.releaseLease(fields);
    }
    this.logger.info({ ...fields, reason }, 'stopped leading');
    if (reason === 'released') return;
    try {
      callbacks.onStoppedLeading();
    } catch (error) {
      this.logger.error({ ...fields, err: errorMessage(error) }, 'onStoppedLeading failed');
    }
  }

  /**
   * One attempt, raced against shutdown and (when leading) the time left before the renew
   * deadline: the client's own timeout is longer than the deadline, and a renewal that hangs
   * must still end leadership in time. Errors are logged and give undefined.
   */
  private async attempt(
    stop: AbortSignal,
    remainingMs: number | undefined,
  ): Promise<AttemptResult | 'stopped' | 'deadline' | undefined> {
    const cancel = new AbortController();
    const abortOnStop = (): void => cancel.abort();
    stop.addEventListener('abort', abortOnStop, { once: true });
    const racers: Promise<AttemptResult | 'stopped' | 'deadline' | undefined>[] = [
      this.tryAcquireOrRenew().catch((error: unknown) => {
        this.logger.warn(
          { lease: `${this.namespace}/${this.name}`, identity: this.identity, err: errorMessage(error) },
          this.leading ? 'failed to renew the lease' : 'failed to acquire the lease',
        );
        return undefined;
      }),
      new Promise<'stopped'>((resolve) => {
        if (stop.aborted) resolve('stopped');
        cancel.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
      }),
    ];
    if (remainingMs !== undefined) {
      racers.push(this.clock.sleep(remainingMs, cancel.signal).then(() => 'deadline' as const));
    }
    try {
      const result = await Promise.race(racers);
      // A deadline that fired at the same moment shutdown was asked for is a shutdown.
      return result === 'deadline' && stop.aborted ? 'stopped' : result;
    } finally {
      stop.removeEventListener('abort', abortOnStop);
      cancel.abort();
    }
  }

  /**
   * Clears holderIdentity (client-go's release: leaseDurationSeconds 1, times now) when the Lease
   * is still ours. The resourceVersion precondition stops us from clearing a successor's Lease;
   * a conflict with our own late renewal is retried once.
   */
  private async releaseLease(fields: object): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const lease = await this.client.get<Lease>(RESOURCES.leases, this.namespace, this.name);
        if (lease === undefined || (lease.spec?.holderIdentity ?? '') !== this.identity) return false;
        const stamp = microTime(this.clock.now());
        await this.client.replace<Lease>(RESOURCES.leases, {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: stamp,
            renewTime: stamp,
          },
        });
        this.logger.info(fields, 'released the leader lease');
        return true;
      } catch (error) {
        if (isConflict(error)) continue;
        this.logger.warn({ ...fields, err: errorMessage(error) }, 'failed to release the leader lease');
        return false;
      }
    }
    return false;
  }

  /** Records the Lease as read or written, and reports a change of holder. */
  private observe(lease: Lease): void {
    const version = lease.metadata.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedChange = this.observedVersion !== undefined;
      this.observedVersion = version;
      this.observedAt = this.clock.monotonic();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      this.logger.info({ lease: `${this.namespace}/${this.name}`, holder }, 'new leader observed');
      try {
        this.callbacks?.onNewLeader?.(holder);
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'onNewLeader failed');
      }
    }
  }

  /**
   * Whether another holder's Lease is still valid. By the record: renewTime plus the holder's
   * leaseDurationSeconds is in the future by our wall clock. By observation (client-go's rule,
   * which tolerates clock skew): we saw the Lease change less than a lease duration ago, or it
   * has no readable renewTime and we first saw it less than a lease duration ago.
   */
  private isValid(spec: LeaseSpec, now: Date): boolean {
    const durationMs =
      spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds > 0
        ? spec.leaseDurationSeconds * 1000
        : this.leaseDurationMs;
    const renewed = parseMicroTime(spec.renewTime) ?? parseMicroTime(spec.acquireTime);
    if (renewed !== undefined && renewed + durationMs > now.getTime()) return true;
    const sinceObserved = this.clock.monotonic() - this.observedAt;
    if (this.observedChange && sinceObserved < durationMs) return true;
    return renewed === undefined && sinceObserved < durationMs;
  }
}

/** client-go's checks: the leader must give up well before anyone may take over. */
function validateTimings(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  for (const [name, value] of [
    ['leaseDurationMs', leaseDurationMs],
    ['renewDeadlineMs', renewDeadlineMs],
    ['retryPeriodMs', retryPeriodMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new LeaderElectionConfigError(`${name} must be a positive number of milliseconds, got ${value}`);
    }
  }
  if (leaseDurationMs < 1000) {
    throw new LeaderElectionConfigError(
      `leaseDurationMs must be at least 1000 (the Lease stores whole seconds), got ${leaseDurationMs}`,
    );
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new LeaderElectionConfigError(
      `leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs}), or a rival could take over while the leader still acts`,
    );
  }
  if (renewDeadlineMs <= JITTER_FACTOR * retryPeriodMs) {
    throw new LeaderElectionConfigError(
      `renewDeadlineMs (${renewDeadlineMs}) must be greater than ${JITTER_FACTOR} × retryPeriodMs (${retryPeriodMs}), or the leader gets too few renewal attempts`,
    );
  }
}
