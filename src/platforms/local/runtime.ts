/**
 * Local mode: the engine, driven on one machine. The same CanaryEngine as on Kubernetes,
 * assembled the same way (src/engine/assembly.ts), runs every canary of the applied manifests,
 * with local adapters behind its ports: processes for workloads (workloads.ts), the built-in
 * proxy for traffic (backends.ts), the proxy's own recorder for the built-in checks and the
 * per-arm observations (check-metrics.ts), a state file for statuses (state.ts), a JSON-lines
 * log for events, decisions and alerts (event-log.ts); status-report.ts says where each canary is.
 *
 * A Workload with `router: nginx` is served by one real nginx instead (routing/nginx/backend.ts), and its
 * canary's built-in checks are Flagger's `kubernetes` queries against a Prometheus that scrapes
 * the replicas (prometheus-process.ts); both start only when some Workload asks for nginx.
 *
 * `speed` accelerates time for the demo: the engine's clock runs `speed` times faster than the
 * wall clock, so a 10 s analysis interval passes in 10/speed seconds and metric windows shrink
 * with it. Latencies are always measured in real time.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Canary } from '../../api/schema/canary.js';
import { assembleEngine, scheduleId, type EngineAssembly } from '../../engine/assembly.js';
import type { CheckRegistry } from '../../engine/checks.js';
import type { DecisionLog } from '../../engine/decisions.js';
import { FileDecisionLog } from '../../engine/file-decision-log.js';
import { formatKey, keyOf, type EventSink, type Notifier } from '../../engine/ports.js';
import { analysisIntervalMs, analysisOf } from '../../engine/settings.js';
import type { NotifierDeps } from '../../notifiers/notifier.js';
import type { TransportOptions } from '../../notifiers/transport.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { LocalBackends } from './backends.js';
import { LocalCatalog } from './catalog.js';
import {
  LocalArmObservations,
  MINIMUM_PROMETHEUS_WINDOW_SECONDS,
  noTrafficHint,
  PerRouterBuiltinMetrics,
  ResumingRecorder,
  windowSinceRevision,
} from './check-metrics.js';
import { LocalEventLog, type LocalEvent } from './event-log.js';
import { REPLICAS_FILE } from './leftover-processes.js';
import type { LocalManifests } from './manifest.js';
import { PrometheusWorkloadMetrics } from './prometheus-process.js';
import { LocalRouterAdapter } from './routing/adapter.js';
import { LocalBuiltinMetrics } from './routing/builtin/builtin-metrics.js';
import type { MetricsEndpoint, TrafficRecorder } from './routing/builtin/recorder.js';
import { LocalStateStore } from './state.js';
import { LocalStatusReport, type LocalCanaryStatus } from './status-report.js';
import { ProcessSupervisor } from './supervisor.js';
import { workloadSpecHash } from './workload-spec.js';
import { LocalWorkloads, primarySetName, targetSetName } from './workloads.js';

export type { LocalEvent } from './event-log.js';
export type { LocalCanaryStatus, LocalDecisionNote, LocalRollout } from './status-report.js';
export { NGINX_CHECK_SERIES, noTrafficHint, windowSinceRevision } from './check-metrics.js';
export { REPLICAS_FILE } from './leftover-processes.js';

export interface LocalRuntimeOptions {
  /** Statuses, decisions, events, alerts and replica logs live here. */
  readonly stateDirectory: string;
  /** Time acceleration (default 1). */
  readonly speed?: number;
  readonly logger?: Logger;
  /** Every event, decision and alert, as it happens (the demo's live view). */
  readonly onEvent?: (event: LocalEvent) => void;
  readonly notifierTransport?: TransportOptions;
  /**
   * SLACK_URL / MSTEAMS_URL's notifier: every message of canaries without `analysis.alerts`; given
   * as a function, it is built with the alert log and the retry counter.
   */
  readonly globalNotifier?: Notifier | ((deps: NotifierDeps) => Notifier | undefined);
  /** Directory relative Workload `cwd`s are resolved against (default: the process's). */
  readonly baseDirectory?: string;
  /** Where GET /metrics serves the routers' series and Flagger's controller metrics (default: a free loopback port). */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** The check kinds (default: Flagger's); a judge registers its kind here. */
  readonly checkKinds?: CheckRegistry;
}

/** A clock that runs `speed` times faster than the wall clock from the moment it is made. */
export function acceleratedClock(speed: number, wall: () => number = Date.now): () => number {
  const origin = wall();
  return () => origin + (wall() - origin) * speed;
}

