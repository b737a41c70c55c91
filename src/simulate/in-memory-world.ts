/**
 * Every port of the analysis engine (src/engine/ports.ts) in memory, as plain data that callers
 * set and inspect: a target and its primary, a router, status storage, events, webhooks, alerts,
 * metrics and a clock that moves only when told. `vireo simulate` runs the real engine against it
 * (docs/adr/0018-simulate-runs-the-engine.md), and the engine's tests do too
 * (test/support/engine-world.ts adds crash injection).
 *
 * The fakes check the engine's safety invariants on every call and record what they saw in
 * `violations`: traffic to a workload scaled to zero, a workload scaled down while it takes
 * traffic, weights that do not add up to 100.
 */
import type { AlertProvider } from '../api/schema/alert-provider.js';
import type { Canary, CanaryStatus, CanaryWebhook } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import type {
  BuiltinMetrics,
  CheckRegistry,
  CheckDependencies,
  MetricTemplates,
  MetricsProvider,
} from '../engine/checks.js';
import { InMemoryDecisionLog, type Decision, type DecisionLog } from '../engine/decisions.js';
import { CanaryEngine, type AlertSender, type EngineMetrics } from '../engine/engine.js';
import type {
  AlertSeverity,
  CanaryKey,
  CanarySource,
  Clock,
  EventSink,
  EventType,
  Readiness,
  RequestAcknowledger,
  Router,
  StatusStore,
  TargetRevision,
  WebhookClient,
  WebhookPayload,
  WebhookResult,
  Workloads,
} from '../engine/ports.js';
import type { Routes } from '../engine/progression.js';

export interface HookCall {
  readonly hook: CanaryWebhook;
  readonly payload: WebhookPayload;
  readonly headers: Readonly<Record<string, string>>;
}

export type HookAnswer = WebhookResult | ((call: HookCall) => WebhookResult);

/** One metric query, as the check that made it asked for it. */
export type MetricQuery =
  | { readonly kind: 'request-success-rate' | 'request-duration' }
  | { readonly kind: 'template'; readonly template: string }
  | { readonly kind: 'inline' };

export const HOOK_OK: WebhookResult = { ok: true, status: 200, body: 'ok', attempts: 1 };

export const refused = (body = 'gate closed', status = 403): WebhookResult => ({
  ok: false,
  status,
  body,
  attempts: 1,
});

/** What the engine is built with besides the world's ports (real clients in tests, judges). */
export interface WorldEngineOptions {
  meshProvider?: string;
  eventWebhook?: string;
  /** Check kinds instead of Flagger's (a judge, in tests of the judge seam). */
  checkKinds?: CheckRegistry;
  /** A real webhook client instead of the world's scripted one. */
  webhooks?: WebhookClient;
  /** A real alert path (AlertRouter, notifiers) instead of the world's recorder. */
  alerts?: AlertSender;
  /** Real metric backends instead of the world's scripted values. */
  checks?: CheckDependencies;
  /** Answers operators' requests (src/engine/operator-requests.ts); absent: they are left alone. */
  requests?: RequestAcknowledger;
  /** The controller's --min-analysis-interval (default 10s). */
  minIntervalMs?: number;
}

export class InMemoryWorld {
  canary: Canary;
  targetHash = 'rev-1';
  trackedConfigs: Record<string, string> = {};
  primaryHash: string | undefined;
  /** Every revision the primary was given, in order (a repeated entry is a double promotion). */
  promotions: string[] = [];
  primaryExists = false;
  targetScaledToZero = false;
  primaryReady: Readiness = { ready: true };
  canaryReady: Readiness = { ready: true };
  routes: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
  routeHistory: Routes[] = [];
  events: { type: EventType; message: string }[] = [];
  alerts: { severity: AlertSeverity; text: string }[] = [];
  hookCalls: HookCall[] = [];
  /** Answers by hook name; a hook without one answers 200. */
  hookAnswers = new Map<string, HookAnswer>();
  secrets = new Map<string, Record<string, string>>();
  /** AlertProviders by `<namespace>/<name>`, for a real AlertRouter. */
  alertProviders = new Map<string, AlertProvider>();
  /** MetricTemplates by `<namespace>/<name>`. */
  templates = new Map<string, MetricTemplate>();
  successRate = 100;
  durationMs = 10;
  /** What the metrics server of the built-in checks answers when asked whether it is up. */
  metricsServerOnline: boolean | Error = true;
  /** The same per MetricTemplate name (absent: up). */
  templateOnline = new Map<string, boolean | Error>();
  /** Values of template queries by template name (`inline` for inline queries); an Error is thrown. */
  templateValues = new Map<string, number | Error>();
  /** The engine's metric calls, without the canary argument. */
  metrics: { call: string; args: unknown[] }[] = [];
  violations: string[] = [];
  /** Every port call, in order. */
  calls: string[] = [];
  now = new Date('2026-11-23T10:00:00Z');
  /** What the engine logged as an error: a tick that failed and would be retried. */
  engineErrors: { message: string; fields: object }[] = [];
  /** Every decision the engine recorded, oldest first (the log below keeps the last 100). */
  readonly decisionHistory: Decision[] = [];
  private readonly decisionLog = new InMemoryDecisionLog(100);
  readonly decisions: DecisionLog = {
    record: (key, decision) => {
      this.decisionHistory.push(decision);
      return this.decisionLog.record(key, decision);
    },
    recent: (key, limit) => this.decisionLog.recent(key, limit),
  };

