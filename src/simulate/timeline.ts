/**
 * The timeline of a Canary's analysis: which tick does what, with which weights, webhooks and
 * checks. It is what the analysis engine itself does: simulate runs the real engine
 * (src/engine/engine.ts) on in-memory ports (in-memory-world.ts) with a clock that jumps one
 * interval per tick, and turns what the engine did in each tick (status writes, route changes,
 * webhooks called, checks evaluated, events, decisions) into a step. There is no second copy of
 * the engine's rules to drift from it (docs/adr/0018-simulate-runs-the-engine.md).
 */
import type { Canary, CanaryMetric, CanaryPhase, CanaryStatus, WebhookType } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { REQUEST_DURATION, REQUEST_SUCCESS_RATE } from '../engine/checks.js';
import type { Decision } from '../engine/decisions.js';
import type { WebhookResult } from '../engine/ports.js';
import { type DeploymentStrategy, type ProgressionSettings, type Routes } from '../engine/progression.js';
import { analysisOf, progressionSettings } from '../engine/settings.js';
import { VireoError } from '../shared/errors.js';
import { HOOK_OK, InMemoryWorld, refused, type HookCall, type MetricQuery } from './in-memory-world.js';

export interface TimelineWebhook {
  name: string;
  type: Exclude<WebhookType, ''>;
}

export interface TimelineStep {
  /** Seconds since the new revision was detected. */
  t: number;
  /** Phase at the end of this tick. */
  phase: CanaryPhase;
  canaryWeight: number;
  primaryWeight: number;
  mirrored: boolean;
  /** A/B and blue/green iterations counted so far. */
  iteration: number;
  failedChecks: number;
  /** The webhooks the engine called in this tick, in order (`event` hooks left out). */
  webhooks: TimelineWebhook[];
  /** Metrics evaluated during this tick, in order; the first failing one ends the tick. */
  checks: string[];
  events: string[];
}

export interface Timeline {
  canary: string;
  strategy: DeploymentStrategy;
  provider: string;
  intervalSeconds: number;
  threshold: number;
  steps: TimelineStep[];
  /** When the primary starts receiving the canary's spec (phase Promoting). */
  promotionStartsAt: number;
  /** When the canary is Succeeded: the earliest possible promotion (NaN when it fails). */
  promotedAt: number;
  /** With failing checks: when the rollback happens (NaN otherwise). */
  rolledBackAt: number;
  /** Time from the first failed check to the rollback: interval × threshold. */
  rollbackAfter: number;
  /** The earliest a rollback can happen: when checks failing from the start roll the canary back (NaN: they cannot). */
  earliestRollbackAt: number;
  notes: string[];
}

/** Enough for any legal ladder (at most 100 steps) or iteration count a person would write. */
const MAX_TICKS = 1000;

export interface SimulateOptions {
  meshProvider?: string | undefined;
  /** Every check fails from this many seconds after detection (shows when the rollback happens). */
  failFromSeconds?: number | undefined;
  /** The checks of the ticks at these times (seconds after detection) fail too. */
  failAtSeconds?: readonly number[] | undefined;
  /**
   * Gates (`confirm-rollout`, `confirm-traffic-increase`, `confirm-promotion` webhooks) by name,
   * closed until this many seconds after detection (`Infinity`: never opened). Every other gate is open.
   */
  closedGates?: Readonly<Record<string, number>> | undefined;
}

/** The engine stopped a tick with an error during a simulation: a bug of the engine or of simulate. */
export class SimulationError extends VireoError {
  constructor(message: string) {
    super('E_SIMULATION', message);
  }
}

const GATE_TYPES: ReadonlySet<string> = new Set([
  'confirm-rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
]);
const NO_ROLLBACK: WebhookResult = refused('no rollback requested', 404);
const SIMULATED_FAILURE = 'simulated failure';
/** Detection of the new revision; the initialization tick runs one interval earlier. */
const DETECTED_AT = Date.parse('2026-01-01T00:00:00Z');

