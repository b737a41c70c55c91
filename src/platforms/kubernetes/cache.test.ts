import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CachedReader, type GetClient } from './cache.js';
import type { KubeObject, ListOptions } from './client.js';
import { InformerMetrics } from './informer-metrics.js';
import { Informer, type ListWatchClient } from './informer.js';
import { RESOURCES, type ResourceType } from './resources.js';

const object = (name: string, namespace?: string, labels?: Record<string, string>): KubeObject => ({
  metadata: {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    resourceVersion: '1',
    ...(labels === undefined ? {} : { labels }),
  },
  data: { name },
});

/** Lists the given objects (filtered as the API server would) and holds every watch open. */
function listWatch(objects: KubeObject[], options: { failLists?: boolean } = {}): ListWatchClient {
  return {
    list: ((_resource: ResourceType, namespace?: string, list?: ListOptions) => {
      if (options.failLists) return new Promise(() => undefined); // never answers: never synced
      const [key, value] = list?.labelSelector?.split('=') ?? [];
      const items = objects.filter(
        (o) =>
          (namespace === undefined || o.metadata.namespace === namespace) &&
          (key === undefined || o.metadata.labels?.[key] === value),
      );
      return Promise.resolve({ items: structuredClone(items), resourceVersion: '1' });
    }) as ListWatchClient['list'],
    watch: (_r: ResourceType, _n: string | undefined, watch: { signal?: AbortSignal }) =>
      new Promise<void>((resolve) => watch.signal?.addEventListener('abort', () => resolve())),
  };
}

/** Counts GETs and answers from its own little store. */
function fakeGetClient(store: KubeObject[] = []): GetClient & { gets: string[] } {
  const gets: string[] = [];
  return {
    gets,
    get: ((resource: ResourceType, namespace: string | undefined, name: string) => {
      gets.push(`${resource.plural}/${namespace ?? ''}/${name}`);
      return Promise.resolve(
        store.find((o) => o.metadata.name === name && o.metadata.namespace === namespace),
      );
    }) as GetClient['get'],
  };
}

const informers: Informer<KubeObject>[] = [];
const registry = () => new Registry();

async function newTestInformer(
  resource: ResourceType,
  objects: KubeObject[],
  options: { namespace?: string; labelSelector?: string; start?: boolean; failLists?: boolean } = {},
): Promise<Informer<KubeObject>> {
  const informer = new Informer<KubeObject>(listWatch(objects, options), {
    resource,
    metrics: new InformerMetrics(new Registry()),
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
  });
  informers.push(informer);
  if (options.start === false) void informer.start().catch(() => undefined);
  else await informer.start();
  return informer;
}

async function reads(metrics: Registry): Promise<Record<string, number>> {
  const metric = await metrics.getSingleMetric('vireo_cache_reads_total')!.get();
  return Object.fromEntries(
    metric.values.map((v) => [`${v.labels['resource']}:${v.labels['result']}`, v.value]),
  );
}

afterEach(async () => {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
});

