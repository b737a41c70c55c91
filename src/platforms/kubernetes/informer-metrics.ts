/**
 * Watch health as Prometheus metrics (engineering notes §2.1, style lesson 11): a watch that
 * silently stops looks exactly like a quiet cluster, so every reconnect, re-list, 410, error and
 * watchdog abort is counted, and the age of the last event is exported so an alert can fire on
 * "no event for N minutes" before users notice canaries that no longer move.
 *
 * One InformerMetrics per Registry, shared by every informer of the process (prom-client refuses
 * a second registration of the same name on one registry). Nothing is registered at import time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ResourceType } from './resources.js';

/** The `event` label of `vireo_watch_events_total`. */
export type WatchMetricEvent =
  | 'added'
  | 'modified'
  | 'deleted'
  | 'bookmark'
  /** A watch request was sent. */
  | 'connect'
  /** A full list after the first one (410, watchdog, periodic re-list, error with no resourceVersion). */
  | 'relist'
  /** The server answered 410: the resourceVersion is too old to watch from. */
  | 'gone'
  /** A list or watch failed for any other reason; followed by a jittered backoff. */
  | 'error'
  /** No event and no bookmark for `stalenessMs`: the watch was aborted. */
  | 'watchdog';

export const WATCH_METRIC_EVENTS: readonly WatchMetricEvent[] = [
  'added',
  'modified',
  'deleted',
  'bookmark',
  'connect',
  'relist',
  'gone',
  'error',
  'watchdog',
];

/** What an informer exposes for the gauges, read when Prometheus scrapes. */
export interface InformerMetricsSource {
  /** The `resource` label (see `resourceLabel`). */
  readonly resource: string;
  /** Objects in the cache now. */
  size(): number;
  /** Clock time (ms) of the last list, event or bookmark; undefined before the first list. */
  lastEventAt(): number | undefined;
}

export interface InformerMetricsOptions {
  /** Clock for the age gauge (ms since the epoch); injectable for tests. */
  readonly now?: () => number;
}

/** `configmaps` for the core group, `canaries.flagger.app` otherwise: as kubectl names resources. */
export function resourceLabel(resource: ResourceType): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
}

export class InformerMetrics {
  private readonly events: Counter<'resource' | 'event'>;
  private readonly sources = new Set<InformerMetricsSource>();
  private readonly now: () => number;

  /** Registers on `registry` (owned by the caller; never prom-client's global one). */
  constructor(registry: Registry, options: InformerMetricsOptions = {}) {
    this.now = options.now ?? Date.now;
    const registers = [registry];
    this.events = new Counter({
      name: 'vireo_watch_events_total',
      help: 'Watch events received and watch supervision actions, by resource and event.',
      labelNames: ['resource', 'event'],
      registers,
    });
    // Gauges are computed when scraped: several informers may cache the same resource (one per
    // namespace), and an age must grow between events, which no event-time update can do.
    const sources = this.sources;
    const now = this.now;
    new Gauge({
      name: 'vireo_watch_cache_objects',
      help: 'Objects held in the informer caches, by resource.',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        const totals = new Map<string, number>();
        for (const source of sources)
          totals.set(source.resource, (totals.get(source.resource) ?? 0) + source.size());
        for (const [resource, total] of totals) this.set({ resource }, total);
      },
    });
    new Gauge({
      name: 'vireo_watch_last_event_age_seconds',
      help: 'Seconds since the informers of a resource last received a list, event or bookmark.',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        // The freshest informer wins: one live watch per resource is enough to say it is seen.
        const latest = new Map<string, number>();
        for (const source of sources) {
          const at = source.lastEventAt();
          if (at === undefined) continue;
          latest.set(source.resource, Math.max(latest.get(source.resource) ?? at, at));
        }
        const current = now();
        for (const [resource, at] of latest) this.set({ resource }, Math.max(0, (current - at) / 1000));
      },
    });
  }

  count(resource: string, event: WatchMetricEvent): void {
    this.events.inc({ resource, event });
  }

  /** Adds an informer to the gauges; returns the function that removes it (on stop). */
  track(source: InformerMetricsSource): () => void {
    // Zero-valued series from the start, so `rate()` and `increase()` see the first increment.
    for (const event of WATCH_METRIC_EVENTS) this.events.inc({ resource: source.resource, event }, 0);
    this.sources.add(source);
    return () => {
      this.sources.delete(source);
    };
  }
}
