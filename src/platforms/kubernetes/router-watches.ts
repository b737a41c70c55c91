/**
 * The watches of the routers' own objects (VirtualServices, HTTPRoutes, Ingresses...), started
 * only for the routers in use: the --mesh-provider one at start, any other the first time a
 * canary names it. A cluster without Istio need not serve Istio's CRDs for the controller to run,
 * as with Flagger, which needs only the CRDs of the mesh it routes through
 * (docs/adr/0017-router-trait-table.md).
 *
 * A kind whose CRD is not installed (404 on the first list) fails only the canaries of that
 * router, whose reads then go to the API server and name the missing kind; its watch is tried
 * again after `retryAfterMs`, so installing the CRD later needs no controller restart.
 */
import { findRouter, type RouterObjectKind } from '../../routers/traits.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { CachedReader } from './cache.js';
import type { KubeObject } from './client.js';
import type { Informer } from './informer.js';
import { resourceLabel } from './informer-metrics.js';
import { resourceKey, type ResourceType } from './resources.js';

type AnyInformer = Informer<KubeObject>;

interface Watch {
  readonly informer: AnyInformer;
  /** When a failed start may be tried again (monotonic ms); undefined while it has not failed. */
  retryAt: number | undefined;
}

export interface RouterWatchesDeps {
  /** Makes an informer for a resource (the controller's namespace, metrics and logger). */
  readonly makeInformer: (resource: ResourceType) => AnyInformer;
  readonly reader: Pick<CachedReader, 'addInformer' | 'removeInformer'>;
  readonly logger: Logger;
  readonly clock: Pick<Clock, 'monotonic'>;
  /** How long after a failed start (CRD missing, RBAC missing) the watch is tried again. */
  readonly retryAfterMs?: number;
}

const DEFAULT_RETRY_AFTER_MS = 30_000;

export class RouterWatches {
  private readonly watches = new Map<string, Watch>();
  private readonly warned = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: RouterWatchesDeps) {}

  /**
   * Starts the watches of every kind the router `provider` writes, once. Never throws and never
   * waits: until a watch has listed, reads of its kind go to the API server.
   */
  ensure(provider: string): void {
    if (this.stopped) return;
    for (const kind of findRouter(provider)?.writes ?? []) this.ensureKind(provider, kind);
  }

  /** The kinds watched now, as `plural.version.group` (each served version apart), for tests and the start-up log. */
  get watchedKinds(): string[] {
    return [...this.watches.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.watches.values()].map((watch) => watch.informer.stop()));
  }

  private ensureKind(provider: string, kind: RouterObjectKind): void {
    const resource: ResourceType = { ...kind };
    const key = resourceKey(resource);
    // Users read kinds as kubectl names them, with the version that is watched.
    const shown = `${resourceLabel(resource)} (${resource.version})`;
    const existing = this.watches.get(key);
    if (existing !== undefined) {
      if (existing.retryAt === undefined || this.deps.clock.monotonic() < existing.retryAt) return;
      this.deps.reader.removeInformer(existing.informer);
      void existing.informer.stop();
    }
    const informer = this.deps.makeInformer(resource);
    const watch: Watch = { informer, retryAt: undefined };
    this.watches.set(key, watch);
    this.deps.reader.addInformer(informer);
    informer.start().then(
      () => {
        this.warned.delete(key);
        this.deps.logger.info({ resource: shown, provider }, 'watching the router objects');
      },
      (error: unknown) => {
        if (this.stopped) return;
        watch.retryAt = this.deps.clock.monotonic() + (this.deps.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
        // Once per kind until it works, so a cluster without the mesh does not fill the log.
        const level = this.warned.has(key) ? 'debug' : 'warn';
        this.warned.add(key);
        this.deps.logger[level](
          { resource: shown, provider, err: error },
          `cannot watch ${shown}, which the ${provider} router writes: canaries routed by ${provider} fail until it is served and allowed (install the mesh's CRDs, check the controller's RBAC); trying again later`,
        );
      },
    );
  }
}
