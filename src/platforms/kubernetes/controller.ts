/**
 * `vireo controller`: the engine driven by the Kubernetes API (docs/flagger-compatibility.md#0-process-model). Supervised watches
 * fill caches and feed a deduplicating, rate-limited queue of canary keys; the sync handler keeps
 * each canary's job in the scheduler; each job runs one engine tick per analysis interval,
 * reading from the caches. With leader election, nothing runs until the Lease is ours, and the
 * process is told to exit the moment it is lost.
 */
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { MetricTemplate } from '../../api/schema/metric-template.js';
import { assembleEngine, keyOfScheduleId, scheduleId, type EngineAssembly } from '../../engine/assembly.js';
import type { DecisionLog } from '../../engine/decisions.js';
import { ConfigMapDecisionLog } from './decision-store.js';
import { KubernetesRequestAcknowledger } from './request-acknowledger.js';
import { formatKey, keyOf } from '../../engine/ports.js';
import type { ControllerMetrics } from '../../engine/telemetry.js';
import { PrometheusBuiltinMetrics } from '../../metrics/builtin-metrics.js';
import { createGlobalNotifier, type GlobalNotifierFlags } from '../../notifiers/global.js';
import type { Logger } from '../../shared/logger.js';
import { Counter, type Registry } from 'prom-client';
import { PrometheusArmObservations } from '../../engine/judge/prometheus-arms.js';
import { CachedReader } from './cache.js';
import type { KubeClient, KubeObject } from './client.js';
import { KubernetesEventSink } from './events.js';
import { Informer, InformerMetrics } from './informer.js';
import type { KubernetesPlatformOptions } from './options.js';
import { WorkQueue } from './queue.js';
import { anyRouterWritesServices } from '../../routers/traits.js';
import { RESOURCES, type ResourceType } from './resources.js';
import { createCanaryRouter, createRouter } from './routers/factory.js';
import { CachedCanarySource } from './source.js';
import { kubernetesStatusStore, OwnStatusWrites } from './status-store.js';
import { RouterWatches } from './router-watches.js';
import { knativeRouteOf } from './workloads/knative.js';
import { CanarySync, type CanaryObject } from './sync.js';
import { KubernetesWorkloads } from './workloads/index.js';

export interface ControllerSettings {
  readonly platform: KubernetesPlatformOptions;
  /** --namespace: watch only this namespace (undefined = all). */
  readonly namespace?: string;
  /** --mesh-provider (default kubernetes for Vireo's controller: the routers built so far). */
  readonly meshProvider: string;
  /** --metrics-server */
  readonly metricsServer?: string;
  /** --event-webhook */
  readonly eventWebhook?: string;
  /** --cluster-name, shown in alerts. */
  readonly clusterName?: string;
  readonly notifierFlags: GlobalNotifierFlags;
  /** --min-analysis-interval (hidden): Flagger's 10 s floor, lowered only on test clusters. */
  readonly minIntervalMs?: number;
  /** --threadiness: workers of the sync queue (default 2). */
  readonly threadiness: number;
}

export interface ControllerDependencies {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly now?: () => Date;
}

/** Resources the workloads read (targets, tracked configs, autoscalers). */
const WORKLOAD_RESOURCES: readonly ResourceType[] = [
  RESOURCES.deployments,
  RESOURCES.daemonSets,
  RESOURCES.configMaps,
  RESOURCES.secrets,
  RESOURCES.horizontalPodAutoscalers,
];

/**
 * Resources watched into a cache from the start: what the workloads read, and the generated
 * Services. The routers' own kinds (from the router table) are watched only once a router is in
 * use (router-watches.ts), so a cluster needs only the CRDs of the meshes its canaries route through.
 */
export const WATCHED: readonly ResourceType[] = [
  ...WORKLOAD_RESOURCES,
  ...(anyRouterWritesServices('kubernetes') ? [RESOURCES.services] : []),
];

export class KubernetesController {
  readonly metrics: ControllerMetrics;
  readonly decisions: DecisionLog;
  private readonly canaries: Informer<CanaryObject>;
  private readonly templates: Informer<MetricTemplate & KubeObject>;
  private readonly providers: Informer<AlertProvider & KubeObject>;
  private readonly workloadInformers: Informer<KubeObject>[];
  /** The watches of the routers' own objects, started per router in use. */
  private readonly routerWatches: RouterWatches;
  private readonly queue: WorkQueue;
  /** The engine, its scheduler and what surrounds them, assembled as in local mode. */
  private readonly assembly: EngineAssembly;
  private readonly sync: CanarySync;
  private running = false;
  private readonly countedNamespaces = new Set<string>();

