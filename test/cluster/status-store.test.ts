/**
 * Canary status writes on the real kube-apiserver: through /status only, and when the cached
 * Canary is stale (another writer got there first) the change is re-applied to what the API
 * server has now, not to the stale copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { kubernetesStatusStore } from '../../src/platforms/kubernetes/status-store.js';
import { canary } from '../support/canary-fixtures.js';
import { startKubeTest, type KubeTest } from '../support/kube.js';

type CanaryObject = Canary & KubeObject;

let client: KubeClient;
let kube: KubeTest;

beforeAll(async () => {
  kube = await startKubeTest({ namespaces: ['status'] });
  client = kube.client;
}, 180_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

describe('Kubernetes status store', () => {
  it('given a stale cached Canary, when the engine changes the status, then the change is applied to the current status after one conflict', async () => {
    const created = await client.apply<CanaryObject>(
      RESOURCES.canaries,
      canary({
        namespace: 'status',
        provider: 'kubernetes',
        analysis: { interval: '10s', threshold: 2, iterations: 2 },
      }) as CanaryObject,
    );
    const stale = structuredClone(created);
    // Someone else writes first: the cache still holds the version before that write.
    await client.replaceStatus(RESOURCES.canaries, {
      ...created,
      status: { phase: 'Progressing', failedChecks: 1 },
    });
    const before = client.counter.snapshot();
    const store = kubernetesStatusStore(client, { get: () => stale });
    const changes: (number | undefined)[] = [];
    const written = await store.update({ namespace: 'status', name: 'podinfo' }, (status) => {
      changes.push(status.failedChecks);
      return { ...status, failedChecks: (status.failedChecks ?? 0) + 1 };
    });
    expect(changes).toEqual([undefined, 1]);
    expect(written.failedChecks).toBe(2);
    // One refused PUT, one GET of the current object, one accepted PUT.
    const after = client.counter.snapshot();
    expect((after['update'] ?? 0) - (before['update'] ?? 0)).toBe(2);
    expect((after['get'] ?? 0) - (before['get'] ?? 0)).toBe(1);
    const stored = await client.get<CanaryObject>(RESOURCES.canaries, 'status', 'podinfo');
    expect(stored?.status).toMatchObject({ phase: 'Progressing', failedChecks: 2 });
  });

  it('does not touch the spec: a status write cannot change what the user applied', async () => {
    const current = (await client.get<CanaryObject>(RESOURCES.canaries, 'status', 'podinfo'))!;
    const store = kubernetesStatusStore(client, { get: () => current });
    await store.update({ namespace: 'status', name: 'podinfo' }, (status) => ({
      ...status,
      canaryWeight: 30,
    }));
    const stored = (await client.get<CanaryObject>(RESOURCES.canaries, 'status', 'podinfo'))!;
    expect(stored.status?.canaryWeight).toBe(30);
    expect(stored.spec).toEqual(current.spec);
    expect(stored.metadata.generation).toBe(current.metadata.generation);
  });
});
