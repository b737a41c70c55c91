/**
 * The analysis engine: one `advance` call is one tick of docs/flagger-compatibility.md#21-one-tick for one canary. It reads
 * everything it needs through ports on every tick (status, routes, readiness), so a restart of the
 * process resumes from what is persisted, and each step is safe to repeat:
 * - traffic always leaves a workload before it is scaled to zero (routes first, then scale);
 * - promotion writes phase Promoting first and `Workloads.promote` is idempotent by content, so
 *   a crash between the two repeats nothing and misses nothing.
 */
import { adoptFlaggerStatus, isFlaggerRevision } from './takeover.js';
import type { Canary, CanaryPhase, CanaryStatus, CanaryWebhook } from '../api/schema/canary.js';
import { formatDuration } from '../api/duration.js';
import type { LogWriter } from '../shared/logger.js';
import { eventWebhookPayload, headersFromSecret, webhookPayload } from '../webhooks/payload.js';
import { ALERT_TEXT } from './alerts.js';
import {
  DEFAULT_CHECK_REGISTRY,
  type CheckContext,
  type CheckDependencies,
  type CheckOutcome,
  type CheckRegistry,
} from './checks.js';
import type { Decision, DecisionAction, DecisionLog, WebhookEvidence } from './decisions.js';
import {
  abortAlertText,
  malformedRequestMessage,
  pendingRequest,
  planRequest,
  type OperatorRequest,
  type PendingRequest,
  type RequestPlan,
  type RequestRecord,
} from './operator-requests.js';
import {
  isFirstAnalysisStep,
  nextProgressionStep,
  nextPromotionStep,
  type DeploymentStrategy,
  type ProgressionSettings,
  type Routes,
  type StepGate,
} from './progression.js';
import {
  formatKey,
  keyOf,
  type AlertSeverity,
  type CanaryKey,
  type CanarySource,
  type Clock,
  type EventSink,
  type EventType,
  type Readiness,
  type RequestAcknowledger,
  type Router,
  type StatusStore,
  type TargetRevision,
  type WebhookClient,
  type WebhookResult,
  type Workloads,
} from './ports.js';
import {
  PROVIDERS_AVAILABLE,
  PROVIDERS_CHECK_FAILED,
  unavailableMetricProvider,
} from './provider-availability.js';
import { analysisOf, progressionSettings } from './settings.js';
import { analysisStarted, analysisStartedAt, kubernetesTime, withPhase } from './status.js';

/** Sends a canary's alerts (per-canary AlertProviders or the global notifier). Never throws. */
export interface AlertSender {
  send(canary: Canary, severity: AlertSeverity, text: string): Promise<void>;
}

/** What the engine reports to the controller metrics (Flagger's names, see telemetry.ts). */
export interface EngineMetrics {
  setStatus(canary: Canary, phase: CanaryPhase): void;
  setWeights(canary: Canary, primaryWeight: number, canaryWeight: number): void;
  setMetricValue(canary: Canary, metric: string, value: number): void;
  /** The accepted range of a check, in the unit of setMetricValue (for dashboards). */
  setMetricThreshold?(canary: Canary, metric: string, threshold: { min?: number; max?: number }): void;
  observeTickDuration(canary: Canary, seconds: number): void;
  countSuccess(canary: Canary, strategy: DeploymentStrategy, status: 'completed' | 'skipped'): void;
  countFailure(canary: Canary, strategy: DeploymentStrategy, status: 'completed' | 'skipped'): void;
  countWebhook?(type: string, ok: boolean): void;
}

export type EngineLogger = Pick<LogWriter, 'info' | 'warn' | 'error'>;

export interface EngineDependencies {
  readonly source: CanarySource;
  readonly workloads: Workloads;
  readonly router: Router;
  readonly status: StatusStore;
  readonly events: EventSink;
  readonly webhooks: WebhookClient;
  readonly alerts: AlertSender;
  readonly checks: CheckDependencies;
  readonly decisions: DecisionLog;
  /**
   * Answers operators' requests (vireo promote, abort, pause, resume, retry; operator-requests.ts).
   * Without it the engine leaves `vireo.dev/request` alone: it could not answer it only once.
   */
  readonly requests?: RequestAcknowledger;
  readonly metrics: EngineMetrics;
  readonly logger: EngineLogger;
  readonly clock: Clock;
  /** The controller's --mesh-provider (default istio). */
  readonly meshProvider?: string;
  /** The controller's --min-analysis-interval: ticks come that often, and `next` says so (default 10s). */
  readonly minIntervalMs?: number;
  /** The controller's --event-webhook, used when a canary has no `event` hooks. */
  readonly eventWebhook?: string;
  /** The kinds of check a canary's analysis may use (default: Flagger's); a judge registers its kind here. */
  readonly checkKinds?: CheckRegistry;
}

const ANALYSIS_PHASES: ReadonlySet<CanaryPhase> = new Set(['Progressing', 'WaitingPromotion']);
const ADVANCING_PHASES: ReadonlySet<CanaryPhase> = new Set([
  'Progressing',
  'Waiting',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
]);
const ALL_TO_PRIMARY: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };

/** Everything one tick knows about its canary. */
interface Tick {
  canary: Canary;
  key: CanaryKey;
  name: string;
  target: string;
  kind: string;
  settings: ProgressionSettings;
  status: CanaryStatus;
  phase: CanaryPhase;
  /**
   * The phase this tick's events carry (the event webhook's `phase`): the phase the tick started
   * in, as Flagger reports it (docs/flagger-compatibility.md#5-webhooks "event"); a canary not
   * marked yet is Initializing, as Flagger marks every canary before its first tick.
   */
  eventPhase: CanaryPhase;
  routes: Routes;
  /** The outcomes of this tick's checks, once they all passed. */
  checks?: CheckOutcome[];
}

