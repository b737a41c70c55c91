/**
 * Object reads served from the informers' caches (reader.ts): a steady-state analysis tick reads
 * the Deployment, Services, HPA... it needs without a single GET, because a watch already keeps
 * them current. A read falls back to a GET only when no synced informer can answer it.
 *
 * An informer answers for its resource in its namespace (an all-namespaces informer for every
 * namespace). When it does not have the object, the object does not exist: that answer is
 * authoritative and costs no request. An informer with a label selector only sees part of the
 * resource, so its miss is not authoritative and goes to the API server.
 */
import { Counter, type Registry } from 'prom-client';
import type { KubeClient, KubeObject } from './client.js';
import type { Informer } from './informer.js';
import { resourceLabel } from './informer-metrics.js';
import type { ObjectReader } from './reader.js';
import { resourceKey, type ResourceType } from './resources.js';

/** The part of KubeClient a CachedReader uses. */
export type GetClient = Pick<KubeClient, 'get'>;

type AnyInformer = Informer<KubeObject>;

const READS_METRIC = 'vireo_cache_reads_total';
/** How long an object we wrote fills a gap in a cache whose watch has not delivered it yet. */
const OWN_WRITE_TTL_MS = 30_000;
const OWN_WRITES_CAPACITY = 5_000;

export class CachedReader implements ObjectReader {
  private readonly informers = new Map<string, AnyInformer[]>();
  private readonly reads: Counter<'resource' | 'result'>;
  private readonly ownWrites = new Map<string, { object: KubeObject; until: number }>();

  /**
   * `informers`: by resource plural (the key is informational: each informer is filed under its
   * own resource, group and version included), or a list; several per resource are fine (one per
   * namespace).
   */
  constructor(
    private readonly client: GetClient,
    informers: ReadonlyMap<string, AnyInformer> | readonly AnyInformer[],
    registry: Registry,
  ) {
    // Arrays and maps both iterate their informers with values().
    for (const informer of informers.values()) this.addInformer(informer);
    // Reused when the registry has it already (a second reader in the same process).
    this.reads =
      (registry.getSingleMetric(READS_METRIC) as Counter<'resource' | 'result'> | undefined) ??
      new Counter({
        name: READS_METRIC,
        help: 'Object reads by resource: served from an informer cache (hit) or by a GET (miss).',
        labelNames: ['resource', 'result'],
        registers: [registry],
      });
  }

  /** Serves reads of the informer's resource from it once it is current (router watches start late). */
  addInformer(informer: AnyInformer): void {
    const key = resourceKey(informer.resource);
    this.informers.set(key, [...(this.informers.get(key) ?? []), informer]);
  }

  /** Stops serving reads from an informer (a watch that failed and is being replaced). */
  removeInformer(informer: AnyInformer): void {
    const key = resourceKey(informer.resource);
    const remaining = (this.informers.get(key) ?? []).filter((candidate) => candidate !== informer);
    if (remaining.length === 0) this.informers.delete(key);
    else this.informers.set(key, remaining);
  }

  /**
   * Remembers an object the controller just created or wrote. Until the watch delivers exactly
   * that version (or the entry expires), the cache may be older than our own write: a gap is
   * filled with the written object (readiness right after creating the primary), and a cached copy
   * of another version is not trusted: the read goes to the API server. resourceVersions are only
   * compared for equality (they cannot be ordered). Acting on a cached copy older than our own
   * write once scaled a canary to zero while its Ingress still sent it matched requests
   * (test/cluster/apiserver-restart.test.ts).
   */
  recordWrite(resource: ResourceType, object: KubeObject, now = Date.now()): void {
    const key = `${resourceKey(resource)}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    if (this.ownWrites.size >= OWN_WRITES_CAPACITY) {
      for (const [stale, entry] of this.ownWrites) if (entry.until < now) this.ownWrites.delete(stale);
      if (this.ownWrites.size >= OWN_WRITES_CAPACITY) this.ownWrites.clear();
    }
    this.ownWrites.set(key, { object, until: now + OWN_WRITE_TTL_MS });
  }

  private ownWrite(cacheKey: string, namespace: string, name: string): KubeObject | undefined {
    const key = `${cacheKey}/${namespace}/${name}`;
    const entry = this.ownWrites.get(key);
    if (entry === undefined) return undefined;
    if (entry.until < Date.now()) {
      this.ownWrites.delete(key);
      return undefined;
    }
    return entry.object;
  }

  /** A copy of the cached object (callers may mutate it), or of the GET's answer on a miss. */
  async get<T extends KubeObject>(
    resource: ResourceType,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    // Metrics name the kind as kubectl does; the cache keeps each served version apart.
    const label = resourceLabel(resource);
    const cacheKey = resourceKey(resource);
    // Cluster-scoped objects are cached under their name alone.
    const cacheNamespace = resource.namespaced ? namespace : undefined;
    const ownNamespace = resource.namespaced ? namespace : '';
    for (const informer of this.informers.get(cacheKey) ?? []) {
      // A broken or backing-off watch (an API server restart) may have missed writes: ask the server.
      if (!informer.current) continue;
      if (resource.namespaced && informer.namespace !== undefined && informer.namespace !== namespace)
        continue;
      const cached = informer.get(cacheNamespace, name);
      const written = this.ownWrite(cacheKey, ownNamespace, name);
      if (cached !== undefined) {
        if (written !== undefined && written.metadata.resourceVersion !== cached.metadata.resourceVersion)
          break; // the cache has not delivered our last write yet
        if (written !== undefined) this.ownWrites.delete(`${cacheKey}/${ownNamespace}/${name}`);
        this.reads.inc({ resource: label, result: 'hit' });
        return structuredClone(cached) as T;
      }
      if (informer.labelSelector === undefined) {
        this.reads.inc({ resource: label, result: 'hit' });
        return written === undefined ? undefined : (structuredClone(written) as T);
      }
    }
    this.reads.inc({ resource: label, result: 'miss' });
    return this.client.get<T>(resource, namespace, name);
  }
}
