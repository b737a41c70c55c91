import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../shared/logger.js';
import type { KubeObject, ListOptions, ObjectList, WatchEvent, WatchOptions } from './client.js';
import { KubeApiError } from './errors.js';
import { InformerMetrics } from './informer-metrics.js';
import { Informer, type InformerLogger, type InformerOptions, type ListWatchClient } from './informer.js';
import { RESOURCES, type ResourceType } from './resources.js';

// pino's Logger must fit the informer's logger type (compile-time check).
const _pinoFits: InformerLogger = createLogger({ destination: { write: () => undefined } });
void _pinoFits;

/** One watch request the fake server holds open until the test ends or fails it. */
interface FakeWatch {
  readonly options: WatchOptions;
  readonly namespace: string | undefined;
  send(type: WatchEvent<KubeObject>['type'], object: KubeObject): void;
  end(): void;
  fail(error: Error): void;
  readonly aborted: boolean;
}

/** A scripted API server: objects with resourceVersions, lists, and watches the test drives. */
class FakeServer {
  readonly objects = new Map<string, KubeObject>();
  readonly watches: FakeWatch[] = [];
  readonly lists: { namespace: string | undefined; options: ListOptions | undefined }[] = [];
  readonly listFailures: Error[] = [];
  /** Lists never answer (an API server that accepted the connection and went silent). */
  hangLists = false;
  private version = 100;

  readonly client: ListWatchClient = {
    list: ((_resource: ResourceType, namespace?: string, options?: ListOptions) => {
      this.lists.push({ namespace, options });
      if (this.hangLists) return new Promise(() => undefined);
      const failure = this.listFailures.shift();
      if (failure !== undefined) return Promise.reject(failure);
      const list: ObjectList<KubeObject> = {
        items: [...this.objects.values()].map((o) => structuredClone(o)),
        resourceVersion: String(this.version),
      };
      return Promise.resolve(list);
    }) as ListWatchClient['list'],
    watch: ((
      _resource: ResourceType,
      namespace: string | undefined,
      options: WatchOptions,
      onEvent: (event: WatchEvent<KubeObject>) => void,
    ) =>
      new Promise<void>((resolve, reject) => {
        let open = true;
        let aborted = false;
        options.signal?.addEventListener('abort', () => {
          aborted = true;
          if (open) reject(new KubeApiError('E_KUBE_TRANSPORT', 'watch configmaps: aborted', 0));
          open = false;
        });
        this.watches.push({
          options,
          namespace,
          get aborted() {
            return aborted;
          },
          send: (type, object) => {
            if (open) onEvent({ type, object: structuredClone(object) });
          },
          end: () => {
            if (open) resolve();
            open = false;
          },
          fail: (error) => {
            if (open) reject(error);
            open = false;
          },
        });
      })) as ListWatchClient['watch'],
  };

  /** Creates or changes an object on the "server" (a new resourceVersion) without any event. */
  put(name: string, data: Record<string, string> = {}, uid = `uid-${name}`): KubeObject {
    this.version += 1;
    const object: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'default', uid, resourceVersion: String(this.version) },
      data,
    };
    this.objects.set(name, object);
    return object;
  }

  remove(name: string): KubeObject {
    const object = this.objects.get(name)!;
    this.objects.delete(name);
    this.version += 1;
    return { ...object, metadata: { ...object.metadata, resourceVersion: String(this.version) } };
  }

  get lastWatch(): FakeWatch {
    return this.watches[this.watches.length - 1]!;
  }
}

interface Recorded {
  events: string[];
  logs: { level: string; fields: Record<string, unknown>; msg: string }[];
}

function newTestInformer(
  server: FakeServer,
  overrides: Partial<InformerOptions> = {},
): { informer: Informer<KubeObject>; registry: Registry; recorded: Recorded } {
  const registry = new Registry();
  const recorded: Recorded = { events: [], logs: [] };
  const log =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      recorded.logs.push({ level, fields, msg });
    };
  const informer = new Informer<KubeObject>(server.client, {
    resource: RESOURCES.configMaps,
    metrics: new InformerMetrics(registry),
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    random: () => 0.5,
    ...overrides,
  });
  const name = (o: KubeObject) => `${o.metadata.name}@${o.metadata.resourceVersion}`;
  informer.onAdd((o) => recorded.events.push(`add ${name(o)}`));
  informer.onUpdate((o, old) => recorded.events.push(`update ${name(old)}->${o.metadata.resourceVersion}`));
  informer.onDelete((o) => recorded.events.push(`delete ${o.metadata.name}`));
  return { informer, registry, recorded };
}

