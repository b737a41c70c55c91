/**
 * Local mode: the engine, driven on one machine. The same CanaryEngine as on Kubernetes runs
 * every canary of the applied manifests, with local adapters behind its ports: processes for
 * workloads, the built-in proxy for traffic, the proxy's own recorder for the built-in checks,
 * a state file for statuses, a JSON-lines log for events, decisions and alerts.
 *
 * A Workload with `router: nginx` is served by one real nginx instead (nginx-backend.ts), and its
 * canary's built-in checks are Flagger's `kubernetes` queries against a Prometheus that scrapes
 * the replicas (prometheus-process.ts); both start only when some Workload asks for nginx.
 *
 * `speed` accelerates time for the demo: the engine's clock runs `speed` times faster than the
 * wall clock, so a 10 s analysis interval passes in 10/speed seconds and metric windows shrink
 * with it. Latencies are always measured in real time.
 */
import { readFileSync, statSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { parseGoDuration } from '../../api/duration.js';
import { NoValuesFoundError, type BuiltinMetrics } from '../../engine/checks.js';
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { Canary } from '../../api/schema/canary.js';
import type { MetricTemplate } from '../../api/schema/metric-template.js';
import { AlertRouter } from '../../engine/alerts.js';
import type { Decision, DecisionLog } from '../../engine/decisions.js';
import { CanaryEngine, type AlertSender } from '../../engine/engine.js';
import { FileDecisionLog } from '../../engine/file-decision-log.js';
import {
  formatKey,
  keyOf,
  type AlertSeverity,
  type CanaryKey,
  type CanarySource,
  type EventSink,
  type EventType,
  type Notifier,
} from '../../engine/ports.js';
import { analysisIntervalMs, analysisOf } from '../../engine/settings.js';
import { ControllerMetrics } from '../../engine/telemetry.js';
import { BackendMetricTemplates } from '../../metrics/templates.js';
import { ChatNotifierFactory } from '../../notifiers/factory.js';
import type { TransportOptions } from '../../notifiers/transport.js';
import { SecretNotFoundError, type SecretReader } from '../../secrets/secret-reader.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { HttpWebhookClient } from '../../webhooks/http-webhook-client.js';
import type { LocalManifests, WorkloadManifest } from './manifest.js';
import type { NginxBackend } from './routing/nginx/backend.js';
import { OnDemandPrometheus, PrometheusWorkloadMetrics, replicaScrapeTargets } from './prometheus-process.js';
import { LocalRouterAdapter } from './routing/adapter.js';
import type { ProxyBackend } from './routing/builtin/backend.js';
import { LocalBuiltinMetrics } from './routing/builtin/builtin-metrics.js';
import { parseAccessLog, type AccessLogSummary } from './routing/nginx/nginx-access-log.js';
import { TrafficRecorder, type MetricsEndpoint, type ProxiedRequest } from './routing/builtin/recorder.js';
import { createRouteBackends } from './routing/factory.js';
import { REPLICAS_FILE } from './leftover-processes.js';
import { LocalStateStore } from './state.js';
import { diagnoseWorkload, type WorkloadProblem } from './diagnosis.js';
import { ProcessSupervisor } from './supervisor.js';
import { workloadSpecHash, type WorkloadSpec } from './workload-spec.js';
import { LocalWorkloads, primarySetName, targetSetName, type WorkloadCatalog } from './workloads.js';

export interface LocalEvent {
  readonly time: string;
  readonly type: 'event' | 'decision' | 'alert';
  readonly canary: string;
  readonly severity?: EventType | AlertSeverity;
  readonly message: string;
  readonly decision?: Decision;
}

export interface LocalRuntimeOptions {
  /** Statuses, decisions, events, alerts and replica logs live here. */
  readonly stateDirectory: string;
  /** Time acceleration (default 1). */
  readonly speed?: number;
  readonly logger?: Logger;
  /** Every event, decision and alert, as it happens (the demo's live view). */
  readonly onEvent?: (event: LocalEvent) => void;
  readonly notifierTransport?: TransportOptions;
  /** SLACK_URL / MSTEAMS_URL's notifier: every message of canaries without `analysis.alerts`. */
  readonly globalNotifier?: Notifier;
  /** Directory relative Workload `cwd`s are resolved against (default: the process's). */
  readonly baseDirectory?: string;
  /** Where GET /metrics serves the routers' series and Flagger's controller metrics (default: a free loopback port). */
  readonly metricsListen?: { readonly host: string; readonly port: number };
}

export interface LocalCanaryStatus {
  readonly canary: string;
  readonly phase: string;
  readonly canaryWeight: number;
  readonly primaryWeight: number;
  readonly failedChecks: number;
  readonly url: string | undefined;
  readonly primaryReplicas: string;
  readonly canaryReplicas: string;
  /** Requests the router answered per arm over the recorder's retention (15 min of engine time). */
  readonly served: { readonly primary: number; readonly canary: number };
  readonly lastTransitionTime?: string;
  /** The spec the primary runs (first 8 hex of its hash). */
  readonly primaryRevision?: string;
  /** The revision under analysis, or last analysed (`status.lastAppliedSpec`). */
  readonly canaryRevision?: string;
  /** The Workload's spec as applied last. */
  readonly manifestRevision?: string;
  /** The engine's last decision, with what a user needs to act on it. */
  readonly lastDecision?: LocalDecisionNote;
  /** What keeps the primary's or the canary's processes from serving, in words (diagnosis.ts). */
  readonly problems: readonly string[];
  /** Whether the applied Workload runs: what `vireo local apply` waits for. */
  readonly rollout: LocalRollout;
  /** Why the built-in checks cannot work as configured (`router: nginx` without the histogram they read). */
  readonly warnings: readonly string[];
}

export interface LocalDecisionNote {
  readonly time: string;
  readonly action: string;
  readonly message: string;
  /** The sample behind a check (requests the canary answered in the window), or how to get one. */
  readonly detail?: string;
}

export interface LocalRollout {
  /** ready: runs (or waits for an approval); progressing: starting; failed: will not start. */
  readonly state: 'ready' | 'progressing' | 'failed';
  readonly message: string;
}

const revisionOf = (hash: string | undefined): string | undefined => hash?.slice(0, 8);

/** What status() shows beyond the state file: the last decision and warning of each canary. */
interface RuntimeNotes {
  readonly decisions: Map<string, LocalDecisionNote>;
  readonly warnings: Map<string, string>;
  /** By primary spec hash: the nginx-path series check's outcome (a warning, or '' when fine), or pending. */
  readonly seriesChecks: Map<string, Promise<void> | string>;
}

/** The series the built-in checks' `kubernetes` queries read on the nginx path, as exposition names. */
const NGINX_SERIES_NAMES = ['http_request_duration_seconds_count', 'http_request_duration_seconds_bucket'];

/** What a program's GET /metrics lacks of the series the nginx-path checks read ('' when nothing). */
async function missingSeries(url: string): Promise<string> {
  try {
    const answer = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = answer.ok ? await answer.text() : '';
    const absent = NGINX_SERIES_NAMES.filter((name) => !new RegExp(`^${name}[{ ]`, 'm').test(text));
    if (absent.length === 0) return '';
    return `${url}/metrics ${answer.ok ? 'has no' : `answered ${answer.status}, so no`} ${absent.join(' or ')}`;
  } catch (cause) {
    return `${url}/metrics could not be read (${cause instanceof Error ? cause.message : String(cause)})`;
  }
}

/** Said with every "no values found": the built-in checks need client traffic (docs/local/manifest.md). */
export function noTrafficHint(url: string | undefined, usesNginx: boolean): string {
  const where = url ?? "the Canary's service.port";
  const bring = `send traffic to ${where}, for instance with a rollout webhook of type load to vireo loadtester (docs/loadtester.md), or your own client; vireo demo brings its own load`;
  if (!usesNginx) return `the built-in checks measure client traffic through the router: ${bring}`;
  return `with router: nginx the built-in checks read the series ${NGINX_CHECK_SERIES} that your program must export on GET /metrics (with a status label), scraped by Prometheus: without them they find nothing even when traffic flows (use router: builtin, or MetricTemplates of your own); with them, ${bring}`;
}

/** What Flagger's `kubernetes` built-in queries read on the nginx path (docs/local/manifest.md). */
export const NGINX_CHECK_SERIES =
  'http_request_duration_seconds_count and http_request_duration_seconds_bucket';

/** The recorder keeps 15 minutes; asking for more returns all it has. */
const ALL_RETAINED_MS = 15 * 60 * 1000;

export { REPLICAS_FILE } from './leftover-processes.js';

/** A clock that runs `speed` times faster than the wall clock from the moment it is made. */
export function acceleratedClock(speed: number, wall: () => number = Date.now): () => number {
  const origin = wall();
  return () => origin + (wall() - origin) * speed;
}

/** The applied manifests, as the engine's and the adapters' sources. */
class LocalCatalog implements CanarySource, WorkloadCatalog, SecretReader {
  constructor(
    private manifests: LocalManifests,
    private readonly baseDirectory: string,
    private readonly state: LocalStateStore,
  ) {}

  replace(manifests: LocalManifests): void {
    this.manifests = manifests;
  }

  get canaries(): readonly Canary[] {
    return this.manifests.canaries;
  }

  /** The manifest's canary with its status from the state file, as the API server would serve it. */
  getCanary(key: CanaryKey): Promise<Canary | undefined> {
    const canary = this.manifests.canaries.find((candidate) => sameKey(keyOf(candidate), key));
    if (canary === undefined) return Promise.resolve(undefined);
    const status = this.state.peek(key)?.status;
    return Promise.resolve(status === undefined ? canary : { ...canary, status: structuredClone(status) });
  }

  getMetricTemplate(namespace: string, name: string): Promise<MetricTemplate | undefined> {
    return Promise.resolve(findNamed(this.manifests.metricTemplates, namespace, name));
  }

  getAlertProvider(namespace: string, name: string): Promise<AlertProvider | undefined> {
    return Promise.resolve(findNamed(this.manifests.alertProviders, namespace, name));
  }

  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const secret = this.manifests.secrets.get(`${namespace}/${name}`);
    return Promise.resolve(secret === undefined ? undefined : { ...secret });
  }

  async read(namespace: string, name: string): Promise<Readonly<Record<string, string>>> {
    const secret = await this.getSecret(namespace, name);
    if (secret === undefined)
      throw new SecretNotFoundError(`Secret ${namespace}/${name} is not in the applied manifests`);
    return secret;
  }

  /** Whether the canary's Workload asks for real nginx rather than the built-in proxy. */
  usesNginx(canary: Canary): boolean {
    return this.workload(keyOf(canary).namespace, canary.spec.targetRef.name)?.spec.router === 'nginx';
  }

  workload(namespace: string, name: string): WorkloadManifest | undefined {
    return findNamed(this.manifests.workloads, namespace, name);
  }

  spec(namespace: string, name: string): WorkloadSpec | undefined {
    const workload = this.workload(namespace, name);
    if (workload === undefined) return undefined;
    const { spec } = workload;
    return {
      name: `${namespace}.${name}`,
      command: spec.command,
      ...(spec.args === undefined ? {} : { args: spec.args }),
      ...(spec.env === undefined ? {} : { env: spec.env }),
      // The directory of the file that declared it, as docs/local/manifest.md says.
      cwd: resolve(this.manifests.directory ?? this.baseDirectory, spec.cwd ?? '.'),
      replicas: spec.replicas ?? 1,
      ...(spec.port === undefined ? {} : { port: spec.port }),
      ...(spec.readiness === undefined ? {} : { readiness: spec.readiness }),
    };
  }
}

