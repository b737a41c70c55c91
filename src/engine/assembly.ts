/**
 * The one way to assemble the engine (docs/engine.md "Assembly"): a platform (the Kubernetes
 * controller, local mode) brings its ports (canary source, status store, workloads, router,
 * built-in metrics, events, clock, logger, metrics registry) and gets back the engine with
 * everything around it wired the same way everywhere: Flagger's controller metrics, the alert
 * router behind the alert outbox (a tick hands alerts over and moves on, docs/notifiers.md),
 * the webhook client, MetricTemplates, the decision log, the check kinds and the scheduler that
 * ticks each canary. See docs/adr/0019-one-engine-assembly-and-the-judge-seam.md.
 */
import type { Registry } from 'prom-client';
import type { Canary } from '../api/schema/canary.js';
import { BackendMetricTemplates } from '../metrics/templates.js';
import { ChatNotifierFactory } from '../notifiers/factory.js';
import type { NotifierDeps } from '../notifiers/notifier.js';
import type { TransportOptions } from '../notifiers/transport.js';
import type { SecretReader } from '../secrets/secret-reader.js';
import type { Logger } from '../shared/logger.js';
import { VERSION } from '../shared/version.js';
import { HttpWebhookClient } from '../webhooks/http-webhook-client.js';
import { AlertOutbox } from './alert-outbox.js';
import { AlertRouter } from './alerts.js';
import {
  DEFAULT_CHECK_REGISTRY,
  type BuiltinMetrics,
  type CheckRegistry,
  type TrafficObservations,
} from './checks.js';
import { InMemoryDecisionLog, type DecisionLog } from './decisions.js';
import { CanaryEngine } from './engine.js';
import { JUDGE_CHECKS } from './judge/judge.js';
import {
  type AlertSeverity,
  type CanaryKey,
  type CanarySource,
  type Clock,
  type EventSink,
  type Notifier,
  type RequestAcknowledger,
  type Router,
  type StatusStore,
  type WebhookClient,
  type Workloads,
} from './ports.js';
import { CanaryScheduler, type SchedulerTimers } from './scheduler.js';
import { ControllerMetrics } from './telemetry.js';

/** What a platform brings. */
export interface PlatformPorts {
  readonly source: CanarySource;
  /** Secrets of MetricTemplates' providers (absent: a template with a secretRef fails, saying so). */
  readonly secrets?: SecretReader;
  readonly workloads: Workloads;
  readonly router: Router;
  readonly status: StatusStore;
  readonly events: EventSink;
  /** request-success-rate and request-duration, as the platform measures them. */
  readonly builtin: BuiltinMetrics;
  /** Per-arm traffic for comparison judges, where the platform's router counts it. */
  readonly observations?: TrafficObservations;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where Flagger's controller metrics are registered; served by the platform. */
  readonly registry: Registry;
  /** Where decisions are kept (default: the last 50 per canary in memory). */
  readonly decisions?: DecisionLog;
  /** Answers operators' requests (vireo promote, abort, …); without it they are left alone. */
  readonly requests?: RequestAcknowledger;
  /** The scheduler's timers (default: Node's). */
  readonly timers?: SchedulerTimers;
  /** The webhook client (default: HTTP, closed with the assembly). */
  readonly webhooks?: WebhookClient;
}

export interface AssemblyOptions {
  /** The default router of canaries without `spec.provider` (`--mesh-provider`, or `local`). */
  readonly meshProvider: string;
  /** `--min-analysis-interval` (test clusters): the engine's "next step in …" uses it. */
  readonly minIntervalMs?: number;
  /** `--metrics-server`, for deprecated inline queries. */
  readonly metricsServer?: string;
  /** `--event-webhook` */
  readonly eventWebhook?: string;
  /** `--cluster-name`, shown in alerts. */
  readonly clusterName?: string;
  /** Builds the global notifier (SLACK_URL, --msteams-url…), given the alert log and retry counter. */
  readonly globalNotifier?: (deps: NotifierDeps) => Notifier | undefined;
  /** Timeouts and retries of chat deliveries (tests shorten them). */
  readonly notifierTransport?: TransportOptions;
  /** Adds prom-client's process and Node.js metrics (the controller does, as Flagger exposes Go's). */
  readonly processMetrics?: boolean;
  /**
   * The check kinds (default: Flagger's built-in, template and inline-query checks, and the
   * sequential judge for canaries that enable it, docs/judge.md).
   */
  readonly checkKinds?: CheckRegistry;
  /** Sees each alert as the engine sends it, before it is queued for delivery; must not throw. */
  readonly onAlert?: (canary: Canary, severity: AlertSeverity, text: string) => void;
  /** Called as each tick starts (the controller counts them). */
  readonly onTick?: (key: CanaryKey) => void;
  /** How long `close` waits for queued alerts (default 20 s: one chat message's worst case and a margin). */
  readonly alertDrainTimeoutMs?: number;
}

