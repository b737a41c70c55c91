/**
 * The process supervisor of local mode: a workload is a set of processes (replicas), each on its
 * own port, that the supervisor starts, probes for readiness, restarts on crash with exponential
 * backoff, rolls to a new spec without losing availability, and stops with their whole process
 * group. It plays the part the Deployment controller and the kubelet play on Kubernetes.
 *
 * Each set ("podinfo", "podinfo-primary") is reconciled by serialised passes: `apply`, a replica
 * becoming ready, a replica exiting each queue a pass, and a pass compares the replicas with the
 * desired spec and acts. Passes are idempotent, so the same spec applied again changes nothing.
 *
 * Rolling update, free ports (the default): start the new replica i on a fresh port, wait until it
 * is ready, retire the old replica i, then the next index: the set never has fewer ready replicas
 * than before (maxSurge 1, maxUnavailable 0). Fixed base port: the new replica i needs the old
 * one's port, so the old one is stopped first, one index at a time (maxUnavailable 1): a set of
 * one replica on a fixed port has a gap during a roll.
 *
 * Retiring a replica first tells `onChange` (so the router stops sending it new requests and can
 * finish reconfiguring), then sends SIGTERM to its process group, then SIGKILL after the grace
 * period. Child output goes to `<logDirectory>/<set>-<i>.log`, never to Vireo's own stdout.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { backoffDelayMs, type Backoff } from '../../shared/backoff.js';
import { VireoError } from '../../shared/errors.js';
import { findFreePort } from '../../shared/free-port.js';
import { spawnOutcome } from '../../shared/process.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { signalProcessGroup, stopProcessGroup } from './process-group.js';
import {
  InvalidWorkloadSpecError,
  validateSetName,
  validateWorkloadSpec,
  workloadSpecHash,
  type WorkloadSpec,
} from './workload-spec.js';

export {
  InvalidWorkloadSpecError,
  workloadSpecHash,
  type ReadinessProbe,
  type WorkloadSpec,
} from './workload-spec.js';

/** Where replicas listen and probes go: loopback only, local mode never exposes workloads. */
export const REPLICA_HOST = '127.0.0.1';

/** Re-exported for the callers that pick a replica's port (tests, the demo). */
export { findFreePort };
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** Without a readiness probe, a replica that stays up this long counts as ready. */
export const DEFAULT_ALIVE_READY_MS = 1_000;
export const DEFAULT_PROBE_PERIOD_MS = 500;
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
export const DEFAULT_DRAIN_MS = 100;

/** Wait `initialMs` before the first restart, doubled for each further consecutive crash, up to `maxMs`. */
export interface BackoffPolicy extends Backoff {
  /** A replica that ran this long before crashing starts again from `initialMs`. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, resetAfterMs: 60_000 };

/** The wait before restarting after the n-th consecutive crash (n ≥ 1): 1 s, 2 s, 4 s … capped. */
export function restartDelayMs(policy: BackoffPolicy, consecutiveCrashes: number): number {
  return backoffDelayMs(policy, consecutiveCrashes - 1);
}

export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** Runs `callback` after `ms`; returns a function that cancels it. */
export type Scheduler = (callback: () => void, ms: number) => () => void;

export interface SupervisorDeps {
  readonly logger?: Logger;
  /** Epoch milliseconds; drives backoff reset and the times in status. */
  readonly now?: () => number;
  /** Timers for restarts, probe periods and alive-readiness. */
  readonly schedule?: Scheduler;
  readonly spawn?: SpawnFunction;
  /** Replica output is appended to `<logDirectory>/<set>-<i>.log`; without it, output is discarded. */
  readonly logDirectory?: string;
  readonly backoff?: Partial<BackoffPolicy>;
  /** SIGTERM → SIGKILL grace period (default 5 s). */
  readonly stopGraceMs?: number;
  /** Readiness without a probe: alive this long (default 1 s). */
  readonly aliveReadyMs?: number;
  /** The environment replicas inherit (default: Vireo's own). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Free loopback ports for replicas without a base port. */
  readonly freePort?: () => Promise<number>;
  /**
   * Called, one call at a time per set, whenever a set's replicas change (started, ready, exited,
   * retiring). A retiring replica is signalled only after this resolves, so a router updated here
   * has stopped sending it requests. It must not await `apply`/`stop` of the same set (deadlock).
   */
  readonly onChange?: (set: string, status: WorkloadStatus) => void | Promise<void>;
  /**
   * After onChange has taken a retiring replica out of service and before SIGTERM (default
   * 100 ms): a connection the router opened just before it changed can still reach the replica
   * instead of meeting a closed socket. Not applied by stop()/stopAll(), which stop everything.
   */
  readonly drainMs?: number;
  /** Kill children (SIGKILL to their groups) when Vireo's process exits (default true). */
  readonly killChildrenOnExit?: boolean;
  /**
   * Without a readiness probe, also require that the replica accepts TCP connections on its
   * `$PORT` (default false: some sets serve nothing). Local mode turns it on, since a router
   * sends every replica requests: a program that ignores `$PORT` is then never ready, and says why.
   */
  readonly aliveNeedsPort?: boolean;
}

export type ReplicaState = 'starting' | 'running' | 'backoff' | 'stopping' | 'failed';

export interface ReplicaExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: Date;
}

