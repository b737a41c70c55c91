/**
 * Canary status through the /status subresource with optimistic concurrency (engineering notes
 * §2.3 option b, as Flagger's RetryOnConflict): read, change, PUT with the resourceVersion read;
 * on 409 read again and re-apply. The first read comes from the watch cache (usually current, and
 * free); a retry after a conflict reads from the API server, since the cache was what was stale.
 */
import type { Canary, CanaryStatus } from '../../api/schema/canary.js';
import type { CanaryKey } from '../../engine/ports.js';
import {
  StatusConflictError,
  VersionedStatusStore,
  type VersionedStatus,
  type VersionedStatusStorage,
} from '../../engine/versioned-status-store.js';
import { VireoError } from '../../shared/errors.js';
import type { KubeClient, KubeObject } from './client.js';
import { isConflict } from './errors.js';
import { RESOURCES } from './resources.js';

type CanaryObject = Canary & KubeObject;

export class CanaryGoneError extends VireoError {
  constructor(key: CanaryKey) {
    super(
      'E_CANARY_GONE',
      `Canary ${key.name}.${key.namespace} no longer exists; its status was not written`,
    );
  }
}

export interface CanaryCache {
  get(namespace: string, name: string): CanaryObject | undefined;
}

class CanaryStatusStorage implements VersionedStatusStorage {
  private readonly staleCache = new Set<string>();

  constructor(
    private readonly client: KubeClient,
    private readonly cache: CanaryCache,
  ) {}

  async read(key: CanaryKey): Promise<VersionedStatus> {
    const id = `${key.namespace}/${key.name}`;
    let object: CanaryObject | undefined;
    if (this.staleCache.delete(id)) {
      object = await this.client.get<CanaryObject>(RESOURCES.canaries, key.namespace, key.name);
    } else {
      object = this.cache.get(key.namespace, key.name);
    }
    if (object === undefined) throw new CanaryGoneError(key);
    return { status: object.status ?? {}, version: object.metadata.resourceVersion ?? '' };
  }

  async write(key: CanaryKey, status: CanaryStatus, version: string): Promise<void> {
    const id = `${key.namespace}/${key.name}`;
    try {
      // /status ignores everything but the status; the resourceVersion makes the write conditional.
      await this.client.replaceStatus(RESOURCES.canaries, {
        metadata: { name: key.name, namespace: key.namespace, resourceVersion: version },
        status,
      });
    } catch (error) {
      if (isConflict(error)) {
        this.staleCache.add(id);
        throw new StatusConflictError(`status of ${id} changed since resourceVersion ${version}`);
      }
      throw error;
    }
  }
}

export function kubernetesStatusStore(client: KubeClient, cache: CanaryCache): VersionedStatusStore {
  return new VersionedStatusStore(new CanaryStatusStorage(client, cache));
}