export interface EngineAssembly {
  readonly engine: CanaryEngine;
  /** Ticks each canary: jobs are keyed by `scheduleId(key)`. */
  readonly scheduler: CanaryScheduler;
  readonly metrics: ControllerMetrics;
  readonly decisions: DecisionLog;
  readonly alerts: AlertOutbox;
  /** Stops the scheduler (ticks in flight finish), closes the webhook client, drains queued alerts. */
  close(): Promise<void>;
}

export const DEFAULT_ALERT_DRAIN_TIMEOUT_MS = 20_000;

/** A canary's job in the scheduler: `<namespace>/<name>`. */
export const scheduleId = (key: CanaryKey): string => `${key.namespace}/${key.name}`;

export function keyOfScheduleId(id: string): CanaryKey {
  const slash = id.indexOf('/');
  return { namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}

export function assembleEngine(ports: PlatformPorts, options: AssemblyOptions): EngineAssembly {
  const { logger, registry } = ports;
  const metrics = new ControllerMetrics({ registry, collectDefaultMetrics: options.processMetrics === true });
  metrics.setInfo(VERSION, options.meshProvider);

  const alertLog = logger.child({ component: 'alerts' });
  const notifierDeps: NotifierDeps = {
    log: (entry) => alertLog.error(entry, entry.msg ?? 'alert not delivered'),
    countRetries: (providerType, retries) => metrics.countAlertRetries(providerType, retries),
    ...(options.notifierTransport === undefined ? {} : { transport: options.notifierTransport }),
  };
  const globalNotifier = options.globalNotifier?.(notifierDeps);
  const alertRouter = new AlertRouter({
    source: ports.source,
    notifiers: new ChatNotifierFactory(notifierDeps),
    ...(globalNotifier === undefined ? {} : { globalNotifier }),
    ...(options.clusterName === undefined ? {} : { clusterName: options.clusterName }),
    meshProvider: options.meshProvider,
    log: (entry) => alertLog.info(entry),
    deliveries: metrics,
  });
  // Ticks hand alerts over and move on: a chat outage never delays a rollback (docs/notifiers.md).
  const outbox = new AlertOutbox({
    deliver: { send: (canary, severity, text) => alertRouter.send(canary, severity, text) },
    recorder: metrics,
    logger: alertLog,
  });
  const onAlert = options.onAlert;
  const alerts =
    onAlert === undefined
      ? outbox
      : {
          send: (canary: Canary, severity: AlertSeverity, text: string) => {
            onAlert(canary, severity, text);
            return outbox.send(canary, severity, text);
          },
        };

  const webhooks = ports.webhooks ?? new HttpWebhookClient();
  // The engine logs each decision once, with its canary; the default log only keeps them.
  const decisions: DecisionLog = ports.decisions ?? new InMemoryDecisionLog();
  const metricsLogger = logger.child({ component: 'metrics' });
  const engine = new CanaryEngine({
    source: ports.source,
    workloads: ports.workloads,
    router: ports.router,
    status: ports.status,
    events: ports.events,
    webhooks,
    alerts,
    checks: {
      builtin: ports.builtin,
      templates: new BackendMetricTemplates({
        lookup: { get: (namespace, name) => ports.source.getMetricTemplate(namespace, name) },
        ...(ports.secrets === undefined ? {} : { secrets: ports.secrets }),
        deps: { logger: metricsLogger },
        ...(options.metricsServer === undefined ? {} : { metricsServer: options.metricsServer }),
      }),
      ...(ports.observations === undefined ? {} : { observations: ports.observations }),
    },
    decisions,
    ...(ports.requests === undefined ? {} : { requests: ports.requests }),
    metrics,
    logger: logger.child({ component: 'engine' }),
    clock: ports.clock,
    meshProvider: options.meshProvider,
    ...(options.minIntervalMs === undefined ? {} : { minIntervalMs: options.minIntervalMs }),
    ...(options.eventWebhook === undefined ? {} : { eventWebhook: options.eventWebhook }),
    checkKinds: options.checkKinds ?? DEFAULT_CHECK_REGISTRY.with(JUDGE_CHECKS),
  });
  const scheduler = new CanaryScheduler(async (id) => {
    const key = keyOfScheduleId(id);
    options.onTick?.(key);
    await engine.advance(key);
  }, ports.timers);

  let closing: Promise<void> | undefined;
  return {
    engine,
    scheduler,
    metrics,
    decisions,
    alerts: outbox,
    close: () => {
      closing ??= (async () => {
        await scheduler.stop();
        await webhooks.close?.();
        await outbox.close(options.alertDrainTimeoutMs ?? DEFAULT_ALERT_DRAIN_TIMEOUT_MS);
        await decisions.flush?.();
      })();
      return closing;
    },
  };
}