export interface ReplicaStatus {
  /** Replica number within the set (VIREO_REPLICA); during a roll, an old and a new one share it. */
  readonly index: number;
  /** Undefined while waiting to restart, or when the process could not be started. */
  readonly pid: number | undefined;
  readonly port: number;
  readonly url: string;
  readonly ready: boolean;
  /** Restarts after crashes (not counting rolls). */
  readonly restarts: number;
  readonly state: ReplicaState;
  /** The spec this replica runs; differs from the set's during a roll. */
  readonly specHash: string;
  readonly lastExit?: ReplicaExit;
  /** When the next restart is due (state 'backoff'). */
  readonly nextRestartAt?: Date;
  /** Why the process could not be started (state 'failed'). */
  readonly error?: string;
  /** Why a running replica is not ready yet: its last probe's outcome ("connection refused", "answered 503"). */
  readonly notReady?: string;
}

export interface WorkloadStatus {
  /** Every process of the set, old and new, sorted by index (the set's spec first). */
  readonly replicas: readonly ReplicaStatus[];
  /** Replicas running the set's current spec and ready. */
  readonly ready: number;
  readonly desired: number;
  /** workloadSpecHash of the spec last applied. */
  readonly specHash: string;
  /** True while replicas of an earlier spec still run. */
  readonly rolling: boolean;
  /** The last start failure, until a replica starts again. */
  readonly error?: string;
}

/** A replica's command could not be started; the message names the command and what to do. */
export class WorkloadSpawnError extends VireoError {
  readonly set: string;
  readonly command: string;

  constructor(set: string, command: string, cause: unknown) {
    super(
      'E_WORKLOAD_SPAWN',
      `workload "${set}": cannot start command "${command}": ${explainSpawnError(cause)}`,
      {
        cause,
      },
    );
    this.set = set;
    this.command = command;
  }
}

/** A set did not become ready in time (waitReady). */
export class WorkloadNotReadyError extends VireoError {
  constructor(message: string) {
    super('E_WORKLOAD_NOT_READY', message);
  }
}

function explainSpawnError(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'not found (ENOENT); give an absolute path or add its directory to PATH';
  if (code === 'EACCES')
    return 'permission denied (EACCES); make it executable, or run it through its interpreter';
  return cause instanceof Error ? cause.message : String(cause);
}

interface Replica {
  readonly index: number;
  readonly spec: WorkloadSpec;
  /** specHash plus base port: what must be equal for a replica to be kept. */
  readonly key: string;
  readonly specHash: string;
  /** Started to replace a replica of an earlier spec: the roll waits for it to be ready. */
  readonly replacing: boolean;
  port: number;
  state: ReplicaState;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  launching: Promise<void> | undefined;
  ready: boolean;
  retiring: boolean;
  restarts: number;
  consecutiveCrashes: number;
  startedAt: number;
  lastExit: ReplicaExit | undefined;
  nextRestartAt: number | undefined;
  error: string | undefined;
  /** The last failed probe of the running process, until it is ready. */
  notReady: string | undefined;
  /** Cancels the pending restart, alive-readiness timer or probe loop. */
  cancelPending: (() => void) | undefined;
}

type RestartCause =
  | {
      readonly kind: 'exit';
      readonly pid: number | undefined;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
    }
  | { readonly kind: 'spawn-failed'; readonly error: string };