type HookRun = { ok: true } | { ok: false; hook: CanaryWebhook; result: WebhookResult };

export class CanaryEngine {
  constructor(private readonly deps: EngineDependencies) {}

  /** One tick for one canary. Never throws: errors are logged and retried on the next tick. */
  async advance(key: CanaryKey): Promise<void> {
    try {
      const canary = await this.deps.source.getCanary(key);
      if (canary === undefined) return;
      await this.tick(canary);
    } catch (cause) {
      this.deps.logger.error(
        { canary: formatKey(key), err: cause },
        'canary tick failed; retrying on the next tick',
      );
    }
  }

  private newTick(canary: Canary): Tick {
    const key = keyOf(canary);
    const status = canary.status ?? {};
    return {
      canary,
      key,
      name: formatKey(key),
      target: `${canary.spec.targetRef.name}.${key.namespace}`,
      kind: canary.spec.targetRef.kind,
      settings: progressionSettings(canary.spec, this.deps.meshProvider, this.deps.minIntervalMs),
      status,
      phase: status.phase ?? '',
      eventPhase: status.phase === undefined || status.phase === '' ? 'Initializing' : status.phase,
      routes: ALL_TO_PRIMARY,
    };
  }

  private async tick(canary: Canary): Promise<void> {
    const name = formatKey(keyOf(canary));
    let request: PendingRequest =
      this.deps.requests === undefined ? { kind: 'none' } : pendingRequest(canary.metadata.annotations);
    // Pause and resume are spec.suspend, already in force: their request is only recorded, as is
    // any request to a paused canary (operator-requests.ts planRequest).
    if (
      request.kind === 'malformed' ||
      (request.kind === 'request' &&
        (request.request.action === 'pause' ||
          request.request.action === 'resume' ||
          canary.spec.suspend === true))
    ) {
      await this.recordRequestOnly(canary, request);
      request = { kind: 'none' };
    }
    if (canary.spec.suspend === true) {
      await this.emit(canary, 'Normal', 'skipping canary run as object is suspended');
      return;
    }
    const tick = this.newTick(canary);
    const { settings } = tick;
    const skip = canary.spec.skipAnalysis === true || analysisOf(canary.spec) === undefined;
    const initializing = tick.phase === '' || tick.phase === 'Initializing';

    if (initializing && !skip) await this.checkMetricProviders(tick);
    await this.deps.workloads.ensurePrimary(canary);
    if (initializing && !skip) {
      const primary = await this.deps.workloads.primaryReadiness(canary);
      if (!primary.ready) {
        await this.emitFor(tick, 'Warning', primary.reason);
        if (!primary.retriable) {
          // Flagger rolls back silently here; a primary that never came up deserves an alert.
          await this.deps.alerts.send(canary, 'error', ALERT_TEXT.progressDeadlineExceeded(primary.reason));
          await this.rollback(tick, await this.deps.workloads.revision(canary));
        }
        return;
      }
    }
    await this.deps.router.reconcile(canary);
    if (initializing) {
      await this.initialize(tick);
      return;
    }

    const revision = await this.deps.workloads.revision(canary);
    if (isFlaggerRevision(tick.status.lastAppliedSpec) && (await this.adoptFlaggerStatus(tick, revision)))
      return;
    const changed = hasChanged(tick.status, revision);
    if (request.kind === 'request' && (await this.honourRequest(tick, request.request, revision))) return;
    if (!ADVANCING_PHASES.has(tick.phase) && !changed) return;

    if (!skip) {
      const primary = await this.deps.workloads.primaryReadiness(canary);
      if (!primary.ready) {
        await this.emitFor(tick, 'Warning', primary.reason);
        if (!primary.retriable) {
          if (tick.phase === 'Promoting' || tick.phase === 'Finalising')
            await this.failPromotion(tick, primary.reason);
          else {
            await this.deps.alerts.send(canary, 'error', ALERT_TEXT.progressDeadlineExceeded(primary.reason));
            await this.rollback(tick, revision);
          }
        }
        return;
      }
    }

    tick.routes = await this.deps.router.getRoutes(canary);
    this.deps.metrics.setWeights(canary, tick.routes.primaryWeight, tick.routes.canaryWeight);

    if (!ADVANCING_PHASES.has(tick.phase) || tick.phase === 'Waiting') {
      await this.startRevision(tick, revision);
      return;
    }
    if (ANALYSIS_PHASES.has(tick.phase) && changed) {
      await this.restartAnalysis(tick, revision);
      return;
    }

    const readiness = await this.deps.workloads.canaryReadiness(canary);
    const promoting = tick.phase === 'Promoting' || tick.phase === 'Finalising';
    if (!readiness.ready && (readiness.retriable || !promoting)) {
      await this.canaryNotReady(tick, readiness, revision);
      return;
    }
    if (!readiness.ready) {
      // Once promoting, the primary already runs the new revision: a canary that will not get
      // ready no longer decides anything (as Flagger, only an analysis rolls back on it). Rolling
      // back here would report Failed for a revision the primary serves.
      await this.emitFor(tick, 'Warning', readiness.reason);
    }
    if (skip) {
      await this.skipAnalysis(tick);
      return;
    }
    if (ANALYSIS_PHASES.has(tick.phase)) {
      const rollback = await this.runRollbackHooks(tick);
      if (rollback !== undefined) {
        const message = `Rolling back ${name} manual webhook invoked`;
        await this.emitFor(tick, 'Warning', message);
        await this.deps.alerts.send(canary, 'warn', ALERT_TEXT.rollbackWebhookInvoked);
        await this.rollback(tick, revision, rollback);
        return;
      }
    }
    if (tick.phase === 'Promoting') {
      await this.shiftToPrimary(tick);
      return;
    }
    if (tick.phase === 'Finalising') {
      await this.finalise(tick);
      return;
    }
    if (ANALYSIS_PHASES.has(tick.phase) && (tick.status.failedChecks ?? 0) >= settings.threshold) {
      await this.rollback(tick, revision);
      return;
    }
    const started = performance.now();
    await this.analyse(tick);
    this.deps.metrics.observeTickDuration(canary, (performance.now() - started) / 1000);
  }

