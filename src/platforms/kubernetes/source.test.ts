/**
 * Read-your-own-writes for the Canary a tick decides from: while the watch has not delivered the
 * controller's own last status write (a broken or backing-off watch, e.g. after an API server
 * restart), the tick must not see the older cached status, or it replays a step already taken.
 */
import { describe, expect, it } from 'vitest';
import type { Canary } from '../../api/schema/canary.js';
import type { KubeClient, KubeObject } from './client.js';
import { KubeApiError } from './errors.js';
import { CachedCanarySource } from './source.js';
import { kubernetesStatusStore, OwnStatusWrites } from './status-store.js';

type CanaryObject = Canary & KubeObject;
const key = { namespace: 'test', name: 'podinfo' };

function canaryAt(version: number, status: CanaryObject['status']): CanaryObject {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', resourceVersion: String(version) },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 80 },
    },
    status,
  } as CanaryObject;
}

/** An API server holding one Canary, with conditional status writes, and a watch cache that lags. */
function world() {
  let version = 7;
  let stored = canaryAt(version, { phase: 'Progressing', canaryWeight: 60 });
  const watchCache = { object: stored, current: true };
  let gets = 0;
  /** The next status write is applied, then its answer is lost (the API server killed mid-request). */
  let loseNextAnswer = false;
  const client = {
    get: () => {
      gets += 1;
      return Promise.resolve(structuredClone(stored));
    },
    replaceStatus: (_resource: unknown, object: KubeObject & { status: CanaryObject['status'] }) => {
      if (object.metadata.resourceVersion !== stored.metadata.resourceVersion)
        return Promise.reject(new KubeApiError('E_KUBE_CONFLICT', 'conflict', 409));
      version += 1;
      stored = {
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: String(version) },
        status: object.status,
      };
      if (loseNextAnswer) {
        loseNextAnswer = false;
        return Promise.reject(new Error('socket hang up'));
      }
      return Promise.resolve(structuredClone(stored));
    },
  };
  const ownWrites = new OwnStatusWrites();
  const cache = {
    get: () => watchCache.object,
    get current() {
      return watchCache.current;
    },
  };
  const status = kubernetesStatusStore(client as unknown as KubeClient, cache, ownWrites);
  const source = new CachedCanarySource({
    canaries: cache,
    metricTemplates: { get: () => undefined },
    alertProviders: { get: () => undefined },
    reader: { get: () => Promise.resolve(undefined) },
    freshness: { ownWrites, client: client as unknown as KubeClient },
  });
  return {
    status,
    source,
    /** The watch delivers everything written so far. */
    catchUp: () => {
      watchCache.object = stored;
    },
    /** Someone else (or our write whose answer was lost) changes the stored status. */
    writeBehindTheCache: (status: CanaryObject['status']) => {
      version += 1;
      stored = { ...stored, metadata: { ...stored.metadata, resourceVersion: String(version) }, status };
    },
    breakWatch: () => {
      watchCache.current = false;
    },
    loseNextAnswer: () => {
      loseNextAnswer = true;
    },
    get gets() {
      return gets;
    },
  };
}

describe('the Canary a tick reads', () => {
  it('is our own last status write even when the watch has not delivered it', async () => {
    const { status, source } = world();
    await status.update(key, (current) => ({ ...current, phase: 'Promoting' }));
    // The cache still says Progressing at 60 %: deciding from it would promote a second time.
    expect((await source.getCanary(key))?.status).toMatchObject({ phase: 'Promoting' });
    await status.update(key, (current) => ({ ...current, phase: 'Succeeded', canaryWeight: 0 }));
    expect((await source.getCanary(key))?.status).toMatchObject({ phase: 'Succeeded', canaryWeight: 0 });
  });

  it('comes from the cache, without a request, once the watch has caught up', async () => {
    const test = world();
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Progressing');
    expect(test.gets).toBe(0);
    await test.status.update(key, (current) => ({ ...current, phase: 'Promoting' }));
    test.catchUp();
    const before = test.gets;
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Promoting');
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Promoting');
    expect(test.gets).toBe(before);
  });

  it('comes from the API server while the Canary watch is broken, e.g. after an API server restart', async () => {
    const test = world();
    // A write whose answer was lost with the API server: committed, but not known as ours.
    test.writeBehindTheCache({ phase: 'Finalising', canaryWeight: 0 });
    test.breakWatch();
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Finalising');
    const next = await test.status.update(key, (current) => ({ ...current, phase: 'Succeeded' }));
    expect(next).toMatchObject({ phase: 'Succeeded', canaryWeight: 0 });
  });

  it('lets a status write start from our last write instead of conflicting on the stale cache', async () => {
    const test = world();
    await test.status.update(key, (current) => ({ ...current, phase: 'Promoting' }));
    const next = await test.status.update(key, (current) => ({ ...current, phase: 'Finalising' }));
    expect(next.phase).toBe('Finalising');
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Finalising');
  });

  it('comes from the API server after a status write whose answer was lost, even while the watch looks healthy', async () => {
    const test = world();
    await test.status.update(key, (current) => ({ ...current, phase: 'Promoting' }));
    test.catchUp();
    // The promotion fails; the write is applied, but the API server dies before answering.
    test.loseNextAnswer();
    await expect(
      test.status.update(key, (current) => ({ ...current, phase: 'Failed', canaryWeight: 100 })),
    ).rejects.toThrow('socket hang up');
    // The cache still says Promoting: a tick deciding from it would finalise a failed promotion,
    // and its conflict retry would overwrite Failed.
    expect((await test.source.getCanary(key))?.status?.phase).toBe('Failed');
  });
});