interface WorkloadSet {
  readonly name: string;
  readonly logger: Logger;
  spec: WorkloadSpec;
  key: string;
  specHash: string;
  replicas: Replica[];
  error: string | undefined;
  /** Fixed-port rolls: indexes whose old replica was stopped so the new one can take its port. */
  readonly rollingIndexes: Set<number>;
  queue: Promise<unknown>;
  passQueued: boolean;
  notifications: Promise<void>;
  removed: boolean;
  stopped: Promise<void> | undefined;
}

const defaultSchedule: Scheduler = (callback, ms) => {
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
};

const launchKey = (spec: WorkloadSpec): string => `${workloadSpecHash(spec)}:${spec.port ?? 0}`;

/** Picks a free loopback port by binding port 0 and releasing it. */
/** One readiness probe: true for a 2xx answer within the timeout. */
export async function probeHttp(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return (await probeHttpOutcome(port, path, timeoutMs)) === undefined;
}

/** One readiness probe: undefined for a 2xx answer within the timeout, else what happened. */
export function probeHttpOutcome(port: number, path: string, timeoutMs: number): Promise<string | undefined> {
  const target = `GET http://${REPLICA_HOST}:${port}${path}`;
  return new Promise((resolve) => {
    const request = httpRequest(
      { host: REPLICA_HOST, port, path, method: 'GET', agent: false, signal: AbortSignal.timeout(timeoutMs) },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve(status >= 200 && status <= 299 ? undefined : `${target} answered ${status}`);
      },
    );
    request.on('error', (error) => resolve(`${target}: ${connectionProblem(error, timeoutMs)}`));
    request.end();
  });
}

/** Whether something accepts TCP connections on the port; undefined when it does, else why not. */
export function probeTcp(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: REPLICA_HOST, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`${REPLICA_HOST}:${port}: no answer within ${timeoutMs} ms`);
    });
    socket.once('error', (error) =>
      resolve(`${REPLICA_HOST}:${port}: ${connectionProblem(error, timeoutMs)}`),
    );
  });
}

function connectionProblem(error: Error, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED')
    return 'connection refused (nothing listens there: does the program listen on $PORT?)';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return code ?? error.message;
}

export class ProcessSupervisor {
  private readonly sets = new Map<string, WorkloadSet>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly schedule: Scheduler;
  private readonly spawn: SpawnFunction;
  private readonly backoff: BackoffPolicy;
  private readonly stopGraceMs: number;
  private readonly aliveReadyMs: number;
  private readonly freePort: () => Promise<number>;
  private exitHookInstalled = false;
  private readonly exitHook = (): void => this.killAllNow();

  constructor(private readonly deps: SupervisorDeps = {}) {
    this.logger = deps.logger ?? silentLogger();
    this.now = deps.now ?? Date.now;
    this.schedule = deps.schedule ?? defaultSchedule;
    this.spawn = deps.spawn ?? nodeSpawn;
    this.backoff = { ...DEFAULT_BACKOFF, ...deps.backoff };
    this.stopGraceMs = deps.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.aliveReadyMs = deps.aliveReadyMs ?? DEFAULT_ALIVE_READY_MS;
    this.freePort = deps.freePort ?? findFreePort;
  }

  /**
   * Makes the set run `spec`: starts missing replicas, stops extra ones, rolls replicas of an
   * earlier spec (see the file header). Resolves once the processes this call needed to start
   * have started (not once they are ready: see `readiness`/`waitReady`); a roll goes on in the
   * background. Idempotent: the same spec again changes nothing, except that replicas whose
   * command could not be started are tried again.
   *
   * Throws InvalidWorkloadSpecError for a spec that cannot run, WorkloadSpawnError when the
   * command cannot be started (the set keeps reporting it in `status().error`).
   */
  async apply(setName: string, spec: WorkloadSpec): Promise<void> {
    validateWorkloadSpec(setName, spec);
    await checkWorkingDirectory(setName, spec.cwd);
    const frozen = freezeSpec(spec);
    let set = this.sets.get(setName);
    while (set?.removed === true) {
      await set.stopped;
      set = this.sets.get(setName);
    }
    const target = set ?? this.createSet(setName, frozen);
    await this.enqueue(target, async () => {
      if (target.removed) return;
      const key = launchKey(frozen);
      const changed = key !== target.key || frozen.replicas !== target.spec.replicas;
      if (changed) {
        target.logger.info(
          { specHash: workloadSpecHash(frozen), replicas: frozen.replicas },
          'workload spec applied',
        );
      }
      target.spec = frozen;
      target.key = key;
      target.specHash = workloadSpecHash(frozen);
      // Trying again is what applying a spec whose command failed to start means.
      target.replicas = target.replicas.filter((replica) => replica.state !== 'failed');
      const errors = await this.pass(target);
      if (errors[0] !== undefined) throw errors[0];
    });
  }

