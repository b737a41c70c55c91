/**
 * A list-watch cache that does not silently stop (engineering notes §2.1, style lesson 11).
 *
 * client-node's ListWatch stops on any error but 410 and never asks for bookmarks, and a watch
 * can go quiet without any error at all (a half-open connection, a proxy that drops the stream).
 * This informer supervises its own watch instead:
 *
 * - list, fill the cache, watch from the list's resourceVersion, advancing it on every event,
 *   bookmarks included (so a quiet resource does not fall behind into 410s);
 * - a clean end of the stream (the server's timeoutSeconds) re-watches from the last version;
 * - 410 Gone re-lists and diffs the list against the cache, emitting deletes for what vanished;
 * - any other error backs off (capped exponential, full jitter) and re-watches, forever;
 * - a watchdog aborts a watch that brought neither event nor bookmark for `stalenessMs`;
 * - a periodic full re-list repairs events that were missed without any error.
 *
 * Handlers are synchronous and meant to enqueue a key (queue.ts), not to do work: readers take
 * the latest object from the cache (cache.ts). Only the latest object per `namespace/name` is
 * kept. Timers go through the injected `sleep` and `now`, so tests drive time.
 */
import { backoffDelayMs, withFullJitter, type Backoff } from '../../shared/backoff.js';
import { VireoError } from '../../shared/errors.js';
import type { LogWriter } from '../../shared/logger.js';
import type { KubeClient, KubeObject, WatchEvent } from './client.js';
import { KubeApiError } from './errors.js';
import { resourceLabel, type InformerMetrics } from './informer-metrics.js';
import type { ResourceType } from './resources.js';

export { InformerMetrics } from './informer-metrics.js';

/** The part of KubeClient an informer uses, so tests can hand it a scripted fake. */
export type ListWatchClient = Pick<KubeClient, 'list' | 'watch'>;

export type InformerLogger = Pick<LogWriter, 'info' | 'warn' | 'error'>;

/** The ceilings of the jittered waits: `initialMs` (default 1 s) doubling up to `maxMs` (default 30 s). */
export type BackoffOptions = Backoff;

