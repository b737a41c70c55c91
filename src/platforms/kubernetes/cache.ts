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
import type { ResourceType } from './resources.js';

/** The part of KubeClient a CachedReader uses. */
export type GetClient = Pick<KubeClient, 'get'>;

type AnyInformer = Informer<KubeObject>;

const READS_METRIC = 'vireo_cache_reads_total';

export class CachedReader implements ObjectReader {
  private readonly informers = new Map<string, AnyInformer[]>();
  private readonly reads: Counter<'resource' | 'result'>;

  /**
   * `informers`: by resource plural (the key is informational: each informer is filed under its
   * own resource, group included), or a list; several per resource are fine (one per namespace).
   */
  constructor(
    private readonly client: GetClient,
    informers: ReadonlyMap<string, AnyInformer> | readonly AnyInformer[],
    registry: Registry,
  ) {
    // Arrays and maps both iterate their informers with values().
    for (const informer of informers.values()) {
      const key = resourceLabel(informer.resource);
      this.informers.set(key, [...(this.informers.get(key) ?? []), informer]);
    }
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

  /** A copy of the cached object (callers may mutate it), or of the GET's answer on a miss. */
  async get<T extends KubeObject>(
    resource: ResourceType,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    const label = resourceLabel(resource);
    // Cluster-scoped objects are cached under their name alone.
    const cacheNamespace = resource.namespaced ? namespace : undefined;
    for (const informer of this.informers.get(label) ?? []) {
      if (!informer.synced) continue;
      if (resource.namespaced && informer.namespace !== undefined && informer.namespace !== namespace)
        continue;
      const cached = informer.get(cacheNamespace, name);
      if (cached !== undefined) {
        this.reads.inc({ resource: label, result: 'hit' });
        return structuredClone(cached) as T;
      }
      if (informer.labelSelector === undefined) {
        this.reads.inc({ resource: label, result: 'hit' });
        return undefined;
      }
    }
    this.reads.inc({ resource: label, result: 'miss' });
    return this.client.get<T>(resource, namespace, name);
  }
}