  constructor(
    private readonly settings: ControllerSettings,
    private readonly deps: ControllerDependencies,
  ) {
    const { client, logger, registry } = deps;
    const now = deps.now ?? (() => new Date());
    const informerMetrics = new InformerMetrics(registry);
    const informer = <T extends KubeObject>(resource: ResourceType) =>
      new Informer<T>(client, {
        resource,
        ...(settings.namespace === undefined ? {} : { namespace: settings.namespace }),
        metrics: informerMetrics,
        logger: logger.child({ informer: resource.plural }),
      });
    this.canaries = informer<CanaryObject>(RESOURCES.canaries);
    this.templates = informer<MetricTemplate & KubeObject>(RESOURCES.metricTemplates);
    this.providers = informer<AlertProvider & KubeObject>(RESOURCES.alertProviders);
    this.workloadInformers = WATCHED.map((resource) => informer<KubeObject>(resource));
    const reader = new CachedReader(
      client,
      new Map(WATCHED.map((resource, index) => [resource.plural, this.workloadInformers[index]!])),
      registry,
    );
    client.onWrite((resource, object) => reader.recordWrite(resource, object));
    this.routerWatches = new RouterWatches({
      makeInformer: (resource) => informer<KubeObject>(resource),
      reader,
      logger,
      clock: { monotonic: () => performance.now() },
    });

    const ownWrites = new OwnStatusWrites();
    const source = new CachedCanarySource({
      canaries: this.canaries,
      freshness: { ownWrites, client },
      metricTemplates: this.templates,
      alertProviders: this.providers,
      reader,
    });
    const status = kubernetesStatusStore(client, this.canaries, ownWrites);
    const events = new KubernetesEventSink(client, logger, now);
    const workloads = new KubernetesWorkloads({ client, reader, options: settings.platform, logger });
    const routerDeps = { client, reader, options: settings.platform };
    // A --mesh-provider no router implements is a start-up error, not a per-canary one.
    createRouter(settings.meshProvider, routerDeps, { flag: '--mesh-provider', command: 'vireo controller' });
    const router = createCanaryRouter(settings.meshProvider, routerDeps, (provider) =>
      this.routerWatches.ensure(provider),
    );
    // A Knative target's `{{ route }}` is its latest created revision, in built-in checks and templates alike.
    const routeOf = knativeRouteOf(reader);
    const ticks = new Counter({
      name: 'vireo_canary_ticks_total',
      help: 'Analysis ticks run (one engine advance of one canary)',
      registers: [registry],
    });
    this.assembly = assembleEngine(
      {
        source,
        secrets: source,
        workloads,
        router,
        status,
        events,
        builtin: new PrometheusBuiltinMetrics({
          meshProvider: settings.meshProvider,
          ...(settings.metricsServer === undefined ? {} : { metricsServer: settings.metricsServer }),
          routeOf,
          deps: { logger: logger.child({ component: 'metrics' }) },
        }),
        routeOf,
        // Per-arm counts for the sequential judge (docs/judge.md), from the same Prometheus.
        ...(settings.metricsServer === undefined
          ? {}
          : {
              observations: new PrometheusArmObservations({
                metricsServer: settings.metricsServer,
                meshProvider: settings.meshProvider,
                now,
              }),
            }),
        clock: { now },
        logger,
        registry,
        // vireo promote|abort|pause|resume|retry are answered on the Canary (ADR 0032, decision 3).
        requests: new KubernetesRequestAcknowledger(client, ownWrites),
        // Kept where `vireo explain` reads them (docs/adr/0032-operations-cli-and-decision-records.md).
        decisions: new ConfigMapDecisionLog({
          client,
          ownerUid: (key) => this.canaries.get(key.namespace, key.name)?.metadata.uid,
          logger: logger.child({ component: 'decisions' }),
        }),
      },
      {
        meshProvider: settings.meshProvider,
        ...(settings.minIntervalMs === undefined ? {} : { minIntervalMs: settings.minIntervalMs }),
        ...(settings.metricsServer === undefined ? {} : { metricsServer: settings.metricsServer }),
        ...(settings.eventWebhook === undefined ? {} : { eventWebhook: settings.eventWebhook }),
        ...(settings.clusterName === undefined ? {} : { clusterName: settings.clusterName }),
        globalNotifier: (deps) => createGlobalNotifier(settings.notifierFlags, deps),
        processMetrics: true,
        onTick: () => ticks.inc(),
      },
    );
    this.metrics = this.assembly.metrics;
    this.decisions = this.assembly.decisions;
    const engine = this.assembly.engine;
    this.sync = new CanarySync({
      client,
      meshProvider: settings.meshProvider,
      status,
      events,
      finalize: (canary) => engine.finalizeDeletion(keyOf(canary)),
      now,
      logger,
      ...(settings.minIntervalMs === undefined ? {} : { minIntervalMs: settings.minIntervalMs }),
    });
    // What the benchmark divides: API requests sent (at the client) per analysis tick.
    const requests = new Counter({
      name: 'vireo_kube_requests_total',
      help: 'Requests sent to the Kubernetes API server, by verb and resource',
      labelNames: ['verb', 'resource'],
      registers: [registry],
    });
    client.counter.onRequest((verb, resource) => requests.inc({ verb, resource }));
    this.queue = new WorkQueue({ registry });
  }