export interface InformerOptions {
  readonly resource: ResourceType;
  /** undefined: all namespaces (and cluster-scoped resources). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  /** Full re-list diffed against the cache, catching silently missed events (default 10 min). */
  readonly relistIntervalMs?: number;
  /** No event and no bookmark for this long aborts the watch and re-lists (default 5 min). */
  readonly stalenessMs?: number;
  /** The server ends each watch after about this long, ±10 % per request (default 300). */
  readonly watchTimeoutSeconds?: number;
  /** No byte on the stream for this long is a dead connection (default 90 s; bookmarks come ~1/min). */
  readonly inactivityMs?: number;
  readonly backoff?: Partial<BackoffOptions>;
  readonly metrics: InformerMetrics;
  readonly logger?: InformerLogger;
  /** [0, 1), for jitter (default Math.random). */
  readonly random?: () => number;
  /** Waits `ms`, resolving early (never rejecting) when `signal` aborts. Must really wait. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
}

export type InformerErrorCode =
  /** The first list got 403: RBAC does not let the controller list the resource. */
  | 'E_INFORMER_FORBIDDEN'
  /** The first list got 404: the API server does not serve the resource (CRD not installed). */
  | 'E_INFORMER_RESOURCE_NOT_FOUND'
  /** stop() was called before the first list succeeded. */
  | 'E_INFORMER_STOPPED'
  /** start() was called on an informer that was stopped. */
  | 'E_INFORMER_RESTARTED';

export class InformerError extends VireoError {
  constructor(code: InformerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type AddHandler<T> = (object: T) => void;
export type UpdateHandler<T> = (object: T, old: T) => void;
export type DeleteHandler<T> = (object: T) => void;

const DEFAULTS = {
  relistIntervalMs: 10 * 60_000,
  stalenessMs: 5 * 60_000,
  watchTimeoutSeconds: 300,
  inactivityMs: 90_000,
  backoff: { initialMs: 1_000, maxMs: 30_000 },
};

/**
 * A watch that ends cleanly this fast without a single event is treated as a failure (backoff),
 * as client-go's reflector does: otherwise a proxy that closes every stream at once would make
 * the informer spin on the API server.
 */
const SHORT_WATCH_MS = 1_000;

type WatchEnd = 'closed' | 'stop' | 'watchdog' | 'relist';

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

const keyOfObject = (object: KubeObject): string =>
  objectKey(object.metadata.namespace, object.metadata.name);

export class Informer<T extends KubeObject> {
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly labelSelector: string | undefined;

  private readonly client: ListWatchClient;
  private readonly metrics: InformerMetrics;
  private readonly logger: InformerLogger | undefined;
  private readonly label: string;
  private readonly relistIntervalMs: number;
  private readonly stalenessMs: number;
  private readonly watchTimeoutSeconds: number;
  private readonly inactivityMs: number;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;

  private readonly cache = new Map<string, T>();
  private readonly addHandlers = new Set<AddHandler<T>>();
  private readonly updateHandlers = new Set<UpdateHandler<T>>();
  private readonly deleteHandlers = new Set<DeleteHandler<T>>();

  private resourceVersion = '';
  /** A re-list is owed: 410, watchdog, or first start. */
  private listNeeded = true;
  private nextRelistAt = 0;
  private lastSeenAt: number | undefined;
  /** False from a failed list or watch until a list succeeds or the new watch delivers something. */
  private inStep = false;
  private hasSynced = false;
  private stopped = false;
  private started: Promise<void> | undefined;
  private settleStart: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private loop: Promise<void> | undefined;
  /** Aborts backoff sleeps on stop. */
  private readonly lifetime = new AbortController();
  /** Ends the watch in flight, saying why (set once per watch). */
  private abortWatch: ((why: Exclude<WatchEnd, 'closed'>) => void) | undefined;
  private untrack: (() => void) | undefined;

  constructor(client: ListWatchClient, options: InformerOptions) {
    this.client = client;
    this.resource = options.resource;
    this.namespace = options.namespace;
    this.labelSelector = options.labelSelector;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.label = resourceLabel(options.resource);
    this.relistIntervalMs = options.relistIntervalMs ?? DEFAULTS.relistIntervalMs;
    this.stalenessMs = options.stalenessMs ?? DEFAULTS.stalenessMs;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds;
    this.inactivityMs = options.inactivityMs ?? DEFAULTS.inactivityMs;
    this.backoff = { ...DEFAULTS.backoff, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
  }

  /** True once the first list has filled the cache; stays true (the cache is then only ever updated). */
  get synced(): boolean {
    return this.hasSynced;
  }

  /**
   * Whether the cache is following the server right now: false after a list or watch failed (an
   * API server restart, a dropped connection) until a list succeeded or the new watch delivered an
   * event or bookmark. Readers that must not act on an old copy read from the server meanwhile.
   */
  get current(): boolean {
    return this.hasSynced && this.inStep;
  }

  get size(): number {
    return this.cache.size;
  }

  /** The cached object; shared with the cache, so callers must not mutate it. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(objectKey(namespace, name));
  }

  /** Cached objects, all or of one namespace; shared with the cache, so callers must not mutate them. */
  list(namespace?: string): T[] {
    const objects = [...this.cache.values()];
    return namespace === undefined ? objects : objects.filter((o) => o.metadata.namespace === namespace);
  }

  /** Called for objects new to the cache (first list included). Returns the unsubscribe function. */
  onAdd(handler: AddHandler<T>): () => void {
    this.addHandlers.add(handler);
    return () => this.addHandlers.delete(handler);
  }

  /** Called when the cached object's resourceVersion changed; `old` is the object it replaced. */
  onUpdate(handler: UpdateHandler<T>): () => void {
    this.updateHandlers.add(handler);
    return () => this.updateHandlers.delete(handler);
  }

  /** Called with the last known state of an object that left the cache (DELETED, or gone from a re-list). */
  onDelete(handler: DeleteHandler<T>): () => void {
    this.deleteHandlers.add(handler);
    return () => this.deleteHandlers.delete(handler);
  }

  /**
   * Starts listing and watching; resolves once the first list has filled the cache. Rejects when
   * that first list gets 403 or 404 (missing RBAC or CRD: fatal at start, as in Flagger); other
   * first-list errors are retried with backoff. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.stopped) {
      return Promise.reject(
        new InformerError(
          'E_INFORMER_RESTARTED',
          `the ${this.describe()} informer was stopped; make a new one`,
        ),
      );
    }
    if (this.started !== undefined) return this.started;
    this.started = new Promise<void>((resolve, reject) => {
      this.settleStart = { resolve, reject };
    });
    this.untrack = this.metrics.track({
      resource: this.label,
      size: () => this.cache.size,
      lastEventAt: () => this.lastSeenAt,
    });
    this.loop = this.run();
    return this.started;
  }

  /** Ends the watch and every timer, and waits for the loop to end. The cache stays readable. */
  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.lifetime.abort();
    this.abortWatch?.('stop');
    this.failStart(
      new InformerError(
        'E_INFORMER_STOPPED',
        `the ${this.describe()} informer stopped before its first list`,
      ),
    );
    await this.loop;
    this.untrack?.();
  }

  private async run(): Promise<void> {
    /** Consecutive failures, for the backoff ceiling; reset by a watch that delivered events. */
    let failures = 0;
    while (!this.stopped) {
      let delivered = 0;
      try {
        if (this.listNeeded || this.resourceVersion === '' || this.now() >= this.nextRelistAt) {
          await this.relist();
        }
        const started = this.now();
        const result = await this.watchOnce((count) => (delivered = count));
        if (delivered > 0) failures = 0;
        if (result === 'watchdog') {
          this.metrics.count(this.label, 'watchdog');
          this.logger?.warn(
            { resource: this.label, namespace: this.namespace, staleForMs: this.stalenessMs },
            'watch brought no event or bookmark for too long; aborting it and re-listing',
          );
          this.listNeeded = true;
        } else if (result === 'closed' && delivered === 0 && this.now() - started < SHORT_WATCH_MS) {
          failures += 1;
          this.logger?.warn(
            { resource: this.label, namespace: this.namespace, failures },
            'watch ended at once without events; backing off before watching again',
          );
          await this.sleep(this.backoffDelay(failures), this.lifetime.signal);
        }
        // 'closed' (the server's timeoutSeconds) and 'relist' go round: re-watch, or re-list when due.
      } catch (error) {
        if (this.stopped) break;
        this.inStep = false;
        if (delivered > 0) failures = 0;
        if (!this.hasSynced && isFatalAtStart(error)) {
          this.failStart(this.startError(error));
          this.stopped = true;
          this.lifetime.abort();
          this.untrack?.();
          break;
        }
        failures += 1;
        if (error instanceof KubeApiError && error.code === 'E_KUBE_GONE') {
          this.metrics.count(this.label, 'gone');
          this.logger?.info(
            { resource: this.label, namespace: this.namespace, resourceVersion: this.resourceVersion },
            'watch resourceVersion too old (410); re-listing',
          );
          this.listNeeded = true;
          // The first 410 re-lists at once (client-go does); 410s in a row without events back off.
          if (failures > 1) await this.sleep(this.backoffDelay(failures - 1), this.lifetime.signal);
          continue;
        }
        this.metrics.count(this.label, 'error');
        const delayMs = this.backoffDelay(failures);
        this.logger?.warn(
          {
            resource: this.label,
            namespace: this.namespace,
            // Not `err`: pino's error serializer would file this plain object as type "Object".
            error: error instanceof Error ? { message: error.message, code: codeOf(error) } : String(error),
            failures,
            delayMs: Math.round(delayMs),
          },
          'list or watch failed; retrying after backoff',
        );
        await this.sleep(delayMs, this.lifetime.signal);
      }
    }
  }

  /** A full-jitter delay: uniform in [0, min(max, initial × 2^(failures-1))). */
  private backoffDelay(failures: number): number {
    return withFullJitter(backoffDelayMs(this.backoff, failures - 1), this.random);
  }

  /** Lists and makes the cache equal to the list, emitting the differences as events. */
  private async relist(): Promise<void> {
    const first = !this.hasSynced;
    if (!first) this.metrics.count(this.label, 'relist');
    const listed = await untilAborted(
      this.client.list<T>(this.resource, this.namespace, {
        ...(this.labelSelector === undefined ? {} : { labelSelector: this.labelSelector }),
      }),
      this.lifetime.signal,
    );
    if (listed === undefined || this.stopped) return;
    const fresh = new Map<string, T>();
    for (const item of listed.items) fresh.set(keyOfObject(item), item);
    let changes = 0;
    for (const [key, old] of this.cache) {
      if (fresh.has(key)) continue;
      this.cache.delete(key);
      this.emitDelete(old);
      changes += 1;
    }
    for (const [key, item] of fresh) {
      if (this.store(key, item)) changes += 1;
    }
    this.resourceVersion = listed.resourceVersion;
    this.listNeeded = false;
    this.inStep = true;
    this.lastSeenAt = this.now();
    this.nextRelistAt = this.now() + this.relistIntervalMs;
    if (first) {
      this.hasSynced = true;
      this.logger?.info(
        { resource: this.label, namespace: this.namespace, objects: this.cache.size },
        'informer synced',
      );
      this.settleStart?.resolve();
      this.settleStart = undefined;
    } else if (changes > 0) {
      // Changes found by a re-list are events the watch missed or that happened during a gap.
      this.logger?.info(
        { resource: this.label, namespace: this.namespace, changes },
        're-list repaired the cache',
      );
    }
  }

  /** One watch request, supervised by the watchdog and the re-list timer. */
  private async watchOnce(onDelivered: (count: number) => void): Promise<WatchEnd> {
    const controller = new AbortController();
    let ended: Exclude<WatchEnd, 'closed'> | undefined;
    this.abortWatch = (why) => {
      if (ended !== undefined) return;
      ended = why;
      controller.abort();
    };
    if (this.stopped) return 'stop';
    let delivered = 0;
    this.metrics.count(this.label, 'connect');
    // The watchdog counts from the connection: a fresh watch has a full `stalenessMs` to speak.
    let lastEventAt = this.now();
    const timers = this.superviseWatch(controller.signal, () => lastEventAt);
    try {
      await this.client.watch<T>(
        this.resource,
        this.namespace,
        {
          resourceVersion: this.resourceVersion,
          timeoutSeconds: this.randomizedTimeout(),
          inactivityMs: this.inactivityMs,
          signal: controller.signal,
          ...(this.labelSelector === undefined ? {} : { labelSelector: this.labelSelector }),
        },
        (event) => {
          // After an abort the stream may still flush a few events; the re-list will see them.
          if (ended !== undefined) return;
          delivered += 1;
          onDelivered(delivered);
          lastEventAt = this.now();
          this.lastSeenAt = lastEventAt;
          this.handle(event);
          this.inStep = true;
        },
      );
      return ended ?? 'closed';
    } catch (error) {
      if (ended !== undefined) return ended;
      throw error;
    } finally {
      // Stops the timers (their sleep resolves on abort) whatever ended the watch.
      controller.abort();
      this.abortWatch = undefined;
      await timers;
    }
  }

  /** Aborts the watch when it has been silent for `stalenessMs`, or when a re-list is due. */
  private async superviseWatch(signal: AbortSignal, lastEventAt: () => number): Promise<void> {
    while (!signal.aborted) {
      const now = this.now();
      const staleAt = lastEventAt() + this.stalenessMs;
      if (now >= this.nextRelistAt || now >= staleAt) {
        this.abortWatch?.(now >= this.nextRelistAt ? 'relist' : 'watchdog');
        return;
      }
      await this.sleep(Math.min(staleAt, this.nextRelistAt) - now, signal);
    }
  }

  /** ±10 %, so the informers of a fleet of controllers do not reconnect in step. */
  private randomizedTimeout(): number {
    return Math.max(1, Math.round(this.watchTimeoutSeconds * (0.9 + 0.2 * this.random())));
  }

  private handle(event: WatchEvent<T>): void {
    const object = event.object;
    const version = object?.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      this.metrics.count(this.label, 'bookmark');
      if (version) this.resourceVersion = version;
      return;
    }
    if (object?.metadata?.name === undefined) {
      this.logger?.warn(
        { resource: this.label, type: event.type },
        'watch event without an object name; ignored',
      );
      return;
    }
    if (version) this.resourceVersion = version;
    const key = keyOfObject(object);
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.metrics.count(this.label, event.type === 'ADDED' ? 'added' : 'modified');
        this.store(key, object);
        return;
      case 'DELETED':
        this.metrics.count(this.label, 'deleted');
        this.cache.delete(key);
        this.emitDelete(object);
        return;
      default:
        this.logger?.warn(
          { resource: this.label, type: String(event.type) },
          'unknown watch event type; ignored',
        );
    }
  }