const sameKey = (a: CanaryKey, b: CanaryKey): boolean => a.namespace === b.namespace && a.name === b.name;

function findNamed<T extends { metadata: { name: string; namespace?: string | undefined } }>(
  objects: readonly T[],
  namespace: string,
  name: string,
): T | undefined {
  return objects.find(
    (object) => object.metadata.name === name && (object.metadata.namespace ?? 'default') === namespace,
  );
}

/**
 * While a (re)started runtime brings its replicas back, the router already listens (so no replica
 * can be handed its port) but has nobody to forward to, and answers 503 itself. Those answers say
 * that local mode was restarting, not that a canary is unhealthy: nothing is recorded until the
 * resumed replicas are ready, so no check counts them (docs/local/README.md#the-daemon).
 */
class ResumingRecorder extends TrafficRecorder {
  resuming = true;

  override record(request: ProxiedRequest): void {
    if (!this.resuming) super.record(request);
  }
}

/** Each canary's built-in checks from its router's metrics: the proxy's recorder or Prometheus. */
class PerRouterBuiltinMetrics implements BuiltinMetrics {
  constructor(
    private readonly choose: (canary: Canary) => BuiltinMetrics,
    private readonly window: (canary: Canary, interval: string) => string,
    /** Said with "no values found": how to bring the traffic the checks need. */
    private readonly hint: (canary: Canary) => string,
  ) {}