export async function simulateCanary(canary: Canary, options: SimulateOptions = {}): Promise<Timeline> {
  const settings = progressionSettings(canary.spec, options.meshProvider);
  const run = await runEngine(canary, settings, options);
  // Checks failing from the start: the earliest rollback the engine can make.
  const earliest = await runEngine(canary, settings, {
    meshProvider: options.meshProvider,
    failFromSeconds: 0,
  });
  const intervalSeconds = settings.intervalMs / 1000;
  return {
    canary: `${canary.metadata.name}.${canary.metadata.namespace ?? 'default'}`,
    strategy: settings.strategy,
    provider: settings.provider,
    intervalSeconds,
    threshold: settings.threshold,
    steps: run.steps,
    promotionStartsAt: run.promotionStartsAt,
    promotedAt: run.promotedAt,
    rolledBackAt: run.rolledBackAt,
    rollbackAfter: settings.threshold * intervalSeconds,
    earliestRollbackAt: earliest.rolledBackAt,
    notes: notesFor(settings, analysisOf(canary.spec)?.stepWeights !== undefined),
  };
}

interface EngineRun {
  steps: TimelineStep[];
  promotionStartsAt: number;
  promotedAt: number;
  rolledBackAt: number;
}

/** Initializes the canary, releases a new revision, then ticks once per interval until it settles. */
async function runEngine(
  canary: Canary,
  settings: ProgressionSettings,
  options: SimulateOptions,
): Promise<EngineRun> {
  const world = new SimulatedWorld(canary, options);
  const engine = world.engine(
    options.meshProvider === undefined ? {} : { meshProvider: options.meshProvider },
  );
  world.now = new Date(DETECTED_AT - settings.intervalMs);
  await engine.advance(world.key);
  world.failOnEngineError('initialization');
  if (world.phase !== 'Initialized') {
    throw new SimulationError(`the simulated canary did not initialize (phase ${world.phase || 'none'})`);
  }
  world.release('rev-2');

  const run: EngineRun = { steps: [], promotionStartsAt: NaN, promotedAt: NaN, rolledBackAt: NaN };
  const settledAt = world.scenarioSettledAt();
  for (let tick = 0; tick <= MAX_TICKS; tick += 1) {
    const t = (tick * settings.intervalMs) / 1000;
    world.now = new Date(DETECTED_AT + tick * settings.intervalMs);
    const before = world.observe(t);
    await engine.advance(world.key);
    world.failOnEngineError(`the tick at ${t}s`);
    const decisions = world.decisionHistory.slice(before.decisions);
    const step = world.stepSince(before, settings, decisions);
    run.steps.push(step);
    const actions = new Set(decisions.map((decision) => decision.action));
    const promotes = actions.has('promote') || actions.has('skip-analysis');
    if (promotes && Number.isNaN(run.promotionStartsAt)) run.promotionStartsAt = t;
    if (actions.has('succeed') || actions.has('skip-analysis')) run.promotedAt = t;
    if (actions.has('rollback')) run.rolledBackAt = t;
    if (step.phase === 'Succeeded' || step.phase === 'Failed') break;
    // Nothing changed and nothing will: every later tick would repeat this one.
    const repeats =
      t >= settledAt &&
      decisions.every((decision) => decision.action === 'wait') &&
      world.unchangedSince(before);
    if (repeats) {
      if (decisions.length === 0 && step.phase === 'Progressing')
        step.events.push('No step weight: the canary holds at its current weight');
      break;
    }
  }
  return run;
}

interface Observation {
  readonly t: number;
  readonly events: number;
  readonly hookCalls: number;
  readonly decisions: number;
  readonly status: string;
  readonly routes: Routes;
}

/** The in-memory world with simulate's scenario: which gates are closed when, which checks fail when. */
class SimulatedWorld extends InMemoryWorld {
  private readonly metricList: readonly CanaryMetric[];
  private t = 0;
  /** Metrics queried in the current tick, in order. */
  private queried: CanaryMetric[] = [];