  /** The set as it is now, or undefined for a set never applied (or stopped). */
  status(setName: string): WorkloadStatus | undefined {
    const set = this.sets.get(setName);
    if (set === undefined) return undefined;
    const replicas = [...set.replicas]
      .sort((a, b) => a.index - b.index || Number(b.key === set.key) - Number(a.key === set.key))
      .map((replica) => replicaStatus(replica));
    const current = set.replicas.filter(
      (replica) => replica.key === set.key && replica.index < set.spec.replicas,
    );
    return {
      replicas,
      ready: current.filter((replica) => replica.ready && !replica.retiring).length,
      desired: set.spec.replicas,
      specHash: set.specHash,
      rolling: set.replicas.some((replica) => replica.key !== set.key && !replica.retiring),
      ...(set.error === undefined ? {} : { error: set.error }),
    };
  }

  /**
   * True when every desired replica runs the current spec and is ready, and no replica of an
   * earlier spec still serves (a finished roll). A set scaled to 0 is ready; an unknown set is not.
   */
  readiness(setName: string): boolean {
    const status = this.status(setName);
    return status !== undefined && status.ready === status.desired && !status.rolling;
  }

  /** URLs of the replicas that may take traffic now: ready, not retiring, of any spec. */
  endpoints(setName: string): string[] {
    const set = this.sets.get(setName);
    if (set === undefined) return [];
    return set.replicas
      .filter((replica) => replica.ready && !replica.retiring)
      .sort((a, b) => a.index - b.index)
      .map((replica) => replicaUrl(replica.port));
  }

  /** Resolves once `readiness(set)` holds; throws WorkloadNotReadyError after `timeoutMs`. */
  async waitReady(setName: string, timeoutMs: number, pollMs = 50): Promise<void> {
    // Counted in polls of the injected scheduler, so a frozen test clock cannot make it wait forever.
    for (let waited = 0; !this.readiness(setName); waited += pollMs) {
      if (waited >= timeoutMs) {
        const status = this.status(setName);
        throw new WorkloadNotReadyError(
          status === undefined
            ? `workload "${setName}" is not running; apply it first`
            : `workload "${setName}": ${status.ready} of ${status.desired} replicas ready after ${timeoutMs} ms${
                status.error === undefined ? '' : ` (${status.error})`
              }; see its logs`,
        );
      }
      await new Promise<void>((resolve) => this.schedule(resolve, pollMs));
    }
  }

  /** Names of the sets applied and not stopped. */
  setNames(): string[] {
    return [...this.sets.keys()];
  }

  /**
   * Pids of every replica process, which are also their process-group ids: what a state file
   * records so `vireo local down` can stop the groups after a Vireo that was SIGKILLed.
   */
  pids(): number[] {
    return [...this.sets.values()].flatMap((set) =>
      set.replicas.flatMap((replica) => (replica.child?.pid === undefined ? [] : [replica.child.pid])),
    );
  }

  /**
   * Stops every replica of the set (SIGTERM to each process group, SIGKILL after the grace
   * period) and forgets the set. Resolves when they have exited. Stopping an unknown set does nothing.
   */
  async stop(setName: string): Promise<void> {
    const set = this.sets.get(setName);
    if (set === undefined) return;
    if (set.stopped === undefined) {
      set.removed = true;
      set.stopped = this.enqueue(set, async () => {
        await Promise.all(set.replicas.map((replica) => this.retire(set, replica, 'workload stopped')));
        await Promise.all(set.replicas.map((replica) => replica.launching ?? Promise.resolve()));
        await Promise.all([...set.replicas].map((replica) => this.terminate(set, replica)));
        set.logger.info('workload stopped');
      }).finally(() => {
        if (this.sets.get(setName) === set) this.sets.delete(setName);
        if (this.sets.size === 0) this.removeExitHook();
      });
    }
    await set.stopped;
  }