  /** Lists everything (fatal if the CRDs or RBAC are missing), then starts the workers. */
  async start(): Promise<void> {
    const { logger } = this.deps;
    const enqueue = (canary: CanaryObject) => this.queue.add(scheduleId(keyOf(canary)));
    this.canaries.onAdd((canary) => {
      enqueue(canary);
      this.countCanaries();
    });
    this.canaries.onUpdate((canary, old) => {
      // Our own status writes come back as updates: only a spec or lifecycle change needs a sync.
      if (
        canary.metadata.generation !== old.metadata.generation ||
        canary.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
        JSON.stringify(canary.metadata.finalizers ?? []) !== JSON.stringify(old.metadata.finalizers ?? [])
      )
        enqueue(canary);
    });
    this.canaries.onDelete((canary) => {
      const id = scheduleId(keyOf(canary));
      void this.assembly.scheduler.remove(id);
      this.countCanaries();
      logger.info({ canary: formatKey(keyOf(canary)) }, 'canary deleted; its job stopped');
    });
    await Promise.all([
      this.canaries.start(),
      this.templates.start(),
      this.providers.start(),
      ...this.workloadInformers.map((informer) => informer.start()),
    ]);
    this.routerWatches.ensure(this.settings.meshProvider);
    this.running = true;
    this.queue.run(
      this.settings.threadiness,
      (id) => this.syncOne(id),
      (id, error) => logger.error({ canary: id, err: error }, 'canary sync failed; retrying with backoff'),
    );
    logger.info(
      { canaries: this.canaries.size, namespace: this.settings.namespace ?? '(all)' },
      'controller started',
    );
  }

  get started(): boolean {
    return this.running;
  }

  /** What `vireo controller --dashboard-port` reads (src/dashboard/controller-backend.ts): caches, no API calls. */
  dashboardCaches(): {
    canaries: Informer<CanaryObject>;
    workloads: ReadonlyMap<string, Informer<KubeObject>>;
    health: () => Record<string, unknown>;
  } {
    const workloads = new Map(
      WATCHED.map((resource, index) => [resource.plural, this.workloadInformers[index]!]),
    );
    return {
      canaries: this.canaries,
      workloads,
      health: () => ({
        queue: this.queue.length,
        scheduledCanaries: this.scheduledCanaries,
        watches: Object.fromEntries(
          [['canaries', this.canaries] as const, ...workloads].map(([name, informer]) => [
            name,
            informer.current ? 'current' : informer.synced ? 'catching up' : 'not synced',
          ]),
        ),
      }),
    };
  }

  /** How many canaries have a running job. */
  get scheduledCanaries(): number {
    return this.assembly.scheduler.size;
  }

  /** Stops the workers and jobs (ticks in flight finish), then the watches. */
  async stop(): Promise<void> {
    this.running = false;
    await this.queue.shutDown();
    // Ticks read the caches: they finish before the watches stop.
    await this.assembly.scheduler.stop();
    await Promise.allSettled([
      this.canaries.stop(),
      this.templates.stop(),
      this.providers.stop(),
      ...this.workloadInformers.map((informer) => informer.stop()),
      this.routerWatches.stop(),
    ]);
    await this.assembly.close();
  }

  /** flagger_canary_total per namespace, from the cache. */
  private countCanaries(): void {
    const perNamespace = new Map<string, number>();
    for (const canary of this.canaries.list()) {
      const namespace = canary.metadata.namespace ?? 'default';
      perNamespace.set(namespace, (perNamespace.get(namespace) ?? 0) + 1);
    }
    for (const namespace of this.countedNamespaces)
      if (!perNamespace.has(namespace)) perNamespace.set(namespace, 0);
    for (const [namespace, count] of perNamespace) {
      this.metrics.setCanaryTotal(namespace, count);
      this.countedNamespaces.add(namespace);
    }
  }

  private async syncOne(id: string): Promise<void> {
    const key = keyOfScheduleId(id);
    const canary = this.canaries.get(key.namespace, key.name);
    if (canary === undefined) {
      void this.assembly.scheduler.remove(id);
      return;
    }
    const outcome = await this.sync.sync(canary);
    if (outcome.schedule) this.assembly.scheduler.ensure(id, outcome.intervalMs);
    else {
      void this.assembly.scheduler.remove(id);
      this.deps.logger.info({ canary: formatKey(key) }, `canary not scheduled: ${outcome.reason}`);
    }
  }
}