  requestSuccessRate(canary: Canary, interval: string): Promise<number> {
    return this.explained(canary, () =>
      this.choose(canary).requestSuccessRate(canary, this.window(canary, interval)),
    );
  }

  requestDurationMs(canary: Canary, interval: string): Promise<number> {
    return this.explained(canary, () =>
      this.choose(canary).requestDurationMs(canary, this.window(canary, interval)),
    );
  }

  private async explained(canary: Canary, query: () => Promise<number>): Promise<number> {
    try {
      return await query();
    } catch (cause) {
      if (cause instanceof NoValuesFoundError) {
        throw new NoValuesFoundError(`${cause.message}; ${this.hint(canary)}`);
      }
      throw cause;
    }
  }
}

/**
 * The metric window, shortened so it starts no earlier than the run of the revision under
 * analysis (`since`): the router records per arm, not per revision, and what an earlier revision
 * answered must not vouch for this one (docs/local/workloads.md). Whole seconds, at least 1.
 */
export function windowSinceRevision(interval: string, since: number | undefined, now: number): string {
  const intervalMs = parseGoDuration(interval);
  if (intervalMs === undefined || since === undefined) return interval;
  const elapsedMs = now - since;
  if (elapsedMs >= intervalMs) return interval;
  return `${Math.max(1, Math.ceil(elapsedMs / 1000))}s`;
}