  /** Stops every set (in parallel). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.sets.keys()].map((name) => this.stop(name)));
    this.removeExitHook();
  }

  private createSet(name: string, spec: WorkloadSpec): WorkloadSet {
    validateSetName(name);
    const set: WorkloadSet = {
      name,
      logger: this.logger.child({ workload: name }),
      spec: { ...spec, replicas: 0 },
      key: launchKey(spec),
      specHash: workloadSpecHash(spec),
      replicas: [],
      error: undefined,
      rollingIndexes: new Set(),
      queue: Promise.resolve(),
      passQueued: false,
      notifications: Promise.resolve(),
      removed: false,
      stopped: undefined,
    };
    this.sets.set(name, set);
    return set;
  }

  /** Runs `task` after every task queued before it on this set; one failure does not block the next. */
  private enqueue<T>(set: WorkloadSet, task: () => Promise<T>): Promise<T> {
    const run = set.queue.then(task, task);
    set.queue = run.catch(() => undefined);
    return run;
  }

  /** Queues one reconcile pass unless one is already waiting to run. */
  private schedulePass(set: WorkloadSet): void {
    if (set.passQueued || set.removed) return;
    set.passQueued = true;
    void this.enqueue(set, async () => {
      set.passQueued = false;
      await this.pass(set);
    }).catch((error: unknown) => set.logger.error({ err: error }, 'workload reconcile failed'));
  }

  /** Compares the set's replicas with its spec and acts; returns the start failures it met. */
  private async pass(set: WorkloadSet): Promise<WorkloadSpawnError[]> {
    if (set.removed) return [];
    const desired = set.spec.replicas;
    const fixedPort = (set.spec.port ?? 0) > 0;
    const active = (index?: number): Replica[] =>
      set.replicas.filter((replica) => !replica.retiring && (index === undefined || replica.index === index));
    const current = (index: number): Replica | undefined =>
      active(index).find((replica) => replica.key === set.key);
    const olds = (index: number): Replica[] => active(index).filter((replica) => replica.key !== set.key);
    const indexes = Array.from({ length: desired }, (_, index) => index);
    for (const index of set.rollingIndexes) if (index >= desired) set.rollingIndexes.delete(index);

    for (const replica of active()) {
      if (replica.index >= desired) await this.retire(set, replica, 'scaled down');
    }
    for (const index of indexes) {
      if (current(index)?.ready === true) {
        for (const old of olds(index))
          await this.retire(set, old, 'replaced by a ready replica of the new spec');
      } else if (olds(index).some((old) => old.ready)) {
        // A roll that was superseded: its unready replicas serve nothing and would never be kept.
        for (const old of olds(index).filter((candidate) => !candidate.ready)) {
          await this.retire(set, old, 'superseded by a newer spec');
        }
      }
    }

    const errors: WorkloadSpawnError[] = [];
    const start = async (index: number, replacing: boolean): Promise<boolean> => {
      const error = await this.startReplica(set, index, replacing);
      if (error !== undefined) errors.push(error);
      return error === undefined;
    };
    for (const index of indexes) {
      const portBusy =
        fixedPort && set.replicas.some((replica) => replica.index === index && replica.retiring);
      if (active(index).length === 0 && !portBusy) {
        if (!(await start(index, set.rollingIndexes.delete(index)))) return errors;
      }
    }

    // Rolling: one index at a time, the next only when the previous new replica is ready.
    const rollBusy = indexes.some((index) => {
      const replica = current(index);
      return replica === undefined ? set.rollingIndexes.has(index) : replica.replacing && !replica.ready;
    });
    const next = rollBusy
      ? undefined
      : indexes.find((index) => olds(index).length > 0 && current(index) === undefined);
    if (next !== undefined) {
      if (fixedPort) {
        set.rollingIndexes.add(next);
        for (const old of olds(next)) await this.retire(set, old, 'rolling to the new spec (fixed port)');
      } else {
        await start(next, true);
      }
    }
    return errors;
  }

  /** Creates replica `index` of the set's spec and starts its process; returns the start failure. */
  private async startReplica(
    set: WorkloadSet,
    index: number,
    replacing: boolean,
  ): Promise<WorkloadSpawnError | undefined> {
    const replica: Replica = {
      index,
      spec: set.spec,
      key: set.key,
      specHash: set.specHash,
      replacing,
      port: await this.allocatePort(set.spec, index),
      state: 'starting',
      child: undefined,
      exited: undefined,
      launching: undefined,
      ready: false,
      retiring: false,
      restarts: 0,
      consecutiveCrashes: 0,
      startedAt: this.now(),
      lastExit: undefined,
      nextRestartAt: undefined,
      error: undefined,
      notReady: undefined,
      cancelPending: undefined,
    };
    set.replicas.push(replica);
    return this.launch(set, replica);
  }