  constructor(
    canary: Canary,
    private readonly scenario: SimulateOptions,
  ) {
    super(preparedCanary(canary));
    const namespace = this.key.namespace;
    const analysis = analysisOf(this.canary.spec) ?? {};
    this.metricList = analysis.metrics ?? [];
    // Every referenced Secret and MetricTemplate exists: simulate answers the queries itself.
    for (const hook of analysis.webhooks ?? []) {
      if (hook.secretRef !== undefined) this.secrets.set(`${namespace}/${hook.secretRef.name}`, {});
    }
    for (const metric of this.metricList) {
      const reference = metric.templateRef;
      if (reference === undefined) continue;
      const template: MetricTemplate = {
        apiVersion: 'flagger.app/v1beta1',
        kind: 'MetricTemplate',
        metadata: { name: reference.name, namespace: reference.namespace ?? namespace },
        spec: { provider: { type: 'prometheus' }, query: '' },
      };
      this.templates.set(`${template.metadata.namespace}/${reference.name}`, template);
    }
  }

  failOnEngineError(when: string): void {
    const error = this.engineErrors[0];
    if (error === undefined) return;
    const cause = (error.fields as { err?: unknown }).err;
    throw new SimulationError(
      `the engine failed during ${when}: ${cause instanceof Error ? cause.message : error.message}`,
    );
  }

  /** The last time the scenario changes anything: failing ticks, gates that open. */
  scenarioSettledAt(): number {
    const times = [
      this.scenario.failFromSeconds ?? 0,
      ...(this.scenario.failAtSeconds ?? []),
      ...Object.values(this.scenario.closedGates ?? {}).filter((until) => Number.isFinite(until)),
    ];
    return Math.max(0, ...times);
  }

  observe(t: number): Observation {
    this.t = t;
    this.queried = [];
    return {
      t,
      events: this.events.length,
      hookCalls: this.hookCalls.length,
      decisions: this.decisionHistory.length,
      status: comparableStatus(this.status),
      routes: { ...this.routes },
    };
  }

  unchangedSince(before: Observation): boolean {
    const { routes } = this;
    return (
      comparableStatus(this.status) === before.status &&
      routes.primaryWeight === before.routes.primaryWeight &&
      routes.canaryWeight === before.routes.canaryWeight &&
      routes.mirrored === before.routes.mirrored
    );
  }

  stepSince(
    before: Observation,
    settings: ProgressionSettings,
    decisions: readonly Decision[],
  ): TimelineStep {
    const status = this.status;
    const last = decisions.at(-1);
    return {
      t: before.t,
      phase: status.phase ?? '',
      ...weights(this.routes, settings),
      iteration: status.iterations ?? 0,
      // A rollback zeroes the counter in status; its decision keeps the count that caused it.
      failedChecks: last?.failedChecks ?? status.failedChecks ?? 0,
      webhooks: this.hookCalls
        .slice(before.hookCalls)
        .filter((call) => call.hook.type !== 'event')
        .map((call) => ({ name: call.hook.name, type: call.hook.type || 'rollout' })),
      checks: this.queried.map((metric) => metric.name),
      events: this.events.slice(before.events).map((event) => event.message),
    };
  }

  private failing(): boolean {
    const { failFromSeconds, failAtSeconds } = this.scenario;
    return (
      (failFromSeconds !== undefined && this.t >= failFromSeconds) || (failAtSeconds ?? []).includes(this.t)
    );
  }

  protected override hookAnswer(call: HookCall): WebhookResult {
    const type = call.hook.type ?? '';
    if (GATE_TYPES.has(type)) {
      const closedUntil = this.scenario.closedGates?.[call.hook.name];
      return closedUntil !== undefined && this.t < closedUntil ? refused('gate closed (simulated)') : HOOK_OK;
    }
    if (type === 'rollback') return NO_ROLLBACK;
    // The first step's checks are its pre-rollout hooks; later ones check the metrics, or the
    // rollout hooks of a canary without metrics.
    const failsHere =
      type === 'pre-rollout' || ((type === '' || type === 'rollout') && this.metricList.length === 0);
    return failsHere && this.failing() ? refused(SIMULATED_FAILURE, 500) : HOOK_OK;
  }

  /** The engine evaluates the metrics in order: each query is the next metric of its kind. */
  protected override metricValue(query: MetricQuery): number | Error {
    const start = this.metricList.indexOf(this.queried.at(-1) as CanaryMetric) + 1;
    const metric = this.metricList.slice(start).find((candidate) => queryOf(candidate) === queryKey(query));
    if (metric === undefined) return new Error(`simulate found no metric for a ${query.kind} query`);
    this.queried.push(metric);
    return this.failing() ? failingValue(metric, query) : passingValue(metric, query);
  }
}

