/**
 * StatusStore on top of any storage with optimistic concurrency (a Kubernetes resourceVersion,
 * a file's revision counter): read, apply the change, write with the version read, and on a
 * conflict read again and re-apply, as client-go's RetryOnConflict does for Flagger.
 */
import type { CanaryStatus } from '../api/schema/canary.js';
import { VireoError } from '../shared/errors.js';
import type { CanaryKey, StatusStore } from './ports.js';

/** Thrown by `VersionedStatusStorage.write` when the version is no longer the latest. */
export class StatusConflictError extends VireoError {
  constructor(message: string) {
    super('E_STATUS_CONFLICT', message);
  }
}

export interface VersionedStatus {
  readonly status: CanaryStatus;
  readonly version: string;
}

export interface VersionedStatusStorage {
  read(key: CanaryKey): Promise<VersionedStatus>;
  /** Writes only if `version` is still the latest; throws StatusConflictError otherwise. */
  write(key: CanaryKey, status: CanaryStatus, version: string): Promise<void>;
}

export class VersionedStatusStore implements StatusStore {
  constructor(
    private readonly storage: VersionedStatusStorage,
    private readonly maxAttempts = 5,
  ) {}

  async update(key: CanaryKey, change: (status: CanaryStatus) => CanaryStatus): Promise<CanaryStatus> {
    for (let attempt = 1; ; attempt += 1) {
      const { status, version } = await this.storage.read(key);
      const next = change(structuredClone(status));
      try {
        await this.storage.write(key, next, version);
        return next;
      } catch (cause) {
        if (!(cause instanceof StatusConflictError) || attempt >= this.maxAttempts) {
          if (cause instanceof StatusConflictError) {
            throw new StatusConflictError(
              `status of ${key.name}.${key.namespace} changed under us ${attempt} times in a row; retrying on the next tick`,
            );
          }
          throw cause;
        }
      }
    }
  }
}