  private async allocatePort(spec: WorkloadSpec, index: number): Promise<number> {
    const base = spec.port ?? 0;
    if (base > 0) return base + index;
    const taken = new Set(
      [...this.sets.values()].flatMap((set) => set.replicas.map((replica) => replica.port)),
    );
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const port = await this.freePort();
      if (!taken.has(port)) return port;
    }
    throw new VireoError(
      'E_NO_FREE_PORT',
      'could not find a free loopback port for a replica; free some ports and retry',
    );
  }

  /** Starts the replica's process; resolves once it started (or failed to). */
  private launch(set: WorkloadSet, replica: Replica): Promise<WorkloadSpawnError | undefined> {
    const launching = this.spawnReplica(set, replica);
    replica.launching = launching.then(() => undefined);
    return launching;
  }

  private async spawnReplica(set: WorkloadSet, replica: Replica): Promise<WorkloadSpawnError | undefined> {
    replica.state = 'starting';
    replica.nextRestartAt = undefined;
    const { spec } = replica;
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...(this.deps.baseEnv ?? process.env), ...spec.env })) {
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, {
      PORT: String(replica.port),
      VIREO_WORKLOAD: set.name,
      VIREO_REPLICA: String(replica.index),
    });
    const log = await this.openLog(set, replica);
    if (replica.retiring || set.removed) {
      await log?.close();
      return undefined;
    }
    let child: ChildProcess;
    try {
      child = this.spawn(spec.command, spec.args ?? [], {
        cwd: spec.cwd,
        env,
        // Its own process group, so stopping it stops what it started; no terminal signals reach it.
        detached: true,
        stdio: ['ignore', log?.fd ?? 'ignore', log?.fd ?? 'ignore'],
      });
    } catch (cause) {
      await log?.close();
      return this.failed(set, replica, cause);
    }
    // Listen before any await: 'spawn' or 'error' is emitted on the next tick.
    child.on('error', (error) =>
      set.logger.warn({ err: error, replica: replica.index }, 'replica process error'),
    );
    const outcome = spawnOutcome(child);
    // The child holds its own copy of the descriptor now.
    await log?.close();
    const started = await outcome;
    if (started !== undefined) return this.failed(set, replica, started);

    replica.child = child;
    replica.exited = once(child, 'exit').then(([code, signal]) =>
      this.onExit(set, replica, child, code as number | null, signal as NodeJS.Signals | null),
    );
    replica.state = 'running';
    replica.startedAt = this.now();
    replica.error = undefined;
    set.error = undefined;
    this.installExitHook();
    set.logger.info({ replica: replica.index, pid: child.pid, port: replica.port }, 'replica started');
    this.watchReadiness(set, replica, child);
    void this.notify(set);
    return undefined;
  }

  private failed(set: WorkloadSet, replica: Replica, cause: unknown): WorkloadSpawnError {
    const error = new WorkloadSpawnError(set.name, replica.spec.command, cause);
    replica.state = 'failed';
    replica.error = error.message;
    set.error = error.message;
    set.logger.error({ replica: replica.index, command: replica.spec.command }, error.message);
    void this.notify(set);
    return error;
  }

  private async openLog(set: WorkloadSet, replica: Replica) {
    const directory = this.deps.logDirectory;
    if (directory === undefined) return undefined;
    try {
      await mkdir(directory, { recursive: true });
      return await open(join(directory, `${set.name}-${replica.index}.log`), 'a');
    } catch (error) {
      set.logger.warn({ err: error, directory }, 'cannot open the replica log file; its output is discarded');
      return undefined;
    }
  }

  /** Probes until ready (or, without a probe, waits until the process has stayed up long enough). */
  private watchReadiness(set: WorkloadSet, replica: Replica, child: ChildProcess): void {
    const probe = replica.spec.readiness;
    const becomeReady = (): void => {
      if (replica.child !== child || replica.retiring) return;
      replica.ready = true;
      replica.notReady = undefined;
      set.logger.info({ replica: replica.index, pid: child.pid, port: replica.port }, 'replica ready');
      void this.notify(set);
      this.schedulePass(set);
    };
    if (probe === undefined && this.deps.aliveNeedsPort !== true) {
      replica.cancelPending = this.schedule(becomeReady, this.aliveReadyMs);
      return;
    }
    replica.notReady = probe === undefined ? 'starting' : `waiting for GET ${probe.httpPath} to answer 2xx`;
    let cancelled = false;
    let cancelWait: (() => void) | undefined;
    replica.cancelPending = () => {
      cancelled = true;
      cancelWait?.();
    };
    const timeoutMs = probe?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    const probeOnce = (): Promise<string | undefined> =>
      probe === undefined
        ? probeTcp(replica.port, timeoutMs)
        : probeHttpOutcome(replica.port, probe.httpPath, timeoutMs);
    const pause = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const cancelTimer = this.schedule(resolve, ms);
        cancelWait = () => {
          cancelTimer();
          resolve();
        };
      });
    const loop = async (): Promise<void> => {
      // Without a probe, the process must first stay up as long as alive-readiness asks.
      if (probe === undefined) await pause(this.aliveReadyMs);
      while (!cancelled && replica.child === child) {
        const problem = await probeOnce();
        if (problem === undefined) {
          if (!cancelled) becomeReady();
          return;
        }
        if (replica.child === child) replica.notReady = problem;
        await new Promise<void>((resolve) => {
          const cancelTimer = this.schedule(resolve, probe?.periodMs ?? DEFAULT_PROBE_PERIOD_MS);
          cancelWait = () => {
            cancelTimer();
            resolve();
          };
        });
      }
    };
    void loop();
  }

  private onExit(
    set: WorkloadSet,
    replica: Replica,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (replica.child !== child) return;
    replica.cancelPending?.();
    replica.child = undefined;
    replica.ready = false;
    replica.notReady = undefined;
    replica.lastExit = { code, signal, at: new Date(this.now()) };
    if (replica.retiring) return; // terminate() takes it from here
    // Whatever it left behind (a background grandchild holding the port) goes with it.
    if (child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
    const outdated = replica.key !== set.key || replica.index >= set.spec.replicas || set.removed;
    if (outdated) {
      set.logger.warn(
        { replica: replica.index, code, signal },
        'replica of an earlier spec exited; not restarted',
      );
      set.replicas = set.replicas.filter((candidate) => candidate !== replica);
      void this.notify(set);
      this.schedulePass(set);
      return;
    }
    this.scheduleRestart(set, replica, { kind: 'exit', pid: child.pid, code, signal });
  }

  /**
   * Restarts the replica after the backoff delay. `why` is what happened: an exit, or a restart
   * whose command could not be started (the binary was being rebuilt, say), which is retried the
   * same way rather than giving up.
   */
  private scheduleRestart(set: WorkloadSet, replica: Replica, why: RestartCause): void {
    const ranMs = this.now() - replica.startedAt;
    if (ranMs >= this.backoff.resetAfterMs) replica.consecutiveCrashes = 0;
    replica.consecutiveCrashes += 1;
    const delayMs = restartDelayMs(this.backoff, replica.consecutiveCrashes);
    replica.state = 'backoff';
    replica.nextRestartAt = this.now() + delayMs;
    const what =
      why.kind === 'exit'
        ? `replica exited (${why.signal ?? `code ${why.code}`})`
        : `replica could not be restarted (${why.error})`;
    set.logger.warn(
      {
        replica: replica.index,
        ...(why.kind === 'exit' ? { pid: why.pid, code: why.code, signal: why.signal } : {}),
        ranMs,
        restartInMs: delayMs,
      },
      `${what}; restarting in ${delayMs} ms`,
    );
    replica.cancelPending = this.schedule(() => {
      replica.cancelPending = undefined;
      if (replica.retiring || set.removed) return;
      replica.restarts += 1;
      void this.launch(set, replica).then((error) => {
        if (error !== undefined && !replica.retiring && !set.removed) {
          this.scheduleRestart(set, replica, { kind: 'spawn-failed', error: error.message });
        }
      });
    }, delayMs);
    void this.notify(set);
  }

  /** Takes the replica out of service (tells onChange first), then stops its process in the background. */
  private async retire(set: WorkloadSet, replica: Replica, reason: string): Promise<void> {
    if (replica.retiring) return;
    replica.retiring = true;
    replica.ready = false;
    replica.cancelPending?.();
    replica.cancelPending = undefined;
    replica.state = 'stopping';
    set.logger.info(
      { replica: replica.index, pid: replica.child?.pid, port: replica.port },
      `stopping replica: ${reason}`,
    );
    await this.notify(set);
    if (set.removed) return; // stop() terminates every replica itself, without draining
    void this.drain().then(() => this.terminate(set, replica));
  }

  /** Stops a retiring replica's process group and removes the replica once it is gone. */
  private async terminate(set: WorkloadSet, replica: Replica): Promise<void> {
    await replica.launching;
    const pid = replica.child?.pid;
    if (pid !== undefined) {
      const result = await stopProcessGroup(pid, {
        graceMs: this.stopGraceMs,
        now: this.now,
        ...(replica.exited === undefined ? {} : { leaderExited: replica.exited }),
      });
      await replica.exited;
      if (result === 'killed') {
        set.logger.warn(
          { replica: replica.index, pid },
          `replica did not stop within ${this.stopGraceMs} ms; killed`,
        );
      }
    }
    if (!set.replicas.includes(replica)) return;
    set.replicas = set.replicas.filter((candidate) => candidate !== replica);
    void this.notify(set);
    this.schedulePass(set);
  }

  private drain(): Promise<void> {
    const drainMs = this.deps.drainMs ?? DEFAULT_DRAIN_MS;
    return drainMs <= 0 ? Promise.resolve() : new Promise((resolve) => this.schedule(resolve, drainMs));
  }

  /**
   * Tells onChange about the set, one call at a time, with the status as it is when the call
   * runs. The returned promise settles after that call; failures are logged, never thrown.
   */
  private notify(set: WorkloadSet): Promise<void> {
    const listener = this.deps.onChange;
    if (listener === undefined) return Promise.resolve();
    set.notifications = set.notifications.then(async () => {
      const status = this.status(set.name);
      if (status === undefined) return;
      try {
        await listener(set.name, status);
      } catch (error) {
        set.logger.warn({ err: error }, 'workload change listener failed');
      }
    });
    return set.notifications;
  }

  private installExitHook(): void {
    if (this.exitHookInstalled || this.deps.killChildrenOnExit === false) return;
    process.on('exit', this.exitHook);
    this.exitHookInstalled = true;
  }

  private removeExitHook(): void {
    if (!this.exitHookInstalled) return;
    process.off('exit', this.exitHook);
    this.exitHookInstalled = false;
  }

  /** Last resort when Vireo exits: no time to wait for a graceful stop, so SIGKILL every group. */
  private killAllNow(): void {
    for (const pid of this.pids()) signalProcessGroup(pid, 'SIGKILL');
  }
}