  /** Puts the object in the cache and emits what changed; false when nothing did. */
  private store(key: string, object: T): boolean {
    const old = this.cache.get(key);
    // Server-side apply's bookkeeping is often the largest part of an object and nothing here
    // reads it: not keeping it is most of the cache's memory at scale (bench/controller.ts).
    delete (object.metadata as { managedFields?: unknown }).managedFields;
    this.cache.set(key, object);
    if (old === undefined) {
      this.emit(this.addHandlers, 'add', object, (handler) => handler(object));
      return true;
    }
    if (
      old.metadata.uid !== undefined &&
      object.metadata.uid !== undefined &&
      old.metadata.uid !== object.metadata.uid
    ) {
      // Deleted and re-created while we were not watching: controllers must see a new object.
      this.emitDelete(old);
      this.emit(this.addHandlers, 'add', object, (handler) => handler(object));
      return true;
    }
    if (old.metadata.resourceVersion === object.metadata.resourceVersion) return false;
    this.emit(this.updateHandlers, 'update', object, (handler) => handler(object, old));
    return true;
  }

  private emitDelete(object: T): void {
    this.emit(this.deleteHandlers, 'delete', object, (handler) => handler(object));
  }

  /** Calls each handler; a throwing handler is logged and must not break the watch loop. */
  private emit<H>(handlers: Set<H>, kind: string, object: T, call: (handler: H) => void): void {
    for (const handler of handlers) {
      try {
        call(handler);
      } catch (error) {
        this.logger?.error(
          {
            resource: this.label,
            key: keyOfObject(object),
            handler: kind,
            err: error,
          },
          'informer handler threw; the event is not redelivered',
        );
      }
    }
  }

