/**
 * The controller's client on a real kube-apiserver: CRUD, server-side apply that keeps
 * x-kubernetes fields, optimistic concurrency on /status, typed errors, watches, and a count of every request sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject, WatchEvent } from '../../src/platforms/kubernetes/client.js';
import { KubeApiError } from '../../src/platforms/kubernetes/errors.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { startKubeTest, type KubeTest } from '../support/kube.js';

let client: KubeClient;
let kube: KubeTest;

beforeAll(async () => {
  kube = await startKubeTest({ namespaces: ['client'] });
  client = kube.client;
}, 180_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

const canary = (name: string): KubeObject => ({
  metadata: { name, namespace: 'client' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
    service: { port: 80 },
    analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
  },
});

describe('KubeClient', () => {
  it('creates, reads, lists and deletes, and get gives undefined for a missing object', async () => {
    await client.create(RESOURCES.configMaps, {
      metadata: { name: 'one', namespace: 'client' },
      data: { a: '1' },
    });
    const read = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.configMaps,
      'client',
      'one',
    );
    expect(read?.data).toEqual({ a: '1' });
    const list = await client.list(RESOURCES.configMaps, 'client');
    expect(list.items.map((item) => item.metadata.name)).toContain('one');
    expect(list.items[0]?.kind).toBe('ConfigMap');
    expect(await client.delete(RESOURCES.configMaps, 'client', 'one')).toBe(true);
    expect(await client.get(RESOURCES.configMaps, 'client', 'one')).toBeUndefined();
    expect(await client.delete(RESOURCES.configMaps, 'client', 'one')).toBe(false);
  });

  it('applies a Canary server-side and writes its status only through /status, refusing a stale version', async () => {
    const applied = await client.apply(RESOURCES.canaries, canary('applied'));
    expect(applied.metadata.uid).toBeDefined();
    const withStatus = await client.replaceStatus(RESOURCES.canaries, {
      ...applied,
      status: { phase: 'Initializing', failedChecks: 0 },
    });
    expect((withStatus['status'] as { phase: string }).phase).toBe('Initializing');
    const stale = client.replaceStatus(RESOURCES.canaries, { ...applied, status: { phase: 'Failed' } });
    await expect(stale).rejects.toMatchObject({ code: 'E_KUBE_CONFLICT', status: 409 });
  });

  it('names the field the API server refused', async () => {
    const bad = client.create(RESOURCES.services, {
      metadata: { name: 'bad', namespace: 'client' },
      spec: { ports: [{ port: 700000 }] },
    });
    await expect(bad).rejects.toBeInstanceOf(KubeApiError);
    await expect(bad).rejects.toMatchObject({
      code: 'E_KUBE_INVALID',
      message: expect.stringMatching(/spec\.ports\[0\]\.port/),
    });
  });

  it('watches from the resourceVersion of a list and ends when the server ends the watch', async () => {
    const { resourceVersion } = await client.list(RESOURCES.configMaps, 'client');
    const seen: WatchEvent<KubeObject>[] = [];
    const controller = new AbortController();
    const watching = client
      .watch(
        RESOURCES.configMaps,
        'client',
        { resourceVersion, timeoutSeconds: 30, inactivityMs: 60_000, signal: controller.signal },
        (event) => seen.push(event),
      )
      .catch(() => undefined);
    await client.create(RESOURCES.configMaps, { metadata: { name: 'watched', namespace: 'client' } });
    const deadline = Date.now() + 10_000;
    while (
      !seen.some((event) => event.type === 'ADDED' && event.object.metadata.name === 'watched') &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    controller.abort();
    await watching;
    expect(seen.some((event) => event.type === 'ADDED' && event.object.metadata.name === 'watched')).toBe(
      true,
    );
    // The server ends a watch cleanly after timeoutSeconds: the call resolves, the informer re-watches.
    const started = Date.now();
    await client.watch(
      RESOURCES.configMaps,
      'client',
      { resourceVersion, timeoutSeconds: 1, inactivityMs: 10_000 },
      () => undefined,
    );
    expect(Date.now() - started).toBeLessThan(9_000);
  });

  it('counts every request by verb', async () => {
    const before = client.counter.snapshot();
    await client.get(RESOURCES.configMaps, 'client', 'missing');
    await client.list(RESOURCES.configMaps, 'client');
    const after = client.counter.snapshot();
    expect((after['get'] ?? 0) - (before['get'] ?? 0)).toBe(1);
    expect((after['list'] ?? 0) - (before['list'] ?? 0)).toBe(1);
  });
});
