/**
 * The controller's Prometheus metrics (docs/flagger-compatibility.md#8-telemetry). Names, labels and help texts are Flagger's
 * (`pkg/metrics/recorder.go`), so its Grafana dashboards and users' alerting rules keep working;
 * Vireo's own additions are prefixed `vireo_`.
 *
 * Everything lives on the `Registry` given to the constructor: nothing is registered at import
 * time or on prom-client's global registry, so tests and several controllers in one process do
 * not collide.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Canary, CanaryPhase } from '../api/schema/canary.js';
import type { AlertDropReason, AlertOutboxRecorder } from './alert-outbox.js';
import type { AlertDeliveryRecorder, AlertDeliveryResult } from './alerts.js';
import { keyOf } from './ports.js';
import type { DeploymentStrategy } from './progression.js';

/**
 * Go's `prometheus.DefBuckets`, which Flagger uses for the tick duration. prom-client's defaults
 * are the same today; spelling them out keeps the two from drifting apart.
 */
export const FLAGGER_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** `analysis_status`: a promotion after a full analysis, or one with `skipAnalysis`. */
export type AnalysisStatus = 'completed' | 'skipped';

export type WebhookCallResult = 'success' | 'failure';

/** `flagger_canary_status` values: Flagger's dashboards read 0 as running and 2 as failed. */
const STATUS_PROGRESSING = 0;
const STATUS_FAILED = 2;
const STATUS_OTHER = 1;

export interface ControllerMetricsOptions {
  /** The registry the metrics are served from; owned by the caller. */
  readonly registry: Registry;
  /** Adds prom-client's process and Node.js metrics, as Flagger exposes Go's. */
  readonly collectDefaultMetrics?: boolean;
}

type CanaryLabels = { name: string; namespace: string };

export class ControllerMetrics implements AlertDeliveryRecorder, AlertOutboxRecorder {
  readonly registry: Registry;

  private readonly info: Gauge<'version' | 'mesh_provider'>;
  private readonly duration: Histogram<'name' | 'namespace'>;
  private readonly total: Gauge<'namespace'>;
  private readonly status: Gauge<'name' | 'namespace'>;
  private readonly weight: Gauge<'workload' | 'namespace'>;
  private readonly analysis: Gauge<'name' | 'namespace' | 'metric'>;
  private readonly analysisThreshold: Gauge<'name' | 'namespace' | 'metric' | 'bound'>;
  private readonly successes: Counter<'name' | 'namespace' | 'deployment_strategy' | 'analysis_status'>;
  private readonly failures: Counter<'name' | 'namespace' | 'deployment_strategy' | 'analysis_status'>;
  private readonly webhookCalls: Counter<'type' | 'result'>;
  private readonly alertDeliveries: Counter<'provider_type' | 'result'>;
  private readonly alertRetries: Counter<'provider_type'>;
  private readonly alertsQueued: Gauge;
  private readonly alertsDropped: Counter<'reason'>;