/**
 * Prometheus scrapes every second; a window shorter than 5 s could hold fewer than the two
 * samples rate() needs, and would make accelerated runs flaky.
 */
const SCRAPE_INTERVAL_SECONDS = 1;
const MINIMUM_PROMETHEUS_WINDOW_SECONDS = 5;

/** Appends JSON lines; a full disk loses log lines, never a canary. */
class JsonLinesLog {
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  append(entry: object): void {
    const line = `${JSON.stringify(entry)}\n`;
    this.pending = this.pending
      .then(() => appendFile(this.file, line, { mode: 0o600 }))
      .catch(() => undefined);
  }

  flush(): Promise<void> {
    return this.pending;
  }
}

export class LocalRuntime {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private accessLogCache: { size: number; summary: AccessLogSummary } | undefined;

  private constructor(
    private readonly options: LocalRuntimeOptions,
    private readonly catalog: LocalCatalog,
    private readonly state: LocalStateStore,
    private readonly supervisor: ProcessSupervisor,
    private readonly proxies: ProxyBackend,
    private readonly nginx: NginxBackend,
    private readonly prometheus: OnDemandPrometheus,
    private readonly recorder: TrafficRecorder,
    private readonly router: LocalRouterAdapter,
    private readonly workloads: LocalWorkloads,
    private readonly engine: CanaryEngine,
    private readonly logs: { events: JsonLinesLog; alerts: JsonLinesLog },
    private readonly webhooks: HttpWebhookClient,
    private readonly metricsEndpoint: MetricsEndpoint,
    readonly metrics: Registry,
    private readonly notes: RuntimeNotes,
  ) {}