  // ---- phases ---------------------------------------------------------------------------------

  /**
   * docs/flagger-compatibility.md#21-one-tick step 4: while initializing, say whether the metric
   * providers answer. Only an event: a provider that is down does not hold the initialization.
   */
  private async checkMetricProviders(tick: Tick): Promise<void> {
    const problem = await unavailableMetricProvider(tick.canary, this.deps.checks);
    if (problem === undefined) {
      await this.emitFor(tick, 'Normal', PROVIDERS_AVAILABLE);
      return;
    }
    this.deps.logger.warn({ canary: tick.name, reason: problem }, 'a metric provider does not answer');
    await this.emitFor(tick, 'Warning', `${PROVIDERS_CHECK_FAILED}: ${problem}`);
  }

  /**
   * A status Flagger wrote is taken over without acting (takeover.ts): no event, hook, alert,
   * weight change or scaling; only the revision fields are rewritten in our hash. Returns false
   * when the target really changed since, which then goes on as any new revision.
   */
  private async adoptFlaggerStatus(tick: Tick, revision: TargetRevision): Promise<boolean> {
    const adoption = adoptFlaggerStatus(tick.status, tick.phase, revision);
    this.deps.logger.info(
      {
        canary: tick.name,
        phase: tick.phase,
        flaggerRevision: tick.status.lastAppliedSpec,
        adopted: adoption.adopt,
      },
      adoption.adopt
        ? `Took over ${tick.name} from Flagger: ${adoption.why}`
        : `Not taking over ${tick.name} as is: ${adoption.why}; analysing the target as a new revision`,
    );
    if (!adoption.adopt) return false;
    await this.writeStatus(tick, tick.phase, () => adoption.status);
    return true;
  }

  private async initialize(tick: Tick): Promise<void> {
    const { canary } = tick;
    await this.deps.workloads.scaleToZero(canary);
    const revision = await this.deps.workloads.revision(canary);
    const status = await this.writeStatus(tick, 'Initialized', syncRevision(revision));
    // Flagger reports this event with the status it just wrote (phase and revision).
    await this.decide(tick, status, 'initialize', `Initialization done! ${tick.name}`, {
      eventStatus: status,
    });
    await this.deps.alerts.send(canary, 'info', ALERT_TEXT.initialized(tick.kind));
  }

  /** docs/flagger-compatibility.md#21-one-tick step 15: a new revision waits for confirm-rollout, then progresses. */
  private async startRevision(tick: Tick, revision: TargetRevision): Promise<void> {
    const { canary } = tick;
    const gate = await this.runHooks(tick, ['confirm-rollout'], tick.phase);
    if (!gate.ok) {
      if (tick.phase !== 'Waiting') {
        const status = await this.writeStatus(tick, 'Waiting', (current) => current);
        await this.decide(
          tick,
          status,
          'wait',
          `Halt ${tick.name} advancement waiting for approval ${gate.hook.name}`,
          { webhook: evidence(gate) },
        );
        if (gate.hook.muteAlert !== true)
          await this.deps.alerts.send(canary, 'warn', ALERT_TEXT.waitingForApproval);
      }
      return;
    }
    await this.deps.workloads.scaleFromZero(canary);
    const status = await this.writeStatus(tick, 'Progressing', this.startAnalysis(revision));
    await this.decide(tick, status, 'start', `New revision detected! Scaling up ${tick.target}`, {
      eventPhase: 'Progressing',
    });
    await this.deps.alerts.send(canary, 'info', ALERT_TEXT.newRevision);
  }

  private async restartAnalysis(tick: Tick, revision: TargetRevision): Promise<void> {
    await this.route(tick, ALL_TO_PRIMARY);
    const status = await this.writeStatus(tick, 'Progressing', this.startAnalysis(revision));
    await this.decide(
      tick,
      status,
      'restart',
      `New revision detected! Restarting analysis for ${tick.target}`,
    );
  }

  /** A revision's counters zeroed, and the moment its analysis starts recorded in the status. */
  private startAnalysis(revision: TargetRevision): (status: CanaryStatus) => CanaryStatus {
    const now = this.deps.clock.now();
    return (current) => analysisStarted(syncRevision(revision)(current), revision.specHash, now);
  }

  /**
   * When the analysis under way started. A status written before Vireo recorded it (an upgrade
   * or a move from Flagger mid-analysis) gets this step's time, once, so later steps agree on it.
   */
  private async analysisStart(tick: Tick): Promise<Date> {
    const recorded = analysisStartedAt(tick.status);
    if (recorded !== undefined) return recorded;
    const now = this.deps.clock.now();
    const revision = tick.status.lastAppliedSpec ?? '';
    tick.status = await this.deps.status.update(tick.key, (current) =>
      analysisStartedAt(current) === undefined ? analysisStarted(current, revision, now) : current,
    );
    return analysisStartedAt(tick.status) ?? now;
  }

  private async canaryNotReady(
    tick: Tick,
    readiness: Readiness & { ready: false },
    revision: TargetRevision,
  ): Promise<void> {
    await this.emitFor(tick, 'Warning', readiness.reason);
    if (readiness.retriable) return;
    // Flagger rolls back silently here (#1817); we say why.
    await this.deps.alerts.send(tick.canary, 'error', ALERT_TEXT.progressDeadlineExceeded(readiness.reason));
    await this.rollback(tick, revision);
  }