describe('CachedReader', () => {
  it('serves an object from an all-namespaces informer without a GET, as a copy', async () => {
    const services = await newTestInformer(RESOURCES.services, [object('web', 'prod'), object('api', 'dev')]);
    const client = fakeGetClient();
    const metrics = registry();
    const reader = new CachedReader(client, new Map([['services', services]]), metrics);

    const web = await reader.get(RESOURCES.services, 'prod', 'web');
    expect(web?.['data']).toEqual({ name: 'web' });
    expect((await reader.get(RESOURCES.services, 'dev', 'api'))?.metadata.name).toBe('api');
    (web!['data'] as Record<string, string>)['name'] = 'changed by a caller';
    expect(services.get('prod', 'web')?.['data']).toEqual({ name: 'web' });
    expect(client.gets).toEqual([]);
    expect(await reads(metrics)).toEqual({ 'services:hit': 2 });
  });

  it('answers undefined for an object a synced informer does not have, without a GET', async () => {
    const services = await newTestInformer(RESOURCES.services, [object('web', 'prod')]);
    const client = fakeGetClient([object('ghost', 'prod')]);
    const metrics = registry();
    const reader = new CachedReader(client, [services], metrics);
    expect(await reader.get(RESOURCES.services, 'prod', 'ghost')).toBeUndefined();
    expect(client.gets).toEqual([]);
    expect(await reads(metrics)).toEqual({ 'services:hit': 1 });
  });

  it('fills a gap with an object it just wrote until the watch delivers it', async () => {
    const services = await newTestInformer(RESOURCES.services, [object('web', 'prod')]);
    const client = fakeGetClient();
    const reader = new CachedReader(client, [services], registry());
    const created = { ...object('web-primary', 'prod'), data: { fresh: true } };
    reader.recordWrite(RESOURCES.services, created);
    expect(await reader.get(RESOURCES.services, 'prod', 'web-primary')).toEqual(created);
    // A write of the very version the cache holds: the cache has caught up and answers.
    reader.recordWrite(RESOURCES.services, object('web', 'prod'));
    expect(await reader.get(RESOURCES.services, 'prod', 'web')).toEqual(object('web', 'prod'));
    // After the TTL the write no longer answers for the cache.
    reader.recordWrite(RESOURCES.services, object('old', 'prod'), Date.now() - 60_000);
    expect(await reader.get(RESOURCES.services, 'prod', 'old')).toBeUndefined();
    expect(client.gets).toEqual([]);
  });

  it('reads the server while the cache holds another version than the one we just wrote', async () => {
    const services = await newTestInformer(RESOURCES.services, [object('web', 'prod')]);
    const written = { ...object('web', 'prod'), data: { header: 'removed' } };
    written.metadata.resourceVersion = '2';
    const client = fakeGetClient([written]);
    const reader = new CachedReader(client, [services], registry());
    reader.recordWrite(RESOURCES.services, written);
    // The cache still has version 1 (its watch has not delivered our write): never act on it.
    expect(await reader.get(RESOURCES.services, 'prod', 'web')).toEqual(written);
    expect(client.gets).toEqual(['services/prod/web']);
  });

  it("reads the server while the informer's watch is broken, and the cache again once it follows", async () => {
    let failWatches = true;
    const base = listWatch([object('web', 'prod')]);
    const flaky: ListWatchClient = {
      list: base.list,
      watch: (resource, namespace, options, onEvent) =>
        failWatches
          ? Promise.reject(new Error('connection reset'))
          : (onEvent({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '1' } } } as never),
            base.watch(resource, namespace, options, onEvent)),
    };
    const informer = new Informer<KubeObject>(flaky, {
      resource: RESOURCES.services,
      metrics: new InformerMetrics(new Registry()),
      backoff: { initialMs: 20, maxMs: 20 },
    });
    informers.push(informer);
    await informer.start();
    await vi.waitFor(() => expect(informer.current).toBe(false), { timeout: 10_000 });
    const client = fakeGetClient([{ ...object('web', 'prod'), data: { fromServer: true } }]);
    const reader = new CachedReader(client, [informer], registry());
    expect((await reader.get(RESOURCES.services, 'prod', 'web'))?.['data']).toEqual({ fromServer: true });
    expect(client.gets).toEqual(['services/prod/web']);
    failWatches = false;
    await vi.waitFor(() => expect(informer.current).toBe(true), { timeout: 10_000 });
    expect((await reader.get(RESOURCES.services, 'prod', 'web'))?.['data']).toEqual({ name: 'web' });
    expect(client.gets).toEqual(['services/prod/web']);
  });

  it('falls back to a GET for a resource nobody watches, counting a miss', async () => {
    const services = await newTestInformer(RESOURCES.services, []);
    const client = fakeGetClient([object('web', 'prod')]);
    const metrics = registry();
    const reader = new CachedReader(client, [services], metrics);
    expect((await reader.get(RESOURCES.deployments, 'prod', 'web'))?.metadata.name).toBe('web');
    expect(client.gets).toEqual(['deployments/prod/web']);
    expect(await reads(metrics)).toEqual({ 'deployments.apps:miss': 1 });
  });

  it('serves only the namespace a namespaced informer watches', async () => {
    const services = await newTestInformer(RESOURCES.services, [object('web', 'prod')], {
      namespace: 'prod',
    });
    const client = fakeGetClient([object('web', 'dev')]);
    const reader = new CachedReader(client, [services], registry());
    expect(await reader.get(RESOURCES.services, 'prod', 'web')).toBeDefined();
    expect(await reader.get(RESOURCES.services, 'dev', 'web')).toBeDefined();
    expect(client.gets).toEqual(['services/dev/web']);
  });

  it('uses several informers of one resource, one per namespace', async () => {
    const prod = await newTestInformer(RESOURCES.services, [object('a', 'prod')], { namespace: 'prod' });
    const dev = await newTestInformer(RESOURCES.services, [object('b', 'dev')], { namespace: 'dev' });
    const client = fakeGetClient();
    const reader = new CachedReader(client, [prod, dev], registry());
    expect(await reader.get(RESOURCES.services, 'dev', 'b')).toBeDefined();
    expect(await reader.get(RESOURCES.services, 'dev', 'a')).toBeUndefined();
    expect(client.gets).toEqual([]);
  });

  it('asks the API server while the informer has not synced', async () => {
    const services = await newTestInformer(RESOURCES.services, [], { start: false, failLists: true });
    const client = fakeGetClient([object('web', 'prod')]);
    const reader = new CachedReader(client, [services], registry());
    expect(await reader.get(RESOURCES.services, 'prod', 'web')).toBeDefined();
    expect(client.gets).toEqual(['services/prod/web']);
  });

  it('trusts a label-selected informer for hits only: its miss may be an object outside the selector', async () => {
    const all = [object('selected', 'prod', { app: 'x' }), object('other', 'prod')];
    const selected = await newTestInformer(RESOURCES.configMaps, all, { labelSelector: 'app=x' });
    const client = fakeGetClient(all);
    const reader = new CachedReader(client, [selected], registry());
    expect(await reader.get(RESOURCES.configMaps, 'prod', 'selected')).toBeDefined();
    expect(await reader.get(RESOURCES.configMaps, 'prod', 'other')).toBeDefined();
    expect(client.gets).toEqual(['configmaps/prod/other']);
  });

  it('serves cluster-scoped objects by name', async () => {
    const namespaces = await newTestInformer(RESOURCES.namespaces, [object('prod')]);
    const client = fakeGetClient();
    const reader = new CachedReader(client, [namespaces], registry());
    expect((await reader.get(RESOURCES.namespaces, 'ignored', 'prod'))?.metadata.name).toBe('prod');
    expect(client.gets).toEqual([]);
  });

  it('does not mix up resources of the same plural in different groups', async () => {
    const ingresses = await newTestInformer(RESOURCES.ingresses, [object('web', 'prod')]);
    const legacy: ResourceType = { ...RESOURCES.ingresses, group: 'extensions', version: 'v1beta1' };
    const client = fakeGetClient();
    const reader = new CachedReader(client, new Map([['ingresses', ingresses]]), registry());
    expect(await reader.get(legacy, 'prod', 'web')).toBeUndefined();
    expect(client.gets).toEqual(['ingresses/prod/web']);
  });

  it('keeps two served versions of one kind apart: a v1beta2 read is never answered from the v1beta1 watch or write', async () => {
    const v1beta1: ResourceType = {
      group: 'appmesh.k8s.aws',
      version: 'v1beta1',
      plural: 'virtualnodes',
      kind: 'VirtualNode',
      namespaced: true,
    };
    const v1beta2: ResourceType = { ...v1beta1, version: 'v1beta2' };
    const old = await newTestInformer(v1beta1, [object('podinfo-primary', 'prod')]);
    const client = fakeGetClient([object('podinfo-primary', 'prod')]);
    const reader = new CachedReader(client, [old], registry());
    // The v1beta1 watch answers v1beta1 reads (a miss there is authoritative)...
    expect((await reader.get(v1beta1, 'prod', 'podinfo-primary'))?.metadata.name).toBe('podinfo-primary');
    expect(await reader.get(v1beta1, 'prod', 'podinfo-canary')).toBeUndefined();
    expect(client.gets).toEqual([]);
    // ...but a v1beta2 read goes to the API server, which converts the object to v1beta2.
    await reader.get(v1beta2, 'prod', 'podinfo-primary');
    await reader.get(v1beta2, 'prod', 'podinfo-canary');
    expect(client.gets).toEqual(['virtualnodes/prod/podinfo-primary', 'virtualnodes/prod/podinfo-canary']);
    // A write recorded at one version fills no gap at the other.
    const fresh = await newTestInformer(v1beta2, []);
    reader.addInformer(fresh);
    reader.recordWrite(v1beta1, object('podinfo', 'prod'));
    expect(await reader.get(v1beta2, 'prod', 'podinfo')).toBeUndefined();
  });
});