function notifierBuilder(
  notifier: NonNullable<LocalRuntimeOptions['globalNotifier']>,
): (deps: NotifierDeps) => Notifier | undefined {
  return typeof notifier === 'function' ? notifier : () => notifier;
}

/** What runs local mode's canaries: their manifests, state, processes and traffic. */
interface LocalPlatform {
  readonly catalog: LocalCatalog;
  readonly state: LocalStateStore;
  readonly supervisor: ProcessSupervisor;
  readonly workloads: LocalWorkloads;
  readonly router: LocalRouterAdapter;
  readonly backends: LocalBackends;
  readonly recorder: ResumingRecorder;
  /** The recorder's vireo_router_* series and Flagger's flagger_* metrics, served on GET /metrics. */
  readonly registry: Registry;
}

/** What local mode shows: the status report, the JSON-lines log and GET /metrics. */
interface LocalOutputs {
  readonly report: LocalStatusReport;
  readonly log: LocalEventLog;
  readonly metricsEndpoint: MetricsEndpoint;
}

export class LocalRuntime {
  private constructor(
    private readonly options: LocalRuntimeOptions,
    private readonly platform: LocalPlatform,
    private readonly assembly: EngineAssembly,
    private readonly outputs: LocalOutputs,
    readonly metrics: Registry,
  ) {}

  static async start(manifests: LocalManifests, options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const directory = options.stateDirectory;
    await mkdir(join(directory, 'logs'), { recursive: true });
    await mkdir(join(directory, 'decisions'), { recursive: true });
    const logger = options.logger ?? createLogger({ level: 'silent' });
    const speed = options.speed ?? 1;
    const now = acceleratedClock(speed);
    const platform = await LocalRuntime.platform(manifests, options, logger, now);
    const { catalog, state, recorder, backends } = platform;
    const report = new LocalStatusReport({
      stateDirectory: directory,
      catalog,
      state,
      supervisor: platform.supervisor,
      recorder,
      backends,
      now,
    });
    const log = new LocalEventLog(directory, now, options.onEvent);
    const events: EventSink = {
      emit: (canary, type, message) => {
        if (type === 'Warning') report.noteWarning(canary, message);
        log.event(canary, type, message);
        return Promise.resolve();
      },
    };
    const fileDecisions = new FileDecisionLog(join(directory, 'decisions'));
    await report.recallDecisions(fileDecisions);
    const decisions: DecisionLog = {
      record: async (key, decision) => {
        report.noteDecision(key, decision);
        log.decision(key, decision);
        await fileDecisions.record(key, decision);
      },
      recent: (key, limit) => fileDecisions.recent(key, limit),
    };
    // One registry: the routers' vireo_router_* series and Flagger's flagger_* controller metrics.
    const metricsEndpoint = await recorder.serve(options.metricsListen ?? { host: '127.0.0.1', port: 0 });
    const fromRecorder = new LocalBuiltinMetrics(recorder);
    const fromPrometheus = new PrometheusWorkloadMetrics({
      prometheus: backends.prometheus,
      speed,
      minimumWindowSeconds: MINIMUM_PROMETHEUS_WINDOW_SECONDS,
    });
    const canarySince = (canary: Canary): number | undefined => state.peek(keyOf(canary))?.canarySince;
    const usesNginx = (canary: Canary): boolean => catalog.usesNginx(canary);
    const assembly = assembleEngine(
      {
        source: catalog,
        secrets: catalog,
        workloads: platform.workloads,
        router: platform.router,
        status: state,
        events,
        builtin: new PerRouterBuiltinMetrics(
          (canary) => (usesNginx(canary) ? fromPrometheus : fromRecorder),
          // Prometheus series carry the revision in their pod label; the recorder's do not.
          (canary, interval) =>
            usesNginx(canary) ? interval : windowSinceRevision(interval, canarySince(canary), now()),
          (canary) => noTrafficHint(backends.urlOf(canary), usesNginx(canary)),
        ),
        observations: new LocalArmObservations({ recorder, canarySince, usesNginx, now }),
        clock: { now: () => new Date(now()) },
        logger,
        registry: platform.registry,
        decisions,
        // The answer to `vireo promote|abort|… --local` (src/platforms/local/operator-requests.ts).
        requests: {
          acknowledge: async (key, id) => {
            await state.change(key, (entry) => {
              entry.requestDone = id;
            });
          },
        },
      },
      {
        meshProvider: 'local',
        ...(options.globalNotifier === undefined
          ? {}
          : { globalNotifier: notifierBuilder(options.globalNotifier) }),
        ...(options.notifierTransport === undefined ? {} : { notifierTransport: options.notifierTransport }),
        ...(options.checkKinds === undefined ? {} : { checkKinds: options.checkKinds }),
        // Every alert also lands in the local log, whatever the AlertProviders do with it.
        onAlert: (canary, severity, text) => log.alert(canary, severity, text),
      },
    );
    const runtime = new LocalRuntime(
      options,
      platform,
      assembly,
      { report, log, metricsEndpoint },
      platform.registry,
    );
    await backends.startPrometheusIfNeeded();
    try {
      for (const canary of catalog.canaries) await platform.workloads.restartUninitialized(canary);
      // Listen first: a port chosen for the router must not be handed to a replica meanwhile.
      for (const canary of catalog.canaries) await platform.router.refresh(canary);
      await runtime.resumeAll();
      recorder.resuming = false;
    } catch (error) {
      // Nothing started here may outlive a failed start: no orphan replica, no stray listener.
      await runtime.stop().catch(() => undefined);
      throw error;
    }
    runtime.scheduleAll({ afterRestart: true });
    return runtime;
  }