  private async skipAnalysis(
    tick: Tick,
    change: (status: CanaryStatus) => CanaryStatus = (current) => current,
  ): Promise<void> {
    const { canary } = tick;
    await this.route(tick, ALL_TO_PRIMARY);
    await this.deps.workloads.promote(canary);
    await this.deps.workloads.scaleToZero(canary);
    const status = await this.writeStatus(tick, 'Succeeded', change);
    this.deps.metrics.countSuccess(canary, tick.settings.strategy, 'skipped');
    await this.runHooks(tick, ['post-rollout'], 'Succeeded');
    await this.decide(
      tick,
      status,
      'skip-analysis',
      `Promotion completed! Canary analysis was skipped for ${tick.target}`,
    );
    await this.deps.alerts.send(canary, 'info', ALERT_TEXT.analysisSkipped);
  }

  /** Promoting: make sure the primary runs the new spec, then move traffic back to it. */
  private async shiftToPrimary(tick: Tick): Promise<void> {
    const { canary } = tick;
    await this.deps.workloads.promote(canary);
    const step = nextPromotionStep(tick.settings, tick.routes, tick.name);
    if (step.kind === 'finalise') {
      const status = await this.writeStatus(tick, 'Finalising', (current) => current);
      await this.decide(tick, status, 'shift-to-primary', `Routing all traffic to primary for ${tick.name}`);
      return;
    }
    await this.route(tick, step.routes);
    const status = step.done
      ? await this.writeStatus(tick, 'Finalising', (current) => current)
      : await this.writeStatus(tick, 'Promoting', (current) => ({
          ...current,
          canaryWeight: step.routes.canaryWeight,
        }));
    await this.decide(tick, status, 'shift-to-primary', step.message);
  }

  private async finalise(tick: Tick): Promise<void> {
    const { canary } = tick;
    if (tick.routes.canaryWeight > 0) {
      // Never scale a workload that still takes traffic (a restart may land here mid-shift).
      await this.route(tick, ALL_TO_PRIMARY);
    }
    await this.deps.workloads.scaleToZero(canary);
    const status = await this.writeStatus(tick, 'Succeeded', (current) => current);
    this.deps.metrics.countSuccess(canary, tick.settings.strategy, 'completed');
    await this.runHooks(tick, ['post-rollout'], 'Succeeded');
    await this.decide(tick, status, 'succeed', `Promotion completed! Scaling down ${tick.target}`);
    await this.deps.alerts.send(canary, 'info', ALERT_TEXT.promotionFinished);
  }

  /** docs/flagger-compatibility.md#28-rollback-and-failed-promotion: all traffic to the primary, the canary scaled down, phase Failed. */
  private async rollback(
    tick: Tick,
    revision: TargetRevision,
    manual?: HookRun & { ok: true; hook: CanaryWebhook; result: WebhookResult },
  ): Promise<void> {
    const { canary } = tick;
    const failedChecks = tick.status.failedChecks ?? 0;
    if (failedChecks >= tick.settings.threshold) {
      await this.emitFor(
        tick,
        'Warning',
        `Rolling back ${tick.name} failed checks threshold reached ${failedChecks}`,
      );
      await this.deps.alerts.send(canary, 'error', ALERT_TEXT.failedChecksThreshold(failedChecks));
    }
    await this.route(tick, ALL_TO_PRIMARY);
    await this.deps.workloads.scaleToZero(canary);
    const status = await this.writeStatus(tick, 'Failed', syncRevision(revision));
    this.deps.metrics.countFailure(canary, tick.settings.strategy, 'completed');
    await this.decide(tick, status, 'rollback', `Canary failed! Scaling down ${tick.name}`, {
      failedChecks,
      eventPhase: 'Failed',
      ...(manual === undefined
        ? {}
        : {
            webhook: {
              name: manual.hook.name,
              type: 'rollback',
              status: manual.result.status,
              body: manual.result.body,
            },
          }),
    });
    await this.runHooks(tick, ['post-rollout'], 'Failed');
  }