/** Lets promise chains and due timers run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

async function counter(registry: Registry, event: string): Promise<number> {
  const metric = await registry.getSingleMetric('vireo_watch_events_total')!.get();
  return metric.values.find((v) => v.labels['event'] === event)?.value ?? 0;
}

let server: FakeServer;
const running: Informer<KubeObject>[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((informer) => informer.stop()));
  vi.useRealTimers();
});

async function started(overrides: Partial<InformerOptions> = {}) {
  const made = newTestInformer(server, overrides);
  running.push(made.informer);
  await made.informer.start();
  await settle();
  return made;
}

describe('Informer', () => {
  it('lists into the cache, then watches from the list resourceVersion with a jittered timeout', async () => {
    server.put('a', { k: '1' });
    server.put('b');
    const { informer, recorded } = await started({ labelSelector: 'app=x', namespace: 'default' });

    expect(informer.synced).toBe(true);
    expect(informer.size).toBe(2);
    expect(informer.get('default', 'a')?.['data']).toEqual({ k: '1' });
    expect(informer.list('default').map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(informer.list('other')).toEqual([]);
    expect(recorded.events).toEqual(['add a@101', 'add b@102']);
    expect(server.lists).toEqual([{ namespace: 'default', options: { labelSelector: 'app=x' } }]);
    expect(server.watches).toHaveLength(1);
    expect(server.lastWatch.namespace).toBe('default');
    expect(server.lastWatch.options).toMatchObject({
      resourceVersion: '102',
      labelSelector: 'app=x',
      inactivityMs: 90_000,
      timeoutSeconds: 300, // random() = 0.5: the middle of 270..330
    });
  });

  it('randomizes the watch timeout within ±10 %', async () => {
    await started({ random: () => 0 });
    expect(server.lastWatch.options.timeoutSeconds).toBe(270);
    const high = new FakeServer();
    const made = newTestInformer(high, { random: () => 0.999999 });
    running.push(made.informer);
    await made.informer.start();
    await settle();
    expect(high.lastWatch.options.timeoutSeconds).toBe(330);
  });

  it('applies watch events to the cache and skips an update with an unchanged resourceVersion', async () => {
    const { informer, recorded } = await started();
    const watch = server.lastWatch;
    const a = server.put('a', { v: '1' });
    watch.send('ADDED', a);
    watch.send('MODIFIED', a); // same resourceVersion: a re-delivery, not a change
    const a2 = server.put('a', { v: '2' });
    watch.send('MODIFIED', a2);
    expect(informer.get('default', 'a')?.['data']).toEqual({ v: '2' });
    watch.send('DELETED', server.remove('a'));
    expect(informer.get('default', 'a')).toBeUndefined();
    expect(informer.size).toBe(0);
    expect(recorded.events).toEqual(['add a@101', 'update a@101->102', 'delete a']);
  });

  it("keeps objects without server-side apply's managedFields, listed or watched", async () => {
    const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:data': {} } }];
    const listed = server.put('a', { v: '1' });
    (listed.metadata as unknown as Record<string, unknown>)['managedFields'] = managedFields;
    const { informer } = await started();
    const watched = { ...server.put('b'), metadata: { ...server.put('b').metadata, managedFields } };
    server.lastWatch.send('ADDED', watched);
    for (const name of ['a', 'b']) {
      expect(informer.get('default', name)).toBeDefined();
      expect(informer.get('default', name)?.metadata).not.toHaveProperty('managedFields');
    }
  });

  it('re-watches from the last resourceVersion, bookmarks included, when the server ends the stream', async () => {
    const { recorded, registry } = await started();
    const first = server.lastWatch;
    first.send('ADDED', server.put('a'));
    first.send('BOOKMARK', { metadata: { name: '', resourceVersion: '555' } });
    expect(recorded.events).toEqual(['add a@101']); // a bookmark is not an object
    first.end();
    await settle();

    expect(server.watches).toHaveLength(2);
    expect(server.lastWatch.options.resourceVersion).toBe('555');
    expect(server.lists).toHaveLength(1); // no re-list for a clean end
    expect(await counter(registry, 'bookmark')).toBe(1);
    expect(await counter(registry, 'connect')).toBe(2);
  });

  it('re-lists on 410 Gone and emits deletes for objects that vanished meanwhile', async () => {
    server.put('stays');
    server.put('changes', { v: '1' });
    server.put('vanishes');
    const { informer, recorded, registry } = await started();
    recorded.events.length = 0;

    server.remove('vanishes');
    server.put('changes', { v: '2' });
    server.put('appears');
    server.lastWatch.fail(new KubeApiError('E_KUBE_GONE', 'watch configmaps: too old resource version', 410));
    await settle();

    expect(server.lists).toHaveLength(2);
    expect(recorded.events.sort()).toEqual(['add appears@106', 'delete vanishes', 'update changes@102->105']);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['appears', 'changes', 'stays']);
    expect(server.lastWatch.options.resourceVersion).toBe('106');
    expect(await counter(registry, 'gone')).toBe(1);
    expect(await counter(registry, 'relist')).toBe(1);
  });

  it('treats an object re-created under the same name (new uid) as a delete and an add', async () => {
    server.put('a', {}, 'uid-1');
    const { recorded } = await started();
    server.put('a', {}, 'uid-2');
    server.lastWatch.fail(new KubeApiError('E_KUBE_GONE', 'gone', 410));
    await settle();
    expect(recorded.events).toEqual(['add a@101', 'delete a', 'add a@102']);
  });

  it('backs off with full jitter after errors, growing and capped, then re-watches from the same version', async () => {
    const { recorded, registry } = await started({ backoff: { initialMs: 1_000, maxMs: 4_000 } });
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const watches = server.watches.length;
      server.lastWatch.fail(new KubeApiError('E_KUBE_TRANSPORT', 'watch configmaps: socket hang up', 0));
      await settle();
      const delay = recorded.logs.filter((l) => l.msg.startsWith('list or watch failed')).at(-1)!.fields[
        'delayMs'
      ] as number;
      delays.push(delay);
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(server.watches).toHaveLength(watches); // still waiting
      await vi.advanceTimersByTimeAsync(1);
      expect(server.watches).toHaveLength(watches + 1);
      expect(server.lastWatch.options.resourceVersion).toBe('100');
    }
    // random() = 0.5 of a ceiling of 1 s, 2 s, 4 s, then capped at 4 s.
    expect(delays).toEqual([500, 1000, 2000, 2000]);
    expect(server.lists).toHaveLength(1);
    expect(await counter(registry, 'error')).toBe(4);

    // A watch that delivers events resets the backoff.
    server.lastWatch.send('ADDED', server.put('a'));
    server.lastWatch.fail(new KubeApiError('E_KUBE_TRANSPORT', 'reset', 0));
    await settle();
    expect(recorded.logs.at(-1)!.fields['delayMs']).toBe(500);
  });

  it('is current after its list, not from a failed watch until the next watch delivers or a re-list succeeds', async () => {
    const { informer } = await started();
    expect(informer.current).toBe(true);
    server.lastWatch.fail(new KubeApiError('E_KUBE_TRANSPORT', 'watch configmaps: connection refused', 0));
    await settle();
    expect(informer.current).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    // Watching again, but nothing came yet: writes made meanwhile may still be on their way.
    expect(informer.current).toBe(false);
    server.lastWatch.send('ADDED', server.put('a'));
    expect(informer.current).toBe(true);
    server.lastWatch.fail(new KubeApiError('E_KUBE_GONE', 'too old resource version', 410));
    await settle();
    expect(server.lists).toHaveLength(2);
    expect(informer.current).toBe(true);
  });

  it('uses the random source for jitter', async () => {
    const { recorded } = await started({ random: () => 0.1 });
    server.lastWatch.fail(new KubeApiError('E_KUBE_SERVER', 'watch configmaps: HTTP 500', 500));
    await settle();
    expect(recorded.logs.at(-1)!.fields['delayMs']).toBe(100);
  });

  it('backs off when watches end at once without any event, instead of spinning', async () => {
    const { recorded } = await started();
    server.lastWatch.end();
    await settle();
    expect(server.watches).toHaveLength(1);
    expect(recorded.logs.at(-1)!.msg).toMatch(/ended at once/);
    await vi.advanceTimersByTimeAsync(500);
    expect(server.watches).toHaveLength(2);
  });

  it('aborts a silent watch after stalenessMs and re-lists; events and bookmarks postpone the watchdog', async () => {
    const { registry } = await started({ stalenessMs: 60_000 });
    const watch = server.lastWatch;
    await vi.advanceTimersByTimeAsync(50_000);
    watch.send('BOOKMARK', { metadata: { name: '', resourceVersion: '200' } });
    await vi.advanceTimersByTimeAsync(59_000);
    expect(watch.aborted).toBe(false);
    expect(server.lists).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1_000);
    expect(watch.aborted).toBe(true);
    expect(server.lists).toHaveLength(2);
    expect(server.watches).toHaveLength(2);
    expect(await counter(registry, 'watchdog')).toBe(1);
    expect(await counter(registry, 'error')).toBe(0); // our own abort is not a failure
  });

  it('repairs a missed delete with the periodic re-list', async () => {
    server.put('a');
    server.put('b');
    const { informer, recorded } = await started({ relistIntervalMs: 600_000 });
    // Events keep the watchdog quiet; `b` is deleted without the watch telling us.
    server.remove('b');
    for (let minute = 1; minute < 10; minute += 1) {
      await vi.advanceTimersByTimeAsync(60_000);
      server.lastWatch.send('BOOKMARK', { metadata: { name: '', resourceVersion: String(200 + minute) } });
    }
    expect(informer.get('default', 'b')).toBeDefined();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(informer.get('default', 'b')).toBeUndefined();
    expect(recorded.events).toContain('delete b');
    expect(server.lists).toHaveLength(2);
  });

  it('rejects start when the first list is forbidden, naming the resource and the fix', async () => {
    server.listFailures.push(new KubeApiError('E_KUBE_FORBIDDEN', 'list /api/v1/configmaps: forbidden', 403));
    const { informer } = newTestInformer(server);
    await expect(informer.start()).rejects.toMatchObject({
      code: 'E_INFORMER_FORBIDDEN',
      message: expect.stringMatching(/configmaps.*403.*"list" and "watch"/s),
    });
    expect(server.watches).toHaveLength(0);
    await informer.stop();
  });

  it('rejects start when the resource is not served (missing CRD)', async () => {
    server.listFailures.push(
      new KubeApiError('E_KUBE_NOT_FOUND', 'list canaries: the server could not find', 404),
    );
    const { informer } = newTestInformer(server, { resource: RESOURCES.canaries });
    await expect(informer.start()).rejects.toMatchObject({
      code: 'E_INFORMER_RESOURCE_NOT_FOUND',
      message: expect.stringMatching(/canaries\.flagger\.app.*Install the CRDs/),
    });
  });

  it('retries other first-list errors with backoff and resolves start once a list succeeds', async () => {
    server.listFailures.push(
      new KubeApiError('E_KUBE_TRANSPORT', 'connect ECONNREFUSED', 0),
      new KubeApiError('E_KUBE_SERVER', 'HTTP 503', 503),
    );
    server.put('a');
    const { informer } = newTestInformer(server);
    running.push(informer);
    let done = false;
    void informer.start().then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(server.lists).toHaveLength(2);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(done).toBe(true);
    expect(informer.size).toBe(1);
  });

  it('keeps going when a handler throws, and logs it with the object key', async () => {
    const { informer, recorded } = await started();
    informer.onAdd(() => {
      throw new Error('handler bug');
    });
    server.lastWatch.send('ADDED', server.put('a'));
    server.lastWatch.send('ADDED', server.put('b'));
    expect(informer.size).toBe(2);
    expect(recorded.logs.filter((l) => l.level === 'error').map((l) => l.fields['key'])).toEqual([
      'default/a',
      'default/b',
    ]);
  });

  it('counts events and exports cache size and last event age', async () => {
    server.put('a');
    const { registry } = await started();
    server.lastWatch.send('ADDED', server.put('b'));
    server.lastWatch.send('MODIFIED', server.put('b', { v: '2' }));
    server.lastWatch.send('DELETED', server.remove('a'));
    await vi.advanceTimersByTimeAsync(7_000);
    const text = await registry.metrics();
    expect(text).toContain('vireo_watch_events_total{resource="configmaps",event="added"} 1');
    expect(text).toContain('vireo_watch_events_total{resource="configmaps",event="modified"} 1');
    expect(text).toContain('vireo_watch_events_total{resource="configmaps",event="deleted"} 1');
    expect(text).toContain('vireo_watch_events_total{resource="configmaps",event="connect"} 1');
    expect(text).toContain('vireo_watch_events_total{resource="configmaps",event="gone"} 0');
    expect(text).toContain('vireo_watch_cache_objects{resource="configmaps"} 1');
    expect(text).toContain('vireo_watch_last_event_age_seconds{resource="configmaps"} 7');
  });

  it('stops: ends the watch, runs no more timers, and rejects a start still waiting for its list', async () => {
    const { informer } = await started();
    const watch = server.lastWatch;
    await informer.stop();
    expect(watch.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(server.watches).toHaveLength(1);
    expect(server.lists).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);

    const pending = new FakeServer();
    pending.listFailures.push(new KubeApiError('E_KUBE_TRANSPORT', 'down', 0));
    const { informer: waiting } = newTestInformer(pending);
    const start = waiting.start();
    await settle();
    await Promise.all([expect(start).rejects.toMatchObject({ code: 'E_INFORMER_STOPPED' }), waiting.stop()]);
    await expect(waiting.start()).rejects.toMatchObject({ code: 'E_INFORMER_RESTARTED' });
  });

  it('stops at once even while a list is in flight', async () => {
    server.hangLists = true;
    const { informer } = newTestInformer(server);
    const start = informer.start().catch((error: unknown) => error);
    await settle();
    await informer.stop(); // must not wait for the list
    expect(await start).toMatchObject({ code: 'E_INFORMER_STOPPED' });
  });
});