  static async start(manifests: LocalManifests, options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const directory = options.stateDirectory;
    await mkdir(join(directory, 'logs'), { recursive: true });
    await mkdir(join(directory, 'decisions'), { recursive: true });
    const logger = options.logger ?? createLogger({ level: 'silent' });
    const speed = options.speed ?? 1;
    const now = acceleratedClock(speed);
    const state = await LocalStateStore.open(directory);
    const catalog = new LocalCatalog(manifests, options.baseDirectory ?? process.cwd(), state);
    const registry = new Registry();
    const recorder = new ResumingRecorder({ registry, now });
    const { builtin: proxies, nginx } = createRouteBackends({
      recorder,
      logger,
      nginxDirectory: join(directory, 'nginx'),
    });
    // Scrapes the replicas of nginx-routed canaries; the supervisor exists by the time it asks.
    const prometheus = new OnDemandPrometheus({
      directory: join(directory, 'prometheus'),
      logger,
      scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS,
      targets: () =>
        catalog.canaries
          .filter((canary) => catalog.usesNginx(canary))
          .flatMap((canary) =>
            replicaScrapeTargets({
              namespace: keyOf(canary).namespace,
              target: canary.spec.targetRef.name,
              canary: supervisor.status(targetSetName(canary))?.replicas ?? [],
              primary: supervisor.status(primarySetName(canary))?.replicas ?? [],
            }),
          ),
    });
    const logs = {
      events: new JsonLinesLog(join(directory, 'events.log')),
      alerts: new JsonLinesLog(join(directory, 'alerts.log')),
    };
    const emit = (event: LocalEvent): void => {
      logs.events.append(event);
      try {
        options.onEvent?.(event);
      } catch {
        // A broken listener must not stop the canary it listens to.
      }
    };

    // The router reads the supervisor's endpoints only when asked, after both exist.
    const router: LocalRouterAdapter = new LocalRouterAdapter({
      state,
      endpoints: (set) => supervisor.endpoints(set),
      backendFor: (canary) => (catalog.usesNginx(canary) ? nginx : proxies),
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
        await prometheus
          .refresh()
          .catch((error: unknown) => logger.warn({ err: error }, 'prometheus targets refresh failed'));
      },
    });
    const workloads = new LocalWorkloads({ supervisor, catalog, state, now });
    const notes: RuntimeNotes = { decisions: new Map(), warnings: new Map(), seriesChecks: new Map() };
    const events: EventSink = {
      emit: (canary, type, message) => {
        if (type === 'Warning') notes.warnings.set(formatKey(keyOf(canary)), message);
        emit({
          time: new Date(now()).toISOString(),
          type: 'event',
          canary: formatKey(keyOf(canary)),
          severity: type,
          message,
        });
        return Promise.resolve();
      },
    };
    const alertRouter = new AlertRouter({
      source: catalog,
      notifiers: new ChatNotifierFactory({
        ...(options.notifierTransport === undefined ? {} : { transport: options.notifierTransport }),
        log: (entry) => logger.error(entry, entry.msg),
      }),
      meshProvider: 'local',
      ...(options.globalNotifier === undefined ? {} : { globalNotifier: options.globalNotifier }),
    });
    const alerts: AlertSender = {
      // Every alert also lands in the local log, whatever the AlertProviders do with it.
      send: async (canary, severity, text) => {
        const entry = {
          time: new Date(now()).toISOString(),
          type: 'alert' as const,
          canary: formatKey(keyOf(canary)),
          severity,
          message: text,
        };
        logs.alerts.append(entry);
        emit(entry);
        await alertRouter.send(canary, severity, text);
      },
    };
    const fileDecisions = new FileDecisionLog(join(directory, 'decisions'));
    const urlOf = (canary: Canary): string | undefined => {
      const { namespace } = keyOf(canary);
      return (
        proxies.url(namespace, canary.spec.targetRef.name) ?? nginx.url(namespace, canary.spec.targetRef.name)
      );
    };
    for (const canary of catalog.canaries) {
      const [last] = await fileDecisions.recent(keyOf(canary), 1).catch(() => []);
      if (last !== undefined) notes.decisions.set(formatKey(keyOf(canary)), { ...last });
    }
    /** The sample behind a decision's checks, or how to bring one (docs/local/manifest.md). */
    const detailOf = (key: CanaryKey, decision: Decision): string | undefined => {
      const canary = catalog.canaries.find((candidate) => sameKey(keyOf(candidate), key));
      const outcome = decision.checks?.find((check) => check.verdict === 'fail') ?? decision.checks?.at(-1);
      if (canary === undefined || outcome === undefined) return undefined;
      const metric = analysisOf(canary.spec)?.metrics?.find((candidate) => candidate.name === outcome.check);
      if (metric === undefined || metric.templateRef !== undefined) return undefined;
      if (outcome.value === undefined) {
        const error = outcome.evidence?.['error'];
        return typeof error === 'string' ? error : undefined;
      }
      if (catalog.usesNginx(canary)) return undefined;
      const window = windowSinceRevision(metric.interval ?? '1m', state.peek(key)?.canarySince, now());
      const windowMs = parseGoDuration(window) ?? 60_000;
      const requests = recorder.observe(key.namespace, canary.spec.targetRef.name, windowMs).canary.requests;
      return `measured over ${requests} canary request${requests === 1 ? '' : 's'} in the last ${window}`;
    };
    const decisions: DecisionLog = {
      record: async (key, decision) => {
        const detail = detailOf(key, decision);
        notes.decisions.set(formatKey(key), {
          time: decision.time,
          action: decision.action,
          message: decision.message,
          ...(detail === undefined ? {} : { detail }),
        });
        emit({
          time: decision.time,
          type: 'decision',
          canary: formatKey(key),
          message: decision.message,
          decision,
        });
        await fileDecisions.record(key, decision);
      },
      recent: (key, limit) => fileDecisions.recent(key, limit),
    };
    const webhooks = new HttpWebhookClient();
    // One registry: the routers' vireo_router_* series and Flagger's flagger_* controller metrics.
    const metricsEndpoint = await recorder.serve(options.metricsListen ?? { host: '127.0.0.1', port: 0 });
    const fromRecorder = new LocalBuiltinMetrics(recorder);
    const fromPrometheus = new PrometheusWorkloadMetrics({
      prometheus,
      speed,
      minimumWindowSeconds: MINIMUM_PROMETHEUS_WINDOW_SECONDS,
    });
    const engine = new CanaryEngine({
      source: catalog,
      workloads,
      router,
      status: state,
      events,
      webhooks,
      alerts,
      checks: {
        builtin: new PerRouterBuiltinMetrics(
          (canary) => (catalog.usesNginx(canary) ? fromPrometheus : fromRecorder),
          // Prometheus series carry the revision in their pod label; the recorder's do not.
          (canary, interval) =>
            catalog.usesNginx(canary)
              ? interval
              : windowSinceRevision(interval, state.peek(keyOf(canary))?.canarySince, now()),
          (canary) => noTrafficHint(urlOf(canary), catalog.usesNginx(canary)),
        ),
        templates: new BackendMetricTemplates({
          lookup: { get: (ns, name) => catalog.getMetricTemplate(ns, name) },
          secrets: catalog,
        }),
      },
      decisions,
      metrics: new ControllerMetrics({ registry }),
      logger: {
        info: (fields, message) => logger.info(fields, message),
        warn: (fields, message) => logger.warn(fields, message),
        error: (fields, message) => logger.error(fields, message),
      },
      clock: { now: () => new Date(now()) },
      meshProvider: 'local',
    });
    const runtime = new LocalRuntime(
      options,
      catalog,
      state,
      supervisor,
      proxies,
      nginx,
      prometheus,
      recorder,
      router,
      workloads,
      engine,
      logs,
      webhooks,
      metricsEndpoint,
      registry,
      notes,
    );
    await runtime.startPrometheusIfNeeded();
    try {
      for (const canary of catalog.canaries) await workloads.restartUninitialized(canary);
      // Listen first: a port chosen for the router must not be handed to a replica meanwhile.
      for (const canary of catalog.canaries) await router.refresh(canary);
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

  /** Replaces the manifests: a changed Workload spec is a new revision; new canaries start. */
  async apply(manifests: LocalManifests): Promise<void> {
    const before = new Set(this.catalog.canaries.map((canary) => formatKey(keyOf(canary))));
    const kept = new Set(manifests.canaries.map((canary) => formatKey(keyOf(canary))));
    const removed = this.catalog.canaries.filter((canary) => !kept.has(formatKey(keyOf(canary))));
    const removedUseNginx = removed.map((canary) => this.catalog.usesNginx(canary));
    const revisionsBefore = new Map(
      this.catalog.canaries.map((canary) => [formatKey(keyOf(canary)), this.manifestHash(canary)]),
    );
    this.catalog.replace(manifests);
    // A canary no longer applied leaves nothing running: no router, no process, no state.
    for (const [index, canary] of removed.entries()) await this.forget(canary, removedUseNginx[index]!);
    await this.startPrometheusIfNeeded();
    for (const canary of manifests.canaries) {
      await this.workloads.restartUninitialized(canary);
      // Routes first, for every canary: a changed service.port is served at once.
      await this.router.refresh(canary);
      if (!before.has(formatKey(keyOf(canary)))) await this.resume(canary);
      // A new revision is picked up now rather than at the end of the interval, so `vireo local
      // apply` can tell at once whether it starts (the engine's tick does nothing more on it).
      const text = formatKey(keyOf(canary));
      const timer = this.timers.get(text);
      if (timer !== undefined && revisionsBefore.get(text) !== this.manifestHash(canary)) {
        clearTimeout(timer);
        this.timers.delete(text);
      }
    }
    this.scheduleAll();
  }

  /** Stops a canary that is no longer applied: its ticks, its router, both process sets, its state. */
  private async forget(canary: Canary, usedNginx: boolean): Promise<void> {
    const key = keyOf(canary);
    const text = formatKey(key);
    clearTimeout(this.timers.get(text));
    this.timers.delete(text);
    await this.running.get(text)?.catch(() => undefined);
    await (usedNginx ? this.nginx : this.proxies).remove(key.namespace, canary.spec.targetRef.name);
    await this.supervisor.stop(targetSetName(canary));
    await this.supervisor.stop(primarySetName(canary));
    await this.state.remove(key);
  }

  private manifestHash(canary: Canary): string | undefined {
    const spec = this.catalog.spec(keyOf(canary).namespace, canary.spec.targetRef.name);
    return spec === undefined ? undefined : workloadSpecHash(spec);
  }

  /** Runs one tick of every canary now (tests and the demo use it to avoid waiting). */
  async tickAll(): Promise<void> {
    await Promise.all(this.catalog.canaries.map((canary) => this.tick(keyOf(canary))));
  }

  status(): LocalCanaryStatus[] {
    const logs = join(this.options.stateDirectory, 'logs');
    return this.catalog.canaries.map((canary) => {
      const key = keyOf(canary);
      const entry = this.state.peek(key);
      const setNames = [primarySetName(canary), targetSetName(canary)] as const;
      const sets = setNames.map((set) => this.supervisor.status(set));
      const replicas = (index: number): string => `${sets[index]?.ready ?? 0}/${sets[index]?.desired ?? 0}`;
      // A set scaled to zero serves nothing and is asked nothing: its old start failure is history.
      const problems = setNames.map((set, index) =>
        (sets[index]?.desired ?? 0) > 0 ? diagnoseWorkload(set, sets[index], logs) : undefined,
      );
      const manifest = this.catalog.spec(key.namespace, canary.spec.targetRef.name);
      const lastDecision = this.notes.decisions.get(formatKey(key));
      const primaryRevision = revisionOf(entry?.primarySpec && workloadSpecHash(entry.primarySpec));
      const canaryRevision = revisionOf(entry?.status.lastAppliedSpec);
      const manifestRevision = revisionOf(manifest && workloadSpecHash(manifest));
      return {
        canary: formatKey(key),
        phase: entry?.status.phase ?? '',
        canaryWeight: entry?.routes.canaryWeight ?? 0,
        primaryWeight: entry?.routes.primaryWeight ?? 100,
        failedChecks: entry?.status.failedChecks ?? 0,
        url: this.url(key.namespace, canary.spec.targetRef.name),
        primaryReplicas: replicas(0),
        canaryReplicas: replicas(1),
        served: this.served(canary),
        ...(entry?.status.lastTransitionTime === undefined
          ? {}
          : { lastTransitionTime: entry.status.lastTransitionTime }),
        ...(primaryRevision === undefined ? {} : { primaryRevision }),
        ...(canaryRevision === undefined ? {} : { canaryRevision }),
        ...(manifestRevision === undefined ? {} : { manifestRevision }),
        ...(lastDecision === undefined ? {} : { lastDecision }),
        problems: problems.flatMap((problem) => (problem === undefined ? [] : [problem.message])),
        rollout: this.rolloutOf(canary, problems),
        warnings: this.checkWarnings(canary),
      };
    });
  }

  /**
   * `router: nginx` built-in checks read a histogram the program itself must export: once a primary
   * replica serves, its GET /metrics is read once per spec, and a warning names what is missing
   * (issue 13, item 6). Until the answer is in, the rollout waits for it.
   */
  private checkWarnings(canary: Canary): string[] {
    const pending = this.seriesCheck(canary);
    return typeof pending === 'string' && pending !== '' ? [pending] : [];
  }

  private seriesCheck(canary: Canary): Promise<void> | string | undefined {
    const builtin = (analysisOf(canary.spec)?.metrics ?? []).filter(
      (metric) =>
        metric.templateRef === undefined &&
        (metric.name === 'request-success-rate' || metric.name === 'request-duration'),
    );
    const primarySpec = this.state.peek(keyOf(canary))?.primarySpec;
    if (!this.catalog.usesNginx(canary) || builtin.length === 0 || primarySpec === undefined)
      return undefined;
    const hash = workloadSpecHash(primarySpec);
    const known = this.notes.seriesChecks.get(hash);
    if (known !== undefined) return known;
    const [endpoint] = this.supervisor.endpoints(primarySetName(canary));
    if (endpoint === undefined) return undefined;
    const names = builtin.map((metric) => metric.name).join(' and ');
    const check = missingSeries(endpoint).then((missing) => {
      this.notes.seriesChecks.set(
        hash,
        missing === ''
          ? ''
          : `Workload ${canary.spec.targetRef.name} has router: nginx, so the built-in checks ${names} read ${NGINX_CHECK_SERIES} from your program, but ${missing}: every release will halt with "no values found" and roll back even with traffic; export that histogram (with a status label), use router: builtin, or MetricTemplates of your own`,
      );
    });
    this.notes.seriesChecks.set(hash, check);
    return check;
  }

  /** Whether what was applied runs: the primary at first, then each new revision's canary processes. */
  private rolloutOf(canary: Canary, problems: readonly (WorkloadProblem | undefined)[]): LocalRollout {
    const key = keyOf(canary);
    const entry = this.state.peek(key);
    const status = entry?.status ?? {};
    const phase = status.phase ?? '';
    const [primaryProblem, canaryProblem] = problems;
    const fatal = problems.find((problem) => problem?.fatal === true);
    if (fatal !== undefined) return { state: 'failed', message: fatal.message };
    if (phase === '' || phase === 'Initializing') {
      return { state: 'progressing', message: primaryProblem?.message ?? 'starting the primary' };
    }
    if (phase === 'Failed' && status.lastPromotedSpec === undefined) {
      const why =
        this.notes.warnings.get(formatKey(key)) ?? this.notes.decisions.get(formatKey(key))?.message;
      return {
        state: 'failed',
        message: `the primary never became ready${why === undefined ? '' : `: ${why}`}`,
      };
    }
    const manifest = this.catalog.spec(key.namespace, canary.spec.targetRef.name);
    const wanted = manifest === undefined ? undefined : workloadSpecHash(manifest);
    const revision = revisionOf(wanted) ?? '-';
    if (wanted !== undefined && wanted !== status.lastAppliedSpec && wanted !== status.lastPromotedSpec) {
      return { state: 'progressing', message: `revision ${revision} waits for the engine's next tick` };
    }
    if (phase === 'Waiting') return { state: 'ready', message: 'waiting for approval (confirm-rollout)' };
    if (entry !== undefined && !entry.targetScaledToZero && status.lastAppliedSpec === wanted) {
      const moved =
        entry.canarySpec !== undefined && workloadSpecHash(entry.canarySpec) === status.lastAppliedSpec;
      if (moved && this.supervisor.readiness(targetSetName(canary))) {
        return { state: 'ready', message: `revision ${revision} runs; its analysis decides the rest` };
      }
      return {
        state: 'progressing',
        message: canaryProblem?.message ?? `the canary moves to revision ${revision}`,
      };
    }
    if (primaryProblem !== undefined) return { state: 'progressing', message: primaryProblem.message };
    if (typeof this.seriesCheck(canary) === 'object') {
      return {
        state: 'progressing',
        message: `reading the primary's GET /metrics for ${NGINX_CHECK_SERIES}`,
      };
    }
    return { state: 'ready', message: `phase ${phase}` };
  }

  private served(canary: Canary): { primary: number; canary: number } {
    const { namespace } = keyOf(canary);
    const service = canary.spec.targetRef.name;
    if (this.catalog.usesNginx(canary)) {
      const arms = this.accessLogSummary()?.routes[`${namespace}/${service}`];
      return { primary: arms?.primary.requests ?? 0, canary: arms?.canary.requests ?? 0 };
    }
    const observed = this.recorder.observe(namespace, service, ALL_RETAINED_MS);
    return { primary: observed.primary.requests, canary: observed.canary.requests };
  }

  /** nginx's own count of what it served, re-read only when the log has grown. */
  private accessLogSummary(): AccessLogSummary | undefined {
    const path = this.nginx.accessLogPath;
    if (path === undefined) return undefined;
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return undefined;
    }
    if (this.accessLogCache?.size !== size) {
      this.accessLogCache = { size, summary: parseAccessLog(readFileSync(path, 'utf8')) };
    }
    return this.accessLogCache.summary;
  }