  /** The manifests, the state file, the processes and the routers of one runtime. */
  private static async platform(
    manifests: LocalManifests,
    options: LocalRuntimeOptions,
    logger: Logger,
    now: () => number,
  ): Promise<LocalPlatform> {
    const directory = options.stateDirectory;
    const state = await LocalStateStore.open(directory);
    const catalog = new LocalCatalog(manifests, options.baseDirectory ?? process.cwd(), state);
    const registry = new Registry();
    const recorder = new ResumingRecorder({ registry, now });
    // The backends and the router read the supervisor only when asked, after it exists.
    const backends = new LocalBackends({
      directory,
      logger,
      recorder,
      catalog,
      replicas: (set) => supervisor.status(set)?.replicas ?? [],
    });
    const router: LocalRouterAdapter = new LocalRouterAdapter({
      state,
      endpoints: (set) => supervisor.endpoints(set),
      backendFor: (canary) => backends.backendFor(canary),
      intervalSeconds: (canary) => analysisIntervalMs(analysisOf(canary.spec)?.interval) / 1000,
    });
    const supervisor = new ProcessSupervisor({
      logger,
      logDirectory: join(directory, 'logs'),
      // The router sends every replica requests: one that does not listen on $PORT is not ready.
      aliveNeedsPort: true,
      // Replicas that become ready (or go away) change the router's upstreams at once.
      onChange: async (set) => {
        const canary = catalog.canaries.find(
          (candidate) => targetSetName(candidate) === set || primarySetName(candidate) === set,
        );
        if (canary !== undefined && state.peek(keyOf(canary)) !== undefined) {
          await router
            .refresh(canary)
            .catch((error: unknown) => logger.warn({ err: error }, 'router refresh failed'));
        }
        // The replicas' process groups, for `vireo local down` after a daemon that was killed.
        await writeFile(join(directory, REPLICAS_FILE), JSON.stringify(supervisor.pids()), {
          mode: 0o600,
        }).catch(() => undefined);
        // ...and Prometheus's targets, which are those replicas too.
        await backends.prometheus
          .refresh()
          .catch((error: unknown) => logger.warn({ err: error }, 'prometheus targets refresh failed'));
      },
    });
    const workloads = new LocalWorkloads({ supervisor, catalog, state, now });
    return { catalog, state, supervisor, workloads, router, backends, recorder, registry };
  }

  /** Replaces the manifests: a changed Workload spec is a new revision; new canaries start. */
  async apply(manifests: LocalManifests): Promise<void> {
    const { catalog, workloads, router, backends } = this.platform;
    const before = new Set(catalog.canaries.map((canary) => formatKey(keyOf(canary))));
    const kept = new Set(manifests.canaries.map((canary) => formatKey(keyOf(canary))));
    const removed = catalog.canaries.filter((canary) => !kept.has(formatKey(keyOf(canary))));
    const removedUseNginx = removed.map((canary) => catalog.usesNginx(canary));
    const revisionsBefore = new Map(
      catalog.canaries.map((canary) => [formatKey(keyOf(canary)), this.manifestHash(canary)]),
    );
    catalog.replace(manifests);
    // A canary no longer applied leaves nothing running: no router, no process, no state.
    for (const [index, canary] of removed.entries()) await this.forget(canary, removedUseNginx[index]!);
    await backends.startPrometheusIfNeeded();
    const revised: string[] = [];
    for (const canary of manifests.canaries) {
      await workloads.restartUninitialized(canary);
      // Routes first, for every canary: a changed service.port is served at once.
      await router.refresh(canary);
      if (!before.has(formatKey(keyOf(canary)))) await this.resume(canary);
      if (revisionsBefore.get(formatKey(keyOf(canary))) !== this.manifestHash(canary))
        revised.push(scheduleId(keyOf(canary)));
    }
    this.scheduleAll();
    // A new revision is picked up now rather than at the end of the interval, so `vireo local
    // apply` can tell at once whether it starts (the engine's tick does nothing more on it).
    for (const id of revised) this.assembly.scheduler.kick(id);
  }