function replicaUrl(port: number): string {
  return `http://${REPLICA_HOST}:${port}`;
}

function replicaStatus(replica: Replica): ReplicaStatus {
  return {
    index: replica.index,
    pid: replica.child?.pid,
    port: replica.port,
    url: replicaUrl(replica.port),
    ready: replica.ready,
    restarts: replica.restarts,
    state: replica.state,
    specHash: replica.specHash,
    ...(replica.lastExit === undefined ? {} : { lastExit: replica.lastExit }),
    ...(replica.nextRestartAt === undefined || replica.state !== 'backoff'
      ? {}
      : { nextRestartAt: new Date(replica.nextRestartAt) }),
    ...(replica.error === undefined ? {} : { error: replica.error }),
    ...(replica.notReady === undefined || replica.state !== 'running' ? {} : { notReady: replica.notReady }),
  };
}

/** A copy the caller cannot change under us. */
function freezeSpec(spec: WorkloadSpec): WorkloadSpec {
  return Object.freeze({
    ...spec,
    ...(spec.args === undefined ? {} : { args: Object.freeze([...spec.args]) }),
    ...(spec.env === undefined ? {} : { env: Object.freeze({ ...spec.env }) }),
    ...(spec.readiness === undefined ? {} : { readiness: Object.freeze({ ...spec.readiness }) }),
  });
}

/** Node reports a missing cwd as the command's ENOENT; check it first to name the right culprit. */
async function checkWorkingDirectory(set: string, cwd: string | undefined): Promise<void> {
  if (cwd === undefined) return;
  const info = await stat(cwd).catch(() => undefined);
  if (info?.isDirectory() !== true) {
    throw new InvalidWorkloadSpecError(`workload "${set}": cwd "${cwd}" is not a directory`);
  }
}
