import { describe, expect, it } from 'vitest';
import type { CanaryStatus } from '../api/schema/canary.js';
import {
  StatusConflictError,
  VersionedStatusStore,
  type VersionedStatusStorage,
} from './versioned-status-store.js';

const key = { namespace: 'test', name: 'podinfo' };

/** Storage whose version moves on every write; `interfere` writes between our read and write. */
function storage(
  interfere: (write: (status: CanaryStatus) => void, attempt: number) => void = () => undefined,
) {
  let stored: CanaryStatus = { phase: 'Progressing', failedChecks: 0 };
  let version = 1;
  let attempt = 0;
  const backend: VersionedStatusStorage = {
    read: () => Promise.resolve({ status: structuredClone(stored), version: String(version) }),
    write: (_key, status, expected) => {
      attempt += 1;
      interfere((other) => {
        stored = other;
        version += 1;
      }, attempt);
      if (expected !== String(version)) return Promise.reject(new StatusConflictError('conflict'));
      stored = status;
      version += 1;
      return Promise.resolve();
    },
  };
  return { backend, stored: () => stored };
}

describe('VersionedStatusStore', () => {
  it('re-reads and re-applies the change after a conflict, so no concurrent write is lost', async () => {
    const { backend, stored } = storage((write, attempt) => {
      // Another writer (a user's kubectl patch, another tick) lands once, between read and write.
      if (attempt === 1) write({ phase: 'Progressing', failedChecks: 1, canaryWeight: 20 });
    });
    const store = new VersionedStatusStore(backend);
    const written = await store.update(key, (status) => ({
      ...status,
      failedChecks: (status.failedChecks ?? 0) + 1,
    }));
    expect(written).toEqual({ phase: 'Progressing', failedChecks: 2, canaryWeight: 20 });
    expect(stored()).toEqual(written);
  });

  it('gives up after a bounded number of conflicts with an error that says so', async () => {
    const { backend } = storage((write) => write({ phase: 'Progressing' }));
    const store = new VersionedStatusStore(backend, 3);
    await expect(store.update(key, (status) => status)).rejects.toThrow('changed under us 3 times in a row');
  });

  it('does not retry other errors', async () => {
    let writes = 0;
    const store = new VersionedStatusStore({
      read: () => Promise.resolve({ status: {}, version: '1' }),
      write: () => {
        writes += 1;
        return Promise.reject(new Error('forbidden'));
      },
    });
    await expect(store.update(key, (status) => status)).rejects.toThrow('forbidden');
    expect(writes).toBe(1);
  });
});
