/**
 * The engine's CanarySource and the metric providers' SecretReader, served from the controller's
 * watch caches: a tick reads its Canary, MetricTemplates, AlertProviders and Secrets without a
 * request to the API server.
 */
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { Canary } from '../../api/schema/canary.js';
import type { MetricTemplate } from '../../api/schema/metric-template.js';
import type { CanaryKey, CanarySource } from '../../engine/ports.js';
import { decodeSecretData, SecretNotFoundError, type SecretReader } from '../../secrets/secret-reader.js';
import type { KubeClient, KubeObject } from './client.js';
import type { ObjectReader } from './reader.js';
import { RESOURCES } from './resources.js';
import type { OwnStatusWrites } from './status-store.js';

/** The subset of an informer the source reads. */
export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  /** False while the cache may lag the server (its watch broke and has not caught up). */
  readonly current?: boolean;
}

export interface CachedCanarySourceDeps {
  readonly canaries: ObjectCache<Canary & KubeObject>;
  /**
   * With the status store's record of our own writes, a Canary the cache holds in a version older
   * than our last status write is read from the API server instead (status-store.ts).
   */
  readonly freshness?: { readonly ownWrites: OwnStatusWrites; readonly client: Pick<KubeClient, 'get'> };
  readonly metricTemplates: ObjectCache<MetricTemplate & KubeObject>;
  readonly alertProviders: ObjectCache<AlertProvider & KubeObject>;
  /** Secrets (and anything else) through the cache-backed reader. */
  readonly reader: ObjectReader;
}

export class CachedCanarySource implements CanarySource, SecretReader {
  constructor(private readonly deps: CachedCanarySourceDeps) {}

  async getCanary(key: CanaryKey): Promise<Canary | undefined> {
    const cached = this.deps.canaries.get(key.namespace, key.name);
    const freshness = this.deps.freshness;
    if (freshness === undefined) return cached;
    // A Canary watch that broke (an API server restart) may have missed writes, ours included
    // when the answer to a write was lost with the server: read the server until it caught up.
    const cacheLags = this.deps.canaries.current === false;
    if (!cacheLags && !freshness.ownWrites.isBehind(key, cached?.metadata.resourceVersion)) return cached;
    const fresh = await freshness.client.get<Canary & KubeObject>(
      RESOURCES.canaries,
      key.namespace,
      key.name,
    );
    if (fresh === undefined) freshness.ownWrites.forget(key);
    // Until the watch delivers this version too, the next read comes here again.
    else freshness.ownWrites.record(key, fresh.metadata.resourceVersion);
    return fresh;
  }

  getMetricTemplate(namespace: string, name: string): Promise<MetricTemplate | undefined> {
    return Promise.resolve(this.deps.metricTemplates.get(namespace, name));
  }

  getAlertProvider(namespace: string, name: string): Promise<AlertProvider | undefined> {
    return Promise.resolve(this.deps.alertProviders.get(namespace, name));
  }

  async getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const secret = await this.deps.reader.get<KubeObject>(RESOURCES.secrets, namespace, name);
    return secret === undefined
      ? undefined
      : decodeSecretData(secret as { data?: unknown; stringData?: unknown });
  }

  async read(namespace: string, name: string): Promise<Readonly<Record<string, string>>> {
    const data = await this.getSecret(namespace, name);
    if (data === undefined) throw new SecretNotFoundError(`Secret ${namespace}/${name} not found`);
    return data;
  }
}
