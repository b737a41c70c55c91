/**
 * The informer and the cache-backed reader on a real kube-apiserver: changes made by another
 * client arrive, watches the server ends every ~2 s are resumed without losing events, reads of
 * watched objects cost no GET (a missing one neither), and a resource the server does not serve
 * fails start the way a missing CRD must.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedReader } from '../../src/platforms/kubernetes/cache.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { InformerMetrics } from '../../src/platforms/kubernetes/informer-metrics.js';
import { Informer } from '../../src/platforms/kubernetes/informer.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { adminClient, ensureNamespace, eventually } from '../support/kube.js';

const NAMESPACE = 'informer';

let cluster: TestCluster;
/** Makes the changes, as another controller or a user would. */
let writer: KubeClient;
/** The informer's own client, so its request counter shows only the informer's requests. */
let watcher: KubeClient;
const informers: Informer<KubeObject>[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  writer = await adminClient(cluster);
  watcher = await adminClient(cluster);
  await ensureNamespace(writer, NAMESPACE);
}, 180_000);

afterAll(async () => {
  await Promise.all(informers.map((informer) => informer.stop()));
  await watcher?.close();
  await writer?.close();
  await cluster?.stop();
}, 60_000);

type ConfigMap = KubeObject & { data?: Record<string, string> };

const configMap = (name: string, value: string): ConfigMap => ({
  metadata: { name, namespace: NAMESPACE },
  data: { value },
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newTestInformer(
  registry: Registry,
  resource: ResourceType = RESOURCES.configMaps,
): Informer<ConfigMap> {
  const informer = new Informer<ConfigMap>(watcher, {
    resource,
    namespace: NAMESPACE,
    // The server ends each watch after about 2 s: the informer must resume from its resourceVersion.
    watchTimeoutSeconds: 2,
    metrics: new InformerMetrics(registry),
  });
  informers.push(informer);
  return informer;
}

async function counted(registry: Registry, event: string): Promise<number> {
  const metric = await registry.getSingleMetric('vireo_watch_events_total')!.get();
  return metric.values.find((v) => v.labels['event'] === event)?.value ?? 0;
}

describe('Informer on a real API server', () => {
  it('sees adds, updates and deletes made by another client, across watches the server ends', async () => {
    await writer.create(RESOURCES.configMaps, configMap('before', 'v1'));
    const registry = new Registry();
    const informer = newTestInformer(registry);
    const seen: string[] = [];
    // kube-controller-manager adds kube-root-ca.crt to every namespace: not ours to count.
    const ours = (o: ConfigMap) => o.metadata.name !== 'kube-root-ca.crt';
    informer.onAdd((o) => ours(o) && seen.push(`add ${o.metadata.name} ${o.data?.['value']}`));
    informer.onUpdate((o) => ours(o) && seen.push(`update ${o.metadata.name} ${o.data?.['value']}`));
    informer.onDelete((o) => ours(o) && seen.push(`delete ${o.metadata.name}`));
    await informer.start();
    expect(informer.synced).toBe(true);
    expect(informer.get(NAMESPACE, 'before')?.data).toEqual({ value: 'v1' });

    // Changes spread over ~7 s, so several of them land around the server ending a watch.
    const expected: string[] = ['add before v1'];
    for (let round = 0; round < 7; round += 1) {
      const name = `cm-${round}`;
      await writer.create(RESOURCES.configMaps, configMap(name, 'v1'));
      await writer.mergePatch(RESOURCES.configMaps, NAMESPACE, name, { data: { value: 'v2' } });
      expected.push(`add ${name} v1`, `update ${name} v2`);
      if (round % 2 === 1) {
        await writer.delete(RESOURCES.configMaps, NAMESPACE, `cm-${round - 1}`);
        expected.push(`delete cm-${round - 1}`);
      }
      await wait(1_000);
    }
    await writer.mergePatch(RESOURCES.configMaps, NAMESPACE, 'before', { data: { value: 'v2' } });
    expected.push('update before v2');

    await eventually(
      () => Promise.resolve(seen.length),
      (length) => length >= expected.length,
      15_000,
      'all events seen',
    );
    // A resumed watch neither drops nor repeats events; per-object order is what matters.
    expect([...seen].sort()).toEqual([...expected].sort());
    const server = await writer.list<ConfigMap>(RESOURCES.configMaps, NAMESPACE);
    const summary = (objects: ConfigMap[]) =>
      objects.map((o) => `${o.metadata.name}=${o.data?.['value']}@${o.metadata.resourceVersion}`).sort();
    expect(summary(informer.list(NAMESPACE))).toEqual(summary(server.items));
    expect(await counted(registry, 'connect')).toBeGreaterThanOrEqual(3);
    expect(await counted(registry, 'error')).toBe(0);
    expect(await counted(registry, 'relist')).toBe(0);
  });

  it('serves reads from the cache with no GET, a missing object included', async () => {
    const registry = new Registry();
    const informer = newTestInformer(registry);
    await writer.create(RESOURCES.configMaps, configMap('cached', 'yes'));
    await informer.start();
    const reader = new CachedReader(watcher, new Map([['configmaps', informer]]), registry);

    const before = watcher.counter.snapshot()['get'] ?? 0;
    for (let tick = 0; tick < 20; tick += 1) {
      const cached = await reader.get<ConfigMap>(RESOURCES.configMaps, NAMESPACE, 'cached');
      expect(cached?.data).toEqual({ value: 'yes' });
      expect(await reader.get(RESOURCES.configMaps, NAMESPACE, 'no-such-configmap')).toBeUndefined();
    }
    expect((watcher.counter.snapshot()['get'] ?? 0) - before).toBe(0);

    // A change shows in the next read, still without a GET.
    await writer.mergePatch(RESOURCES.configMaps, NAMESPACE, 'cached', { data: { value: 'changed' } });
    await eventually(
      () => reader.get<ConfigMap>(RESOURCES.configMaps, NAMESPACE, 'cached'),
      (o) => o?.data?.['value'] === 'changed',
      10_000,
      'the change in the cache',
    );
    expect((watcher.counter.snapshot()['get'] ?? 0) - before).toBe(0);

    // Something no informer watches costs exactly one GET.
    expect(await reader.get(RESOURCES.services, NAMESPACE, 'no-such-service')).toBeUndefined();
    expect((watcher.counter.snapshot()['get'] ?? 0) - before).toBe(1);
  });

  it('fails start naming the resource when the API server does not serve it (a missing CRD)', async () => {
    const widgets: ResourceType = {
      group: 'example.vireo.dev',
      version: 'v1',
      plural: 'widgets',
      kind: 'Widget',
      namespaced: true,
    };
    const informer = newTestInformer(new Registry(), widgets);
    await expect(informer.start()).rejects.toMatchObject({
      code: 'E_INFORMER_RESOURCE_NOT_FOUND',
      message: expect.stringContaining('widgets.example.vireo.dev'),
    });
  });
});