  /** Where a canary's service answers, once its router listens. */
  url(namespace: string, service: string): string | undefined {
    return this.proxies.url(namespace, service) ?? this.nginx.url(namespace, service);
  }

  /** The Prometheus answering nginx-routed canaries' checks, once one has been needed. */
  get prometheusUrl(): Promise<string | undefined> {
    return this.prometheus.url;
  }

  /** nginx's access log (JSON lines), once a Workload with `router: nginx` has been served. */
  get nginxAccessLog(): string | undefined {
    return this.nginx.accessLogPath;
  }

  /** GET this for the routers' and the controller's metrics in Prometheus text format. */
  get metricsUrl(): string {
    return this.metricsEndpoint.url;
  }

  get trafficRecorder(): TrafficRecorder {
    return this.recorder;
  }

  get statePath(): string {
    return this.state.path;
  }

  /** Stops ticking, the routers and every process. The state file keeps where each canary was. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
    await this.proxies.closeAll();
    await this.nginx.closeAll();
    await this.prometheus.stop();
    await this.supervisor.stopAll();
    await this.webhooks.close();
    await this.metricsEndpoint.close();
    await Promise.all([this.logs.events.flush(), this.logs.alerts.flush()]);
  }

  private async startPrometheusIfNeeded(): Promise<void> {
    if (this.catalog.canaries.some((canary) => this.catalog.usesNginx(canary)))
      await this.prometheus.ensure();
  }

  private async resumeAll(): Promise<void> {
    for (const canary of this.catalog.canaries) await this.resume(canary);
  }

  /** After a restart: the processes and the split the state file says were running. */
  private async resume(canary: Canary): Promise<void> {
    // Only canaries the engine has already worked on have processes to bring back.
    if (this.state.peek(keyOf(canary))?.status.phase === undefined) return;
    await this.workloads.resume(canary);
    await this.router.refresh(canary);
  }