  /** Stops a canary that is no longer applied: its ticks, its router, both process sets, its state. */
  private async forget(canary: Canary, usedNginx: boolean): Promise<void> {
    const { backends, supervisor, state } = this.platform;
    const key = keyOf(canary);
    await this.assembly.scheduler.remove(scheduleId(key));
    await backends.remove(canary, usedNginx);
    await supervisor.stop(targetSetName(canary));
    await supervisor.stop(primarySetName(canary));
    await state.remove(key);
  }

  private manifestHash(canary: Canary): string | undefined {
    const spec = this.platform.catalog.spec(keyOf(canary).namespace, canary.spec.targetRef.name);
    return spec === undefined ? undefined : workloadSpecHash(spec);
  }

  /** Runs one tick of every canary now (or waits for the one in flight), keeping their cadence. */
  async tickAll(): Promise<void> {
    const { scheduler } = this.assembly;
    await Promise.all(
      this.platform.catalog.canaries.map((canary) => scheduler.tickNow(scheduleId(keyOf(canary)))),
    );
  }

  status(): LocalCanaryStatus[] {
    return this.outputs.report.status();
  }

  /** Where a canary's service answers, once its router listens. */
  url(namespace: string, service: string): string | undefined {
    return this.platform.backends.url(namespace, service);
  }

  /** The Prometheus answering nginx-routed canaries' checks, once one has been needed. */
  get prometheusUrl(): Promise<string | undefined> {
    return this.platform.backends.prometheus.url;
  }

  /** nginx's access log (JSON lines), once a Workload with `router: nginx` has been served. */
  get nginxAccessLog(): string | undefined {
    return this.platform.backends.nginx.accessLogPath;
  }

  /** GET this for the routers' and the controller's metrics in Prometheus text format. */
  get metricsUrl(): string {
    return this.outputs.metricsEndpoint.url;
  }

  get trafficRecorder(): TrafficRecorder {
    return this.platform.recorder;
  }

  get statePath(): string {
    return this.platform.state.path;
  }

  /**
   * Stops ticking, the routers and every process, then delivers the alerts still queued (for at
   * most 20 s). The state file keeps where each canary was.
   */
  async stop(): Promise<void> {
    await this.assembly.scheduler.stop();
    await this.platform.backends.closeAll();
    await this.platform.supervisor.stopAll();
    await this.assembly.close();
    await this.outputs.metricsEndpoint.close();
    await this.outputs.log.flush();
  }

  private async resumeAll(): Promise<void> {
    for (const canary of this.platform.catalog.canaries) await this.resume(canary);
  }

  /** After a restart: the processes and the split the state file says were running. */
  private async resume(canary: Canary): Promise<void> {
    // Only canaries the engine has already worked on have processes to bring back.
    if (this.platform.state.peek(keyOf(canary))?.status.phase === undefined) return;
    await this.platform.workloads.resume(canary);
    await this.platform.router.refresh(canary);
  }

  /**
   * Gives each canary its job in the scheduler, ticking at once. After a restart, a canary the
   * engine had already worked on waits one interval, as it would have without the restart: the
   * router's measurements start afresh with the process, and an immediate check would find no
   * values and halt. A changed interval applies from the next wait.
   */
  private scheduleAll(options: { afterRestart?: boolean } = {}): void {
    const { scheduler } = this.assembly;
    for (const canary of this.platform.catalog.canaries) {
      const key = keyOf(canary);
      const interval = analysisIntervalMs(analysisOf(canary.spec)?.interval) / (this.options.speed ?? 1);
      const resumed =
        options.afterRestart === true && this.platform.state.peek(key)?.status.phase !== undefined;
      scheduler.ensure(scheduleId(key), interval, {
        firstTickInMs: resumed ? interval : 0,
        restartOnChange: false,
      });
    }
  }
}