  constructor(canary: Canary) {
    this.canary = structuredClone(canary);
  }

  get key(): CanaryKey {
    return { namespace: this.canary.metadata.namespace ?? 'default', name: this.canary.metadata.name };
  }

  get status(): CanaryStatus {
    return this.canary.status ?? {};
  }

  get phase(): string {
    return this.status.phase ?? '';
  }

  /** A new revision of the target (a changed pod template). */
  release(hash: string): void {
    this.targetHash = hash;
  }

  messages(): string[] {
    return this.events.map((event) => event.message);
  }

  /** Every port call with an effect goes through here (tests make it crash). */
  protected async port<T>(name: string, effect: () => T | Promise<T>): Promise<T> {
    this.calls.push(name);
    return effect();
  }

  /** The value a metric query returns, or the Error it fails with. */
  protected metricValue(query: MetricQuery): number | Error {
    switch (query.kind) {
      case 'request-success-rate':
        return this.successRate;
      case 'request-duration':
        return this.durationMs;
      case 'template':
        return (
          this.templateValues.get(query.template) ?? new Error(`no value scripted for ${query.template}`)
        );
      case 'inline':
        return this.templateValues.get('inline') ?? new Error('no value scripted for the inline query');
    }
  }

  /** How a webhook answers. */
  protected hookAnswer(call: HookCall): WebhookResult {
    const answer = this.hookAnswers.get(call.hook.name) ?? HOOK_OK;
    return typeof answer === 'function' ? answer(call) : answer;
  }

  private query(name: string, query: MetricQuery): Promise<number> {
    return this.port(name, () => {
      const value = this.metricValue(query);
      if (value instanceof Error) throw value;
      return value;
    });
  }

  readonly source: CanarySource = {
    getCanary: () => Promise.resolve(structuredClone(this.canary)),
    getMetricTemplate: (namespace, name) => Promise.resolve(this.templates.get(`${namespace}/${name}`)),
    getAlertProvider: (namespace, name): Promise<AlertProvider | undefined> =>
      Promise.resolve(this.alertProviders.get(`${namespace}/${name}`)),
    getSecret: (namespace, name) => Promise.resolve(this.secrets.get(`${namespace}/${name}`)),
  };

  readonly workloads: Workloads = {
    ensurePrimary: () =>
      this.port('ensurePrimary', () => {
        if (!this.primaryExists) {
          this.primaryExists = true;
          this.primaryHash = this.targetHash;
        }
      }),
    primaryReadiness: () => this.port('primaryReadiness', () => this.primaryReady),
    canaryReadiness: () => this.port('canaryReadiness', () => this.canaryReady),
    scaleToZero: () =>
      this.port('scaleToZero', () => {
        if (this.routes.canaryWeight > 0)
          this.violations.push(`scaled to zero while taking ${this.routes.canaryWeight}% of traffic`);
        this.targetScaledToZero = true;
      }),
    scaleFromZero: () =>
      this.port('scaleFromZero', () => {
        this.targetScaledToZero = false;
      }),
    promote: () =>
      this.port('promote', () => {
        // Idempotent by content, as the port's contract says.
        if (this.primaryHash === this.targetHash) return;
        this.primaryHash = this.targetHash;
        this.promotions.push(this.targetHash);
      }),
    revision: () =>
      this.port('revision', (): TargetRevision => ({
        specHash: this.targetHash,
        trackedConfigs: { ...this.trackedConfigs },
      })),
    restoreTarget: () =>
      this.port('restoreTarget', () => {
        this.targetScaledToZero = false;
      }),
  };