/** The canary as simulate runs it: no status yet, and not suspended (the question is what it does when it runs). */
function preparedCanary(canary: Canary): Canary {
  const prepared = structuredClone(canary);
  delete prepared.status;
  delete prepared.spec.suspend;
  return prepared;
}

/** Status without the time of the last write, which every write moves. */
function comparableStatus(status: CanaryStatus): string {
  return JSON.stringify({ ...status, lastTransitionTime: undefined });
}

/** Which query a metric's check makes (src/engine/checks.ts, checksFor). */
function queryOf(metric: CanaryMetric): string | undefined {
  if (metric.templateRef !== undefined) return `template:${metric.templateRef.name}`;
  if (metric.name === REQUEST_SUCCESS_RATE || metric.name === REQUEST_DURATION) return metric.name;
  if (metric.query !== undefined) return 'inline';
  return undefined;
}

function queryKey(query: MetricQuery): string {
  return query.kind === 'template' ? `template:${query.template}` : query.kind;
}

/** A value inside the metric's range (the built-in duration is truncated to whole milliseconds). */
function passingValue(metric: CanaryMetric, query: MetricQuery): number {
  const range = metric.thresholdRange;
  if (range !== undefined) {
    if (range.min !== undefined) return query.kind === 'request-duration' ? Math.ceil(range.min) : range.min;
    if (range.max !== undefined) return range.max;
    return query.kind === 'request-success-rate' ? 100 : 0;
  }
  // The deprecated threshold: a minimum success rate, otherwise a maximum.
  if (query.kind === 'request-success-rate') return metric.threshold ?? 100;
  return metric.threshold ?? 0;
}

/** A value outside the metric's range, or a failed query when no value can fail it. */
function failingValue(metric: CanaryMetric, query: MetricQuery): number | Error {
  const range = metric.thresholdRange;
  if (range !== undefined) {
    if (range.min !== undefined) return Math.floor(range.min) - 1;
    if (range.max !== undefined) return Math.floor(range.max) + 1;
    return new Error(SIMULATED_FAILURE);
  }
  if (query.kind === 'request-success-rate')
    return metric.threshold === undefined ? new Error(SIMULATED_FAILURE) : metric.threshold - 1;
  if (query.kind === 'request-duration')
    return metric.threshold === undefined ? new Error(SIMULATED_FAILURE) : Math.floor(metric.threshold) + 1;
  return Math.floor(metric.threshold ?? 0) + 1;
}

/** What the traffic really does: a router without weights (kubernetes) leaves the apex on the primary. */
function weights(
  routes: Routes,
  settings: ProgressionSettings,
): Pick<TimelineStep, 'canaryWeight' | 'primaryWeight' | 'mirrored'> {
  if (!settings.router.weights) return { canaryWeight: 0, primaryWeight: 100, mirrored: false };
  return {
    canaryWeight: routes.canaryWeight,
    primaryWeight: routes.primaryWeight,
    mirrored: routes.mirrored,
  };
}

function notesFor(settings: ProgressionSettings, ladder: boolean): string[] {
  const notes: string[] = [];
  if (!settings.router.weights) {
    notes.push(
      `${settings.provider} provider: the apex Service always selects the primary, so users reach the new version when the primary rolls out during promotion; checks run against the canary Service.`,
    );
  }
  if (settings.strategy === 'ab-testing') {
    notes.push(
      'A/B testing: weight 100 means every request that matches analysis.match goes to the canary; the rest stay on the primary.',
    );
  }
  if (settings.mirror && settings.strategy !== 'ab-testing') {
    notes.push(
      "Mirrored steps send copies of the primary's requests to the canary; users only see the primary's responses.",
    );
  }
  if (!ladder && settings.strategy === 'canary' && settings.stepWeight > 0) {
    const cap = settings.maxWeight ?? 100;
    if (cap % settings.stepWeight !== 0)
      notes.push(
        `maxWeight ${cap} is not a multiple of stepWeight ${settings.stepWeight}: the last step overshoots it.`,
      );
  }
  notes.push('Assumes every gate is open and each rollout finishes within one interval.');
  return notes;
}
