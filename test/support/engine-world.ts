/**
 * An in-memory world for engine tests: a target and its primary, a router, status storage,
 * events, webhooks, alerts and metrics, all as plain data that tests set and inspect. The fakes
 * check the engine's safety invariants on every call, and can make any call crash.
 */
import type { AlertProvider } from '../../src/api/schema/alert-provider.js';
import type { Canary, CanaryStatus, CanaryWebhook } from '../../src/api/schema/canary.js';
import type { MetricTemplate } from '../../src/api/schema/metric-template.js';
import type {
  BuiltinMetrics,
  CheckDependencies,
  CheckRegistry,
  MetricTemplates,
  MetricsProvider,
} from '../../src/engine/checks.js';
import { InMemoryDecisionLog } from '../../src/engine/decisions.js';
import { CanaryEngine, type AlertSender, type EngineMetrics } from '../../src/engine/engine.js';
import type {
  AlertSeverity,
  CanaryKey,
  CanarySource,
  Clock,
  EventSink,
  EventType,
  Readiness,
  Router,
  StatusStore,
  TargetRevision,
  WebhookClient,
  WebhookPayload,
  WebhookResult,
  Workloads,
} from '../../src/engine/ports.js';
import type { Routes } from '../../src/engine/progression.js';

export class SimulatedCrash extends Error {
  constructor(call: string) {
    super(`simulated crash in ${call}`);
  }
}

export interface HookCall {
  hook: CanaryWebhook;
  payload: WebhookPayload;
  headers: Readonly<Record<string, string>>;
}

type HookAnswer = WebhookResult | ((call: HookCall) => WebhookResult);

const OK: WebhookResult = { ok: true, status: 200, body: 'ok', attempts: 1 };
export const refused = (body = 'gate closed', status = 403): WebhookResult => ({
  ok: false,
  status,
  body,
  attempts: 1,
});

export class World {
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
  hookAnswers = new Map<string, HookAnswer>();
  secrets = new Map<string, Record<string, string>>();
  /** AlertProviders by `<namespace>/<name>`, for tests that route alerts through a real AlertRouter. */
  alertProviders = new Map<string, AlertProvider>();
  templates = new Map<string, MetricTemplate>();
  successRate = 100;
  durationMs = 10;
  templateValues = new Map<string, number | Error>();
  metrics: { call: string; args: unknown[] }[] = [];
  violations: string[] = [];
  calls: string[] = [];
  now = new Date('2026-11-23T10:00:00Z');
  /** Crash on the Nth port call (1-based), before or after the call takes effect. */
  crash: { at: number; when: 'before' | 'after' } | undefined;
  readonly decisions = new InMemoryDecisionLog(100);

  constructor(canary: Canary) {
    this.canary = structuredClone(canary);
  }

  get key(): CanaryKey {
    return { namespace: this.canary.metadata.namespace ?? 'default', name: this.canary.metadata.name };
  }

  get status(): CanaryStatus {
    return this.canary.status ?? {};
  }

  /** Runs a port call with crash injection and records it. */
  private async port<T>(name: string, effect: () => T | Promise<T>): Promise<T> {
    this.calls.push(name);
    const index = this.calls.length;
    if (this.crash?.at === index && this.crash.when === 'before') throw new SimulatedCrash(name);
    const result = await effect();
    if (this.crash?.at === index && this.crash.when === 'after') throw new SimulatedCrash(name);
    return result;
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
        const answer = this.hookAnswers.get(hook.name) ?? OK;
        return typeof answer === 'function' ? answer(call) : answer;
      }),
  };

  readonly alertSender: AlertSender = {
    send: (_canary, severity, text) => {
      this.alerts.push({ severity, text });
      return Promise.resolve();
    },
  };

  readonly builtin: BuiltinMetrics = {
    requestSuccessRate: () => this.port('successRate', () => this.successRate),
    requestDurationMs: () => this.port('durationMs', () => this.durationMs),
  };

  readonly metricTemplates: MetricTemplates = {
    get: (namespace, name) => Promise.resolve(this.templates.get(`${namespace}/${name}`)),
    providerFor: (template): Promise<MetricsProvider> =>
      Promise.resolve({
        queryValue: (query) =>
          this.port(`query:${template.metadata.name}`, () => {
            const value = this.templateValues.get(template.metadata.name);
            if (value instanceof Error) throw value;
            if (value === undefined) throw new Error(`no value scripted for ${query}`);
            return value;
          }),
      }),
    inlineProvider: (): Promise<MetricsProvider> =>
      Promise.resolve({
        queryValue: () => this.port('inlineQuery', () => this.templateValues.get('inline') as number),
      }),
  };

  readonly engineMetrics: EngineMetrics = new Proxy({} as EngineMetrics, {
    get:
      (_target, call: string) =>
      (...args: unknown[]) => {
        this.metrics.push({ call, args: args.slice(1) });
      },
  });

  readonly clock: Clock = { now: () => this.now };

  engine(
    options: {
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
    } = {},
  ): CanaryEngine {
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
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock: this.clock,
      ...options,
    });
  }

  /** One tick with a fresh engine (the engine keeps no state between ticks), then the clock moves on. */
  async tick(options: Parameters<World['engine']>[0] = {}): Promise<void> {
    await this.engine(options).advance(this.key);
    this.now = new Date(this.now.getTime() + 60_000);
  }

  /** A new revision of the target (a changed pod template). */
  release(hash: string): void {
    this.targetHash = hash;
  }

  get phase(): string {
    return this.status.phase ?? '';
  }

  messages(): string[] {
    return this.events.map((event) => event.message);
  }
}

export function newTestCanary(
  analysis: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      provider: 'nginx',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 2, maxWeight: 50, stepWeight: 20, ...analysis },
      ...spec,
    },
  };
}

/** A world whose canary is Initialized on rev-1 and has just been given rev-2. */
export async function initializedWorld(canary: Canary = newTestCanary()): Promise<World> {
  const world = new World(canary);
  await world.tick();
  if (world.phase !== 'Initialized') throw new Error(`initialization failed: ${world.phase}`);
  world.events = [];
  world.alerts = [];
  world.hookCalls = [];
  world.release('rev-2');
  return world;
}