  /** Registers every metric on `options.registry`; a registry takes one ControllerMetrics. */
  constructor(options: ControllerMetricsOptions) {
    this.registry = options.registry;
    const registers = [this.registry];

    this.info = new Gauge({
      name: 'flagger_info',
      help: 'Flagger version and mesh provider information',
      labelNames: ['version', 'mesh_provider'],
      registers,
    });
    this.duration = new Histogram({
      name: 'flagger_canary_duration_seconds',
      help: 'Seconds spent performing canary analysis.',
      labelNames: ['name', 'namespace'],
      buckets: [...FLAGGER_DURATION_BUCKETS],
      registers,
    });
    this.total = new Gauge({
      name: 'flagger_canary_total',
      help: 'Total number of canary object',
      labelNames: ['namespace'],
      registers,
    });
    this.status = new Gauge({
      name: 'flagger_canary_status',
      help: 'Last canary analysis result',
      labelNames: ['name', 'namespace'],
      registers,
    });
    this.weight = new Gauge({
      name: 'flagger_canary_weight',
      help: 'The virtual service destination weight current value',
      labelNames: ['workload', 'namespace'],
      registers,
    });
    this.analysis = new Gauge({
      name: 'flagger_canary_metric_analysis',
      help: 'Last canary analysis result per metric',
      labelNames: ['name', 'namespace', 'metric'],
      registers,
    });
    // Vireo's: the bounds each check's value is judged against, beside flagger_canary_metric_analysis
    // (docs/dashboards.md plots the two together).
    this.analysisThreshold = new Gauge({
      name: 'vireo_canary_metric_threshold',
      help: 'Accepted range of each metric check, in the unit of flagger_canary_metric_analysis (bound: min or max)',
      labelNames: ['name', 'namespace', 'metric', 'bound'],
      registers,
    });
    this.successes = new Counter({
      name: 'flagger_canary_successes_total',
      help: 'Total number of canary successes',
      labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
      registers,
    });
    this.failures = new Counter({
      name: 'flagger_canary_failures_total',
      help: 'Total number of canary failures',
      labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
      registers,
    });
    this.webhookCalls = new Counter({
      name: 'vireo_webhook_calls_total',
      help: 'Webhook calls by hook type and outcome',
      labelNames: ['type', 'result'],
      registers,
    });
    this.alertDeliveries = new Counter({
      name: 'vireo_alerts_total',
      help: 'Alert deliveries by provider type and outcome',
      labelNames: ['provider_type', 'result'],
      registers,
    });
    this.alertRetries = new Counter({
      name: 'vireo_alert_retries_total',
      help: 'Alert requests sent again after a chat service failed, timed out or was unreachable',
      labelNames: ['provider_type'],
      registers,
    });
    this.alertsQueued = new Gauge({
      name: 'vireo_alerts_queued',
      help: 'Alerts waiting for delivery or being delivered',
      registers,
    });
    this.alertsDropped = new Counter({
      name: 'vireo_alerts_dropped_total',
      help: 'Alerts never handed to a notifier (queue full, or still queued at shutdown)',
      labelNames: ['reason'],
      registers,
    });

    if (options.collectDefaultMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text served on `/metrics`. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  setInfo(version: string, meshProvider: string): void {
    this.info.set({ version, mesh_provider: meshProvider }, 1);
  }

  /** Canaries per namespace, recomputed by the scheduler on each pass. */
  setCanaryTotal(namespace: string, count: number): void {
    this.total.set({ namespace }, count);
  }

  setStatus(canary: Canary, phase: CanaryPhase): void {
    this.status.set(canaryLabels(canary), statusValue(phase));
  }

  /** `<target>-primary` carries the primary's weight, `<target>` the canary's. */
  setWeights(canary: Canary, primaryWeight: number, canaryWeight: number): void {
    const { name, namespace } = canaryLabels(canary);
    this.weight.set({ workload: `${name}-primary`, namespace }, primaryWeight);
    this.weight.set({ workload: name, namespace }, canaryWeight);
  }

  /** The last value of a metric check, as measured (request-duration: use `setRequestDuration`). */
  setMetricValue(canary: Canary, metric: string, value: number): void {
    this.analysis.set({ ...canaryLabels(canary), metric }, value);
  }

  /** The accepted range of a check; a bound the check does not have is removed. */
  setMetricThreshold(canary: Canary, metric: string, threshold: { min?: number; max?: number }): void {
    for (const bound of ['min', 'max'] as const) {
      const labels = { ...canaryLabels(canary), metric, bound };
      const value = threshold[bound];
      if (value === undefined) this.analysisThreshold.remove(labels);
      else this.analysisThreshold.set(labels, value);
    }
  }

  /** The built-in request-duration check measures milliseconds; Flagger records seconds (docs/flagger-compatibility.md#41-built-in-checks). */
  setRequestDuration(canary: Canary, metric: string, milliseconds: number): void {
    this.setMetricValue(canary, metric, milliseconds / 1000);
  }

  /** Time spent in one analysis step (docs/flagger-compatibility.md#21-one-tick step 23 onwards). */
  observeTickDuration(canary: Canary, seconds: number): void {
    this.duration.observe(canaryLabels(canary), seconds);
  }

  countSuccess(canary: Canary, strategy: DeploymentStrategy, status: AnalysisStatus): void {
    this.successes.inc(outcomeLabels(canary, strategy, status));
  }

  countFailure(canary: Canary, strategy: DeploymentStrategy, status: AnalysisStatus = 'completed'): void {
    this.failures.inc(outcomeLabels(canary, strategy, status));
  }

  /**
   * One webhook call, named to match the engine's `EngineMetrics.countWebhook`. An empty hook type
   * means rollout (docs/flagger-compatibility.md#5-webhooks), and an empty label value would read as no label at all.
   */
  countWebhook(type: string | undefined, ok: boolean): void {
    const result: WebhookCallResult = ok ? 'success' : 'failure';
    this.webhookCalls.inc({ type: type === undefined || type === '' ? 'rollout' : type, result });
  }

  countAlertDelivery(providerType: string, result: AlertDeliveryResult): void {
    this.alertDeliveries.inc({ provider_type: providerType, result });
  }

  /** Requests a notifier sent beyond the first for one message (src/notifiers/transport.ts retries). */
  countAlertRetries(providerType: string, retries: number): void {
    if (retries > 0) this.alertRetries.inc({ provider_type: providerType }, retries);
  }

  setAlertsQueued(count: number): void {
    this.alertsQueued.set(count);
  }

  countAlertDropped(reason: AlertDropReason): void {
    this.alertsDropped.inc({ reason });
  }
}

/** Flagger labels canary series with the target's name, not the Canary's (docs/flagger-compatibility.md#8-telemetry). */
function canaryLabels(canary: Canary): CanaryLabels {
  return { name: canary.spec.targetRef.name, namespace: keyOf(canary).namespace };
}

function outcomeLabels(canary: Canary, strategy: DeploymentStrategy, status: AnalysisStatus) {
  return { ...canaryLabels(canary), deployment_strategy: strategy, analysis_status: status };
}

function statusValue(phase: CanaryPhase): number {
  if (phase === 'Progressing') return STATUS_PROGRESSING;
  if (phase === 'Failed') return STATUS_FAILED;
  return STATUS_OTHER;
}