  /**
   * Ticks each canary not yet ticking, at once. After a restart, a canary the engine had already
   * worked on waits one interval, as it would have without the restart: the router's measurements
   * start afresh with the process, and an immediate check would find no values and halt.
   */
  private scheduleAll(options: { afterRestart?: boolean } = {}): void {
    for (const canary of this.catalog.canaries) {
      const key = keyOf(canary);
      const text = formatKey(key);
      if (this.timers.has(text) || this.running.has(text)) continue;
      const resumed = options.afterRestart === true && this.state.peek(key)?.status.phase !== undefined;
      const interval = analysisIntervalMs(analysisOf(canary.spec)?.interval) / (this.options.speed ?? 1);
      this.schedule(key, resumed ? interval : 0);
    }
  }

  private schedule(key: CanaryKey, delayMs: number): void {
    if (this.stopped) return;
    const text = formatKey(key);
    this.timers.set(
      text,
      setTimeout(() => {
        this.timers.delete(text);
        void this.tick(key).then(() => {
          const canary = this.catalog.canaries.find((candidate) => sameKey(keyOf(candidate), key));
          if (canary === undefined) return;
          const interval = analysisIntervalMs(analysisOf(canary.spec)?.interval);
          this.schedule(key, interval / (this.options.speed ?? 1));
        });
      }, delayMs),
    );
  }

  private async tick(key: CanaryKey): Promise<void> {
    const text = formatKey(key);
    const previous = this.running.get(text);
    if (previous !== undefined) return previous;
    const run = this.engine.advance(key).finally(() => this.running.delete(text));
    this.running.set(text, run);
    return run;
  }
}