  private failStart(error: Error): void {
    this.settleStart?.reject(error);
    this.settleStart = undefined;
  }

  private describe(): string {
    return `${this.label}${this.namespace === undefined ? '' : ` in namespace ${this.namespace}`}`;
  }

  private startError(error: KubeApiError): InformerError {
    const what = this.describe();
    if (error.code === 'E_KUBE_FORBIDDEN') {
      return new InformerError(
        'E_INFORMER_FORBIDDEN',
        `cannot list ${what}: forbidden (403). Grant the controller's ServiceAccount "list" and "watch" on ${this.label}` +
          `${this.namespace === undefined ? ' cluster-wide (ClusterRole)' : ` in namespace ${this.namespace}`}. API server said: ${error.message}`,
        { cause: error },
      );
    }
    const install =
      this.resource.group === 'flagger.app'
        ? 'Install the CRDs (kubectl apply -f crds/) before starting the controller'
        : `Check that the API server serves ${this.resource.group === '' ? '' : `${this.resource.group}/`}${this.resource.version}`;
    return new InformerError(
      'E_INFORMER_RESOURCE_NOT_FOUND',
      `cannot list ${what}: the API server does not serve this resource (404). ${install}. API server said: ${error.message}`,
      { cause: error },
    );
  }
}

/**
 * The promise's value, or undefined as soon as `signal` aborts: the client's list takes no signal,
 * and stop() must not wait up to a request timeout for a list nobody will use.
 */
function untilAborted<V>(promise: Promise<V>, signal: AbortSignal): Promise<V | undefined> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<V | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // After an abort nobody awaits this any more; settling again is a no-op, not an unhandled rejection.
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function isFatalAtStart(error: unknown): error is KubeApiError {
  return (
    error instanceof KubeApiError && (error.code === 'E_KUBE_FORBIDDEN' || error.code === 'E_KUBE_NOT_FOUND')
  );
}

function codeOf(error: Error): string | undefined {
  return error instanceof VireoError ? error.code : undefined;
}
