/**
 * One watch per dashboard, fanned out to every browser (docs/adr/0035-web-dashboard.md): the feed
 * keeps the canaries and their last decisions in memory from the backend's single watch (the
 * controller's informers, a cluster watch, or local mode's state directory), the API answers
 * lists from it, and each change goes to every subscribed page as a server-sent event. A browser
 * never causes a request to the API server by waiting.
 */
import type { Decision } from '../engine/decisions.js';
import type { CanaryObject, OperationsBackend } from '../cli/ops/port.js';
import { createSystemClock, type Clock } from '../shared/clock.js';

export interface FeedEntry {
  readonly canary: CanaryObject;
  readonly decisions: readonly Decision[];
}

export type FeedEvent =
  | { readonly type: 'changed'; readonly entry: FeedEntry }
  | { readonly type: 'deleted'; readonly namespace: string; readonly name: string };

export interface FeedLogger {
  warn(fields: object, message: string): void;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The decisions ConfigMap is written just after the status: read again once it has had time. */
const DECISIONS_SETTLE_MS = 1500;
const RETRY_MS = 2000;

export class CanaryFeed {
  private readonly entries = new Map<string, FeedEntry>();
  private readonly subscribers = new Set<(event: FeedEvent) => void>();
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private readyResolve: () => void = () => undefined;
  /** Resolves once the first list is in memory. */
  readonly ready: Promise<void>;
  private changes = 0;
  private watchRestarts = 0;
  private lastError: string | undefined;

  constructor(
    private readonly backend: OperationsBackend,
    private readonly logger: FeedLogger,
    private readonly settleMs = DECISIONS_SETTLE_MS,
    private readonly clock: Pick<Clock, 'sleep'> = createSystemClock(),
  ) {
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  start(): void {
    this.running ??= this.run();
  }

  private async run(): Promise<void> {
    const scope = { namespace: undefined, allNamespaces: true };
    while (!this.stopping.signal.aborted) {
      try {
        const listed = await this.backend.list(scope);
        const present = new Set(
          listed.map((canary) => keyOf(canary.metadata.namespace ?? 'default', canary.metadata.name)),
        );
        for (const key of [...this.entries.keys()])
          if (!present.has(key)) {
            const [namespace, name] = key.split('/') as [string, string];
            this.entries.delete(key);
            this.emit({ type: 'deleted', namespace, name });
          }
        await Promise.all(listed.map((canary) => this.refresh(canary)));
        this.readyResolve();
        await this.backend.watch(
          scope,
          (change, canary) => this.onChange(change, canary),
          this.stopping.signal,
        );
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        this.logger.warn({ err: this.lastError }, 'dashboard watch failed; listing again');
      }
      if (this.stopping.signal.aborted) return;
      this.watchRestarts += 1;
      await this.pause(RETRY_MS);
    }
  }

  private pause(ms: number): Promise<void> {
    return this.clock.sleep(ms, this.stopping.signal);
  }

  private onChange(change: 'ADDED' | 'MODIFIED' | 'DELETED', canary: CanaryObject): void {
    this.changes += 1;
    const namespace = canary.metadata.namespace ?? 'default';
    if (change === 'DELETED') {
      this.entries.delete(keyOf(namespace, canary.metadata.name));
      this.emit({ type: 'deleted', namespace, name: canary.metadata.name });
      return;
    }
    void this.refresh(canary).then(async () => {
      // The controller writes the decision just after the status (docs/adr/0032): read once more.
      await this.pause(this.settleMs);
      if (this.stopping.signal.aborted) return;
      const current = this.entries.get(keyOf(namespace, canary.metadata.name));
      if (current !== undefined) await this.refresh(current.canary);
    });
  }

  /** Reads the canary's decisions (one read per change, shared by every browser) and publishes. */
  private async refresh(canary: CanaryObject): Promise<void> {
    const namespace = canary.metadata.namespace ?? 'default';
    const key = keyOf(namespace, canary.metadata.name);
    let decisions: readonly Decision[];
    try {
      decisions = await this.backend.decisions(namespace, canary.metadata.name);
    } catch (error) {
      this.logger.warn(
        { canary: key, err: error instanceof Error ? error.message : String(error) },
        'dashboard: cannot read the decisions',
      );
      decisions = this.entries.get(key)?.decisions ?? [];
    }
    const before = this.entries.get(key);
    // A slower read must not replace a newer canary.
    if (before !== undefined && newer(before.canary, canary)) return;
    const entry = { canary, decisions };
    if (
      before !== undefined &&
      JSON.stringify(before.canary) === JSON.stringify(canary) &&
      before.decisions.length === decisions.length &&
      before.decisions.at(-1)?.time === decisions.at(-1)?.time
    )
      return;
    this.entries.set(key, entry);
    this.emit({ type: 'changed', entry });
  }

  private emit(event: FeedEvent): void {
    for (const subscriber of this.subscribers) subscriber(event);
  }

  list(): FeedEntry[] {
    return [...this.entries.values()];
  }

  get(namespace: string, name: string): FeedEntry | undefined {
    return this.entries.get(keyOf(namespace, name));
  }

  subscribe(subscriber: (event: FeedEvent) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  health(): Record<string, unknown> {
    return {
      canaries: this.entries.size,
      subscribers: this.subscribers.size,
      changesSeen: this.changes,
      watchRestarts: this.watchRestarts,
      ...(this.lastError === undefined ? {} : { lastWatchError: this.lastError }),
    };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.readyResolve();
    await this.running;
  }
}

function newer(kept: CanaryObject, incoming: CanaryObject): boolean {
  const a = Number(kept.metadata.resourceVersion);
  const b = Number(incoming.metadata.resourceVersion);
  return Number.isFinite(a) && Number.isFinite(b) && a > b;
}