  readonly router: Router = {
    reconcile: () => this.port('reconcile', () => undefined),
    getRoutes: () => this.port('getRoutes', () => ({ ...this.routes })),
    setRoutes: (_canary, routes) =>
      this.port('setRoutes', () => {
        if (routes.primaryWeight + routes.canaryWeight !== 100)
          this.violations.push(`weights do not add up: ${JSON.stringify(routes)}`);
        if (routes.canaryWeight > 0 && this.targetScaledToZero)
          this.violations.push(`${routes.canaryWeight}% of traffic sent to a workload scaled to zero`);
        this.routes = { ...routes };
        this.routeHistory.push({ ...routes });
      }),
    finalize: () => this.port('finalizeRoutes', () => undefined),
  };

  readonly store: StatusStore = {
    update: (_key, change) =>
      this.port('updateStatus', () => {
        const next = change(structuredClone(this.canary.status ?? {}));
        this.canary.status = next;
        return structuredClone(next);
      }),
  };

  /** The event sink (`events` holds what it received). */
  readonly events_: EventSink = {
    emit: (_canary, type, message) => {
      this.events.push({ type, message });
      return Promise.resolve();
    },
  };

  readonly webhooks: WebhookClient = {
    call: (hook, payload, headers) =>
      this.port(`webhook:${hook.name}`, () => {
        const call = { hook, payload, headers };
        this.hookCalls.push(call);
        return this.hookAnswer(call);
      }),
  };

  readonly alertSender: AlertSender = {
    send: (_canary, severity, text) => {
      this.alerts.push({ severity, text });
      return Promise.resolve();
    },
  };

  readonly builtin: BuiltinMetrics = {
    requestSuccessRate: () => this.query('successRate', { kind: 'request-success-rate' }),
    requestDurationMs: () => this.query('durationMs', { kind: 'request-duration' }),
    isOnline: () => answerOnline(this.metricsServerOnline),
  };

  readonly metricTemplates: MetricTemplates = {
    get: (namespace, name) => Promise.resolve(this.templates.get(`${namespace}/${name}`)),
    providerFor: (template): Promise<MetricsProvider> =>
      Promise.resolve({
        queryValue: () =>
          this.query(`query:${template.metadata.name}`, {
            kind: 'template',
            template: template.metadata.name,
          }),
        isOnline: () => answerOnline(this.templateOnline.get(template.metadata.name) ?? true),
      }),
    inlineProvider: (): Promise<MetricsProvider> =>
      Promise.resolve({ queryValue: () => this.query('inlineQuery', { kind: 'inline' }) }),
  };

  private recordMetric(call: string, args: unknown[]): void {
    this.metrics.push({ call, args });
  }

  readonly engineMetrics: EngineMetrics = {
    setStatus: (_canary, phase) => this.recordMetric('setStatus', [phase]),
    setWeights: (_canary, primary, canary) => this.recordMetric('setWeights', [primary, canary]),
    setMetricValue: (_canary, metric, value) => this.recordMetric('setMetricValue', [metric, value]),
    observeTickDuration: (_canary, seconds) => this.recordMetric('observeTickDuration', [seconds]),
    countSuccess: (_canary, strategy, status) => this.recordMetric('countSuccess', [strategy, status]),
    countFailure: (_canary, strategy, status) => this.recordMetric('countFailure', [strategy, status]),
    countWebhook: (type, ok) => this.recordMetric('countWebhook', [type, ok]),
  };

  readonly clock: Clock = { now: () => this.now };

  /** The real engine on this world's ports. It keeps no state between ticks: build one per tick or reuse it. */
  engine(options: WorldEngineOptions = {}): CanaryEngine {
    return new CanaryEngine({
      source: this.source,
      workloads: this.workloads,
      router: this.router,
      status: this.store,
      events: this.events_,
      webhooks: this.webhooks,
      alerts: this.alertSender,
      checks: { builtin: this.builtin, templates: this.metricTemplates },
      decisions: this.decisions,
      metrics: this.engineMetrics,
      logger: {
        info: () => undefined,
        warn: () => undefined,
        error: (fields, message) => this.engineErrors.push({ message, fields }),
      },
      clock: this.clock,
      ...options,
    });
  }
}

function answerOnline(answer: boolean | Error): Promise<boolean> {
  return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
}