  /** docs/flagger-compatibility.md#28-rollback-and-failed-promotion (#1591): the primary broke during promotion, so the canary keeps the traffic. */
  private async failPromotion(tick: Tick, reason: string): Promise<void> {
    const { canary } = tick;
    const message = ALERT_TEXT.promotionFailed(reason);
    await this.deps.alerts.send(canary, 'error', message);
    await this.route(tick, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    const status = await this.writeStatus(tick, 'Failed', (current) => ({ ...current, canaryWeight: 100 }));
    this.deps.metrics.countFailure(canary, tick.settings.strategy, 'completed');
    await this.decide(tick, status, 'fail-promotion', message, { eventType: 'Warning' });
    await this.runHooks(tick, ['post-rollout'], 'Failed');
  }

  // ---- operators' requests (operator-requests.ts) ---------------------------------------------

  /** A malformed request, or a pause or resume (already in force through spec.suspend): recorded and answered. */
  private async recordRequestOnly(canary: Canary, request: PendingRequest): Promise<void> {
    const tick = this.newTick(canary);
    tick.routes = routesOfStatus(tick.status);
    if (request.kind === 'malformed') {
      await this.decide(tick, tick.status, 'request', malformedRequestMessage(tick.name, request.problem), {
        eventType: 'Warning',
        next: 'nothing changes',
      });
      await this.deps.requests?.acknowledge(tick.key, request.id);
    } else if (request.kind === 'request') {
      const plan = planRequest(request.request, {
        phase: tick.phase,
        suspended: canary.spec.suspend === true,
        canaryName: tick.name,
      });
      await this.recordRequest(tick, request.request, plan);
      await this.deps.requests?.acknowledge(tick.key, request.request.id);
    }
  }

  /**
   * promote, abort, retry: recorded, acted on, then answered. Acting first means a crash in
   * between repeats the request on the next tick, where its phase no longer allows it and it is
   * only recorded; answering first could lose it. Returns whether this tick acted.
   */
  private async honourRequest(
    tick: Tick,
    request: OperatorRequest,
    revision: TargetRevision,
  ): Promise<boolean> {
    const plan = planRequest(request, { phase: tick.phase, suspended: false, canaryName: tick.name });
    tick.routes = await this.deps.router.getRoutes(tick.canary);
    await this.recordRequest(tick, request, plan);
    switch (plan.kind) {
      case 'promote':
        // As skipAnalysis, and the revision promoted is the one recorded as promoted.
        await this.skipAnalysis(tick, (current) => ({
          ...current,
          lastAppliedSpec: revision.specHash,
          trackedConfigs: { ...revision.trackedConfigs },
        }));
        break;
      case 'abort':
        await this.emitFor(tick, 'Warning', plan.message);
        await this.deps.alerts.send(tick.canary, 'warn', abortAlertText(request));
        await this.rollback(tick, revision);
        break;
      case 'retry':
        await this.startRevision(tick, revision);
        break;
      case 'note':
        break;
    }
    await this.deps.requests?.acknowledge(tick.key, request.id);
    return plan.kind !== 'note';
  }

  private async recordRequest(tick: Tick, request: OperatorRequest, plan: RequestPlan): Promise<void> {
    const honoured = plan.kind !== 'note' || plan.honoured;
    const record: RequestRecord = { ...request, honoured };
    await this.decide(tick, tick.status, 'request', plan.message, {
      request: record,
      next: plan.next,
      eventType: honoured ? 'Normal' : 'Warning',
    });
  }

  // ---- analysis -------------------------------------------------------------------------------

  private async analyse(tick: Tick): Promise<void> {
    const { canary, settings } = tick;
    const iterations = tick.status.iterations ?? 0;
    if (isFirstAnalysisStep(settings, { routes: tick.routes, iterations })) {
      await this.emitFor(tick, 'Normal', `Starting canary analysis for ${tick.target}`);
      const pre = await this.runHooks(tick, ['pre-rollout'], 'Progressing');
      if (!pre.ok) {
        await this.countFailedCheck(
          tick,
          `Halt ${tick.name} advancement pre-rollout check ${pre.hook.name} failed ${pre.result.body}`,
          { webhook: evidence(pre) },
        );
        return;
      }
    } else {
      const rollout = await this.runHooks(tick, ['', 'rollout'], 'Progressing');
      if (!rollout.ok) {
        await this.countFailedCheck(
          tick,
          `Halt ${tick.name} advancement external check ${rollout.hook.name} failed ${rollout.result.body}`,
          { webhook: evidence(rollout) },
        );
        return;
      }
      const outcomes: CheckOutcome[] = [];
      const context: CheckContext = {
        canary,
        analysisStartedAt: await this.analysisStart(tick),
        iteration: iterations,
        now: this.deps.clock.now(),
        ports: this.deps.checks,
      };
      const checks = (this.deps.checkKinds ?? DEFAULT_CHECK_REGISTRY).checksFor(canary);
      let held: CheckOutcome | undefined;
      for (const check of checks) {
        const outcome = await check.evaluate(context);
        outcomes.push(outcome);
        if (outcome.value !== undefined) {
          // Flagger records durations in seconds.
          const scale = outcome.unit === 'ms' ? 1 / 1000 : 1;
          this.deps.metrics.setMetricValue(canary, outcome.check, outcome.value * scale);
          if (outcome.threshold !== undefined) {
            const { min, max } = outcome.threshold;
            this.deps.metrics.setMetricThreshold?.(canary, outcome.check, {
              ...(min === undefined ? {} : { min: min * scale }),
              ...(max === undefined ? {} : { max: max * scale }),
            });
          }
        }
        if (outcome.verdict === 'fail') {
          await this.countFailedCheck(tick, outcome.message, { checks: outcomes }, outcome.decisive === true);
          return;
        }
        // A hold still lets the later checks fail (a judge waiting for data hides no failure).
        if (outcome.verdict === 'inconclusive') held ??= outcome;
      }
      if (held !== undefined) {
        const status = await this.writeStatus(tick, tick.phase, (current) => current);
        await this.decide(tick, status, 'hold', held.message, { checks: outcomes, eventType: 'Normal' });
        return;
      }
      tick.checks = outcomes;
    }
    await this.dispatch(tick);
  }

  /** docs/flagger-compatibility.md#21-one-tick step 25: once every check passed and its gates are open, move one step further. */
  private async dispatch(tick: Tick): Promise<void> {
    const { canary } = tick;
    const step = nextProgressionStep(
      tick.settings,
      { phase: tick.phase, routes: tick.routes, iterations: tick.status.iterations ?? 0 },
      tick.name,
    );
    if (!(await this.passGates(tick, step.gates))) return;
    const checks = tick.checks === undefined ? {} : { checks: tick.checks };
    switch (step.kind) {
      case 'hold':
        return;
      case 'advance-weight': {
        await this.route(tick, step.routes);
        const status = await this.writeStatus(tick, 'Progressing', (current) => ({
          ...current,
          canaryWeight: step.routes.canaryWeight,
        }));
        await this.decide(tick, status, 'advance', step.message, checks);
        return;
      }
      case 'advance-iteration': {
        if (step.routes !== undefined) await this.route(tick, step.routes);
        const count = (current: CanaryStatus) => ({ ...current, iterations: step.iteration });
        // Writing WaitingPromotion again would reset the count to iterations - 1 (status.ts),
        // and an A/B or blue/green canary whose gate had been closed would never be promoted.
        const status =
          tick.phase === 'WaitingPromotion'
            ? (tick.status = await this.deps.status.update(tick.key, count))
            : await this.writeStatus(tick, tick.phase, count);
        await this.decide(tick, status, 'advance', step.message, checks);
        return;
      }
      case 'route-all-to-canary': {
        if (step.routes !== undefined) await this.route(tick, step.routes);
        const status = await this.writeStatus(tick, 'Progressing', (current) => ({
          ...current,
          iterations: step.iteration,
        }));
        await this.decide(tick, status, 'advance', step.message, checks);
        return;
      }
      case 'promote': {
        // Phase first: a crash after it repeats the (idempotent) promote on the next tick. The
        // status weight stays what the analysis wrote: an A/B or blue/green canary's routes send
        // it all traffic, but its status weight is 0, as Flagger shows it.
        const status = await this.writeStatus(tick, 'Promoting', (current) => current);
        await this.deps.workloads.promote(canary);
        await this.decide(
          tick,
          status,
          'promote',
          `Copying ${tick.target} template spec to ${canary.spec.targetRef.name}-primary.${tick.key.namespace}`,
          checks,
        );
        return;
      }
    }
  }

  /** Asks the gates of a step (progression.ts decides which) in order; false at the first closed one. */
  private async passGates(tick: Tick, gates: readonly StepGate[]): Promise<boolean> {
    for (const gate of gates) {
      switch (gate) {
        case 'confirm-traffic-increase':
          if (!(await this.confirmTrafficIncrease(tick))) return false;
          break;
        case 'confirm-promotion':
          if (!(await this.confirmPromotion(tick))) return false;
          break;
      }
    }
    return true;
  }

  private async confirmTrafficIncrease(tick: Tick): Promise<boolean> {
    const gate = await this.runHooks(tick, ['confirm-traffic-increase'], 'Progressing');
    if (gate.ok) return true;
    const status = await this.writeStatus(tick, tick.phase, (current) => current);
    await this.decide(
      tick,
      status,
      'wait',
      `Halt ${tick.name} advancement waiting for traffic increase approval ${gate.hook.name}`,
      { webhook: evidence(gate), eventType: 'Normal' },
    );
    if (gate.hook.muteAlert !== true)
      await this.deps.alerts.send(tick.canary, 'warn', ALERT_TEXT.trafficIncreaseWaitingForApproval);
    return false;
  }

  private async confirmPromotion(tick: Tick): Promise<boolean> {
    const gate = await this.runHooks(tick, ['confirm-promotion'], 'Progressing');
    if (gate.ok) return true;
    // Already waiting: writing the phase again would reset the iteration count (status.ts), and an
    // A/B or blue/green canary would count its last iteration again on every other tick.
    if (tick.phase === 'WaitingPromotion') return false;
    const status = await this.writeStatus(tick, 'WaitingPromotion', (current) => current);
    await this.decide(
      tick,
      status,
      'wait',
      `Halt ${tick.name} advancement waiting for promotion approval ${gate.hook.name}`,
      { webhook: evidence(gate) },
    );
    if (gate.hook.muteAlert !== true)
      await this.deps.alerts.send(tick.canary, 'warn', ALERT_TEXT.promotionWaitingForApproval);
    return false;
  }

  /** A decisive failure (a judge's) reaches the threshold at once: the next tick rolls back. */
  private async countFailedCheck(
    tick: Tick,
    message: string,
    details: DecisionDetails,
    decisive = false,
  ): Promise<void> {
    const status = await this.writeStatus(tick, tick.phase, (current) => ({
      ...current,
      failedChecks: Math.max((current.failedChecks ?? 0) + 1, decisive ? tick.settings.threshold : 0),
    }));
    await this.decide(tick, status, 'halt', message, { ...details, eventType: 'Warning' });
  }

  // ---- webhooks -------------------------------------------------------------------------------

  private hooksOf(tick: Tick, types: readonly string[]): CanaryWebhook[] {
    return (analysisOf(tick.canary.spec)?.webhooks ?? []).filter((hook) => types.includes(hook.type ?? ''));
  }

  /**
   * Runs hooks in list order and stops at the first failure (docs/flagger-compatibility.md#5-webhooks).
   * Each hook that passes says so in an event, as Flagger's do (alert rules and scripts wait for
   * "Pre-rollout check NAME passed"); rollout hooks pass silently, as in Flagger. A failing
   * post-rollout hook is reported here: nothing else looks at its result.
   */
  private async runHooks(tick: Tick, types: readonly string[], phase: CanaryPhase): Promise<HookRun> {
    for (const hook of this.hooksOf(tick, types)) {
      const result = await this.callHook(tick, hook, phase);
      const label = HOOK_EVENT_LABELS[hook.type ?? ''];
      if (!result.ok) {
        if (hook.type === 'post-rollout')
          await this.emitFor(tick, 'Warning', `Post-rollout hook ${hook.name} failed ${result.body}`);
        return { ok: false, hook, result };
      }
      if (label !== undefined) await this.emitFor(tick, 'Normal', `${label} check ${hook.name} passed`);
    }
    return { ok: true };
  }

  /**
   * Rollback hooks: the first that answers ≤ 202 asks for a rollback. Flagger's events: each
   * hook that does not ask says so (Normal), the one that does "passed" (Warning).
   */
  private async runRollbackHooks(
    tick: Tick,
  ): Promise<(HookRun & { ok: true; hook: CanaryWebhook; result: WebhookResult }) | undefined> {
    for (const hook of this.hooksOf(tick, ['rollback'])) {
      const result = await this.callHook(tick, hook, tick.phase);
      if (result.ok) {
        await this.emitFor(tick, 'Warning', `Rollback check ${hook.name} passed`);
        return { ok: true, hook, result };
      }
      await this.emitFor(tick, 'Normal', `Rollback hook ${hook.name} not signaling a rollback`);
    }
    return undefined;
  }

  private async callHook(tick: Tick, hook: CanaryWebhook, phase: CanaryPhase): Promise<WebhookResult> {
    let headers: Record<string, string> = {};
    if (hook.secretRef !== undefined) {
      const secret = await this.deps.source.getSecret(tick.key.namespace, hook.secretRef.name);
      if (secret === undefined) {
        return {
          ok: false,
          status: 0,
          body: `Secret ${tick.key.namespace}/${hook.secretRef.name} for webhook ${hook.name} not found`,
          attempts: 0,
        };
      }
      try {
        headers = headersFromSecret(secret);
      } catch (cause) {
        return {
          ok: false,
          status: 0,
          body: cause instanceof Error ? cause.message : String(cause),
          attempts: 0,
        };
      }
    }
    const payload = webhookPayload({ ...tick.canary, status: tick.status }, phase, hook);
    const result = await this.deps.webhooks.call(hook, payload, headers);
    this.deps.metrics.countWebhook?.(hook.type || 'rollout', result.ok);
    return result;
  }

  // ---- status, events, decisions --------------------------------------------------------------

  private async writeStatus(
    tick: Tick,
    phase: CanaryPhase,
    change: (status: CanaryStatus) => CanaryStatus,
  ): Promise<CanaryStatus> {
    const now = this.deps.clock.now();
    const specIterations = tick.settings.iterations;
    const status = await this.deps.status.update(tick.key, (current) =>
      withPhase(change(current), { phase, kind: tick.kind, now, specIterations }),
    );
    tick.status = status;
    tick.phase = phase;
    this.deps.metrics.setStatus(tick.canary, phase);
    return status;
  }

  /** An event of this tick: the canary as the tick found it, with the phase the event reports. */
  private async emitFor(tick: Tick, type: EventType, message: string): Promise<void> {
    await this.emit(eventCanary(tick), type, message);
  }

  /** Emits a Kubernetes-style event and calls the event hooks (or the global event webhook). */
  private async emit(canary: Canary, type: EventType, message: string): Promise<void> {
    await this.deps.events.emit(canary, type, message);
    const hooks = (analysisOf(canary.spec)?.webhooks ?? []).filter((hook) => hook.type === 'event');
    const global = this.deps.eventWebhook;
    const targets: CanaryWebhook[] =
      hooks.length > 0 ? hooks : global === undefined ? [] : [{ name: 'events', url: global, type: 'event' }];
    if (targets.length === 0) return;
    const time = this.deps.clock.now();
    for (const hook of targets) {
      const payload = eventWebhookPayload(canary, hook, { type, message, time });
      const result = await this.deps.webhooks.call(hook, payload, {});
      if (!result.ok)
        this.deps.logger.warn(
          { canary: formatKey(keyOf(canary)), webhook: hook.name, status: result.status },
          'event webhook failed',
        );
    }
  }

  private async decide(
    tick: Tick,
    status: CanaryStatus,
    action: DecisionAction,
    message: string,
    details: DecisionDetails = {},
  ): Promise<void> {
    const decision: Decision = {
      time: kubernetesTime(this.deps.clock.now()),
      canary: tick.name,
      action,
      phase: status.phase ?? '',
      message,
      canaryWeight: tick.routes.canaryWeight,
      primaryWeight: tick.routes.primaryWeight,
      iteration: status.iterations ?? 0,
      failedChecks: details.failedChecks ?? status.failedChecks ?? 0,
      threshold: tick.settings.threshold,
      ...(details.checks === undefined ? {} : { checks: details.checks }),
      ...(details.webhook === undefined ? {} : { webhook: details.webhook }),
      ...(details.request === undefined ? {} : { request: details.request }),
      next: details.next ?? nextStepText(tick, status, action),
    };
    const eventType =
      details.eventType ?? (action === 'rollback' || action === 'fail-promotion' ? 'Warning' : 'Normal');
    this.deps.logger.info({ canary: tick.name, decision }, message);
    await this.deps.decisions.record(tick.key, decision);
    await this.emit(eventCanary(tick, details.eventPhase, details.eventStatus), eventType, message);
  }

  /**
   * Every route change goes through here, with the session-affinity cookies of docs/flagger-compatibility.md#23-progression-per-strategy: a
   * canary cookie per run while the canary takes traffic (and a primary cookie, generated once);
   * at weight 0 the canary cookie is retired to `previousSessionAffinityCookie`, which routers
   * expire.
   */
  private async route(tick: Tick, routes: Routes): Promise<void> {
    const affinity = analysisOf(tick.canary.spec)?.sessionAffinity;
    if (affinity !== undefined) {
      const current = tick.status;
      if (routes.canaryWeight > 0 && current.sessionAffinityCookie === undefined) {
        const cookie = `${affinity.cookieName}=${randomLetters(10)}`;
        const primary =
          current.primarySessionAffinityCookie ??
          (affinity.primaryCookieName === undefined
            ? undefined
            : `${affinity.primaryCookieName}=${randomLetters(10)}`);
        tick.status = await this.deps.status.update(tick.key, (status) => ({
          ...status,
          sessionAffinityCookie: cookie,
          ...(primary === undefined ? {} : { primarySessionAffinityCookie: primary }),
        }));
      } else if (routes.canaryWeight === 0 && current.sessionAffinityCookie !== undefined) {
        const retired = current.sessionAffinityCookie;
        tick.status = await this.deps.status.update(tick.key, (status) => {
          const next = { ...status, previousSessionAffinityCookie: retired };
          delete next.sessionAffinityCookie;
          return next;
        });
      }
    }
    await this.deps.router.setRoutes(tick.canary, routes, cookiesOf(tick.status));
    tick.routes = routes;
    this.deps.metrics.setWeights(tick.canary, routes.primaryWeight, routes.canaryWeight);
  }

  /**
   * revertOnDeletion (docs/flagger-compatibility.md#210-revert-on-deletion): the canary is being deleted; give the target back its
   * replicas and the routing its original shape. The platform removes the finalizer afterwards.
   */
  async finalizeDeletion(key: CanaryKey): Promise<void> {
    const canary = await this.deps.source.getCanary(key);
    if (canary === undefined) return;
    const tick = this.newTick(canary);
    await this.writeStatus(tick, 'Terminating', (current) => current);
    await this.deps.workloads.restoreTarget(canary);
    await this.deps.router.finalize(canary);
    await this.emit(canary, 'Normal', `Terminated canary ${tick.name}`);
  }
}

interface DecisionDetails {
  checks?: readonly CheckOutcome[];
  webhook?: WebhookEvidence;
  eventType?: EventType;
  failedChecks?: number;
  /** The phase the event reports, when Flagger reports the phase being entered (default: the tick's). */
  eventPhase?: CanaryPhase;
  /** The status the event reports, when Flagger reports the one just written (default: the tick's). */
  eventStatus?: CanaryStatus;
  request?: RequestRecord;
  /** What happens next, when the action's usual text does not say it. */
  next?: string;
}

/** The weights the status records, for a decision made before the routes are read. */
function routesOfStatus(status: CanaryStatus): Routes {
  const canaryWeight = status.canaryWeight ?? 0;
  return { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored: false };
}

/** The events Flagger emits when a hook of these types passes: "<label> check <name> passed". */
const HOOK_EVENT_LABELS: Readonly<Record<string, string>> = {
  'confirm-rollout': 'Confirm-rollout',
  'pre-rollout': 'Pre-rollout',
  'confirm-traffic-increase': 'Confirm-traffic-increase',
  'confirm-promotion': 'Confirm-promotion',
  'post-rollout': 'Post-rollout',
};

/**
 * The canary an event of `tick` reports (its event webhook payload's `phase` and `checksum`): as
 * the tick found it, in the phase it started in, unless the event reports a phase it enters.
 */
function eventCanary(tick: Tick, phase?: CanaryPhase, status?: CanaryStatus): Canary {
  const base = status ?? tick.canary.status ?? {};
  return { ...tick.canary, status: { ...base, phase: phase ?? status?.phase ?? tick.eventPhase } };
}

/** Flagger's SyncStatus: a revision's first write zeroes the counters and records what it is. */
function syncRevision(revision: TargetRevision): (status: CanaryStatus) => CanaryStatus {
  return (current) => ({
    ...current,
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    lastAppliedSpec: revision.specHash,
    trackedConfigs: { ...revision.trackedConfigs },
  });
}

function evidence(run: HookRun & { ok: false }): WebhookEvidence {
  return {
    name: run.hook.name,
    type: run.hook.type || 'rollout',
    status: run.result.status,
    body: run.result.body,
  };
}

function cookiesOf(status: CanaryStatus): { canary?: string; primary?: string; previous?: string } {
  return {
    ...(status.sessionAffinityCookie === undefined ? {} : { canary: status.sessionAffinityCookie }),
    ...(status.primarySessionAffinityCookie === undefined
      ? {}
      : { primary: status.primarySessionAffinityCookie }),
    ...(status.previousSessionAffinityCookie === undefined
      ? {}
      : { previous: status.previousSessionAffinityCookie }),
  };
}

function randomLetters(count: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return Array.from({ length: count }, () => letters[Math.floor(Math.random() * letters.length)]).join('');
}

/** docs/flagger-compatibility.md#26-change-detection: a new revision, unless the target went back to the promoted spec. */
export function hasChanged(status: CanaryStatus, revision: TargetRevision): boolean {
  if (status.lastAppliedSpec === undefined || status.lastAppliedSpec === '') return true;
  const specChanged =
    revision.specHash !== status.lastPromotedSpec && revision.specHash !== status.lastAppliedSpec;
  const before = status.trackedConfigs ?? {};
  const after = revision.trackedConfigs;
  const configsChanged =
    Object.keys(before).length !== Object.keys(after).length ||
    Object.entries(after).some(([name, checksum]) => before[name] !== checksum);
  return specChanged || configsChanged;
}

function nextStepText(tick: Tick, status: CanaryStatus, action: DecisionAction): string {
  const interval = formatDuration(tick.settings.intervalMs);
  const failed = status.failedChecks ?? 0;
  switch (action) {
    case 'halt': {
      const left = tick.settings.threshold - failed;
      return left > 0
        ? `checks run again in ${interval}; ${left} more failed check${left === 1 ? '' : 's'} roll${left === 1 ? 's' : ''} back`
        : `rollback on the next tick (in ${interval})`;
    }
    case 'wait':
      return `the gate is asked again in ${interval}`;
    case 'hold':
      return `the weight holds; checks run again in ${interval}`;
    case 'rollback':
    case 'fail-promotion':
      return 'waits for a new revision of the target';
    case 'succeed':
    case 'skip-analysis':
      return 'done; waits for a new revision of the target';
    case 'promote':
      return `the primary rolls out the new spec; traffic moves back to it from the next tick (in ${interval})`;
    default:
      return `next step in ${interval}`;
  }
}
