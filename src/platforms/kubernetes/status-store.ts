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
  /** False while the cache may lag the server (informer.ts `current`). */
  readonly current?: boolean;
}

/**
 * The resourceVersion of each canary's latest status this controller wrote (or read fresh), until
 * the watch cache has caught up with it. A tick decides from the Canary's status; deciding from a
 * cached copy older than our own last write would replay a step already taken (promote again,
 * finalise again, or move traffic back onto a canary already scaled to zero), and the
 * conflict-retry of the write would then apply that stale decision to the current status. The
 * watch normally delivers our write within milliseconds; it lags when a watch is broken or backing
 * off, e.g. after an API server restart (test/cluster/apiserver-restart.test.ts).
 */
export class OwnStatusWrites {
  private readonly versions = new Map<string, string>();

  record(key: CanaryKey, version: string | undefined): void {
    if (version === undefined || version === '') return;
    this.versions.set(idOf(key), version);
  }

  /** True when the cached copy (of `version`) may be older than what we wrote last. */
  isBehind(key: CanaryKey, version: string | undefined): boolean {
    const id = idOf(key);
    const written = this.versions.get(id);
    if (written === undefined) return false;
    // resourceVersions are only compared for equality: once the cache holds exactly what we
    // wrote, it has caught up, and the entry goes.
    if (written === version) {
      this.versions.delete(id);
      return false;
    }
    return true;
  }

  /**
   * A write whose answer was lost (the API server went away mid-request) may or may not have been
   * applied: until a read from the server is recorded, no cached copy is trusted.
   */
  markUnknown(key: CanaryKey): void {
    this.versions.set(idOf(key), UNKNOWN_OUTCOME);
  }

  forget(key: CanaryKey): void {
    this.versions.delete(idOf(key));
  }
}

const idOf = (key: CanaryKey): string => `${key.namespace}/${key.name}`;

/** Never a resourceVersion, so no cached copy equals it. */
const UNKNOWN_OUTCOME = '\u0000unknown';

class CanaryStatusStorage implements VersionedStatusStorage {
  private readonly staleCache = new Set<string>();

  constructor(
    private readonly client: KubeClient,
    private readonly cache: CanaryCache,
    private readonly ownWrites: OwnStatusWrites,
  ) {}

  async read(key: CanaryKey): Promise<VersionedStatus> {
    const id = `${key.namespace}/${key.name}`;
    let object: CanaryObject | undefined = this.cache.get(key.namespace, key.name);
    // After a conflict, or while the cache has not seen our last write, the cache is stale.
    const stale = this.staleCache.delete(id);
    if (
      stale ||
      this.cache.current === false ||
      this.ownWrites.isBehind(key, object?.metadata.resourceVersion)
    ) {
      object = await this.client.get<CanaryObject>(RESOURCES.canaries, key.namespace, key.name);
    }
    if (object === undefined) throw new CanaryGoneError(key);
    return { status: object.status ?? {}, version: object.metadata.resourceVersion ?? '' };
  }

  async write(key: CanaryKey, status: CanaryStatus, version: string): Promise<void> {
    const id = `${key.namespace}/${key.name}`;
    try {
      // /status ignores everything but the status; the resourceVersion makes the write conditional.
      const written: KubeObject = await this.client.replaceStatus<KubeObject>(RESOURCES.canaries, {
        metadata: { name: key.name, namespace: key.namespace, resourceVersion: version },
        status,
      });
      this.ownWrites.record(key, written.metadata.resourceVersion);
    } catch (error) {
      if (isConflict(error)) {
        this.staleCache.add(id);
        throw new StatusConflictError(`status of ${id} changed since resourceVersion ${version}`);
      }
      // The write may have been applied even though its answer was lost: a tick deciding from the
      // cached copy would act on the phase before it (test/cluster/apiserver-restart.test.ts saw a
      // failed promotion resumed from a stale Promoting and its conflict retry overwrite Failed).
      this.ownWrites.markUnknown(key);
      throw error;
    }
  }
}

export function kubernetesStatusStore(
  client: KubeClient,
  cache: CanaryCache,
  ownWrites: OwnStatusWrites = new OwnStatusWrites(),
): VersionedStatusStore {
  return new VersionedStatusStore(new CanaryStatusStorage(client, cache, ownWrites));
}
