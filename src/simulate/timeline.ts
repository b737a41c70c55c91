/**
 * The timeline a Canary's analysis settings imply when every check passes and every gate is
 * open: which tick does what, with which weights, webhooks and checks. It replays the engine's
 * own progression functions (engine/progression.ts), so the two cannot drift apart.
 */
import type { Canary, CanaryPhase, WebhookType } from '../api/schema/canary.js';
import {
  isFirstAnalysisStep,
  nextProgressionStep,
  nextPromotionStep,
  type DeploymentStrategy,
  type ProgressionSettings,
  type Routes,
} from '../engine/progression.js';
import { analysisOf, progressionSettings } from '../engine/settings.js';

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
  webhooks: TimelineWebhook[];
  /** Metrics evaluated during this tick. */
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
  /** With failFromSeconds: when the rollback happens (NaN otherwise). */
  rolledBackAt: number;
  /** Time from the first failed check to the rollback: interval × threshold. */
  rollbackAfter: number;
  /** The earliest a rollback can happen: the first check that can fail, plus rollbackAfter. */
  earliestRollbackAt: number;
  notes: string[];
}

/** Enough for any legal ladder (at most 100 steps) or iteration count a person would write. */
const MAX_TICKS = 1000;

const BUILTIN_METRIC_NAMES = new Set(['request-success-rate', 'request-duration']);

export interface SimulateOptions {
  meshProvider?: string | undefined;
  /** Every check fails from this many seconds after detection (shows when the rollback happens). */
  failFromSeconds?: number | undefined;
}

export function simulateCanary(canary: Canary, options: SimulateOptions = {}): Timeline {
  const { meshProvider, failFromSeconds } = options;
  const spec = canary.spec;
  const analysis = analysisOf(spec) ?? {};
  const settings = progressionSettings(spec, meshProvider);
  const name = `${canary.metadata.name}.${canary.metadata.namespace ?? 'default'}`;
  const target = `${spec.targetRef.name}.${canary.metadata.namespace ?? 'default'}`;
  const hooks = analysis.webhooks ?? [];
  const hooksOf = (...types: string[]): TimelineWebhook[] =>
    hooks
      .filter((hook) => types.includes(hook.type ?? ''))
      .map((hook) => ({ name: hook.name, type: hook.type || 'rollout' }));
  const checks = (analysis.metrics ?? [])
    .filter(
      (metric) =>
        BUILTIN_METRIC_NAMES.has(metric.name) ||
        metric.templateRef !== undefined ||
        metric.query !== undefined,
    )
    .map((metric) => metric.name);
  const intervalSeconds = settings.intervalMs / 1000;

  const steps: TimelineStep[] = [];
  let routes: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
  let iterations = 0;
  let phase: CanaryPhase = 'Progressing';
  let promotionStartsAt = Number.NaN;
  let promotedAt = Number.NaN;
  let rolledBackAt = Number.NaN;
  let failedChecks = 0;

  steps.push({
    t: 0,
    phase,
    ...weights(routes, settings),
    iteration: 0,
    failedChecks: 0,
    webhooks: hooksOf('confirm-rollout'),
    checks: [],
    events: [`New revision detected! Scaling up ${target}`],
  });

  for (let tick = 1; tick <= MAX_TICKS && phase !== 'Succeeded' && phase !== 'Failed'; tick += 1) {
    const t = tick * intervalSeconds;
    const step: TimelineStep = {
      t,
      phase,
      ...weights(routes, settings),
      iteration: iterations,
      failedChecks,
      webhooks: [],
      checks: [],
      events: [],
    };
    if (spec.skipAnalysis === true) {
      routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
      phase = 'Succeeded';
      promotionStartsAt = promotedAt = t;
      step.webhooks.push(...hooksOf('post-rollout'));
      step.events.push(`Promotion completed! Canary analysis was skipped for ${target}`);
    } else if (phase === 'Progressing' && failedChecks >= settings.threshold) {
      // docs/flagger-compatibility.md#28-rollback-and-failed-promotion: the threshold is checked before the analysis step of the next tick.
      step.events.push(
        `Rolling back ${name} failed checks threshold reached ${failedChecks}`,
        `Canary failed! Scaling down ${target}`,
      );
      routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
      phase = 'Failed';
      rolledBackAt = t;
      step.webhooks.push(...hooksOf('post-rollout'));
    } else if (phase === 'Progressing') {
      step.webhooks.push(...hooksOf('rollback'));
      const first = isFirstAnalysisStep(settings, { routes, iterations });
      if (first) {
        step.events.push(`Starting canary analysis for ${target}`);
        step.webhooks.push(...hooksOf('pre-rollout'));
      } else {
        step.webhooks.push(...hooksOf('', 'rollout'));
        step.checks.push(...checks);
      }
      const checked = !first || hooksOf('pre-rollout').length > 0;
      if (failFromSeconds !== undefined && t >= failFromSeconds && checked) {
        failedChecks += 1;
        step.events.push(`Halt ${name} advancement: check failed (${failedChecks}/${settings.threshold})`);
        Object.assign(step, { phase, ...weights(routes, settings), iteration: iterations, failedChecks });
        steps.push(step);
        continue;
      }
      const next = nextProgressionStep(settings, { routes, iterations }, name);
      switch (next.kind) {
        case 'hold':
          step.events.push('No step weight: the canary holds at its current weight');
          break;
        case 'advance-weight':
          if (next.confirmTrafficIncrease) step.webhooks.push(...hooksOf('confirm-traffic-increase'));
          routes = next.routes;
          step.events.push(next.message);
          break;
        case 'advance-iteration':
          iterations = next.iteration;
          if (next.routes !== undefined) routes = next.routes;
          step.events.push(next.message);
          break;
        case 'route-all-to-canary':
          step.webhooks.push(...hooksOf('confirm-promotion'));
          iterations = next.iteration;
          if (next.routes !== undefined) {
            routes = next.routes;
            step.events.push(next.message);
          }
          break;
        case 'promote':
          if (next.confirmTrafficIncrease && settings.strategy === 'canary')
            step.webhooks.push(...hooksOf('confirm-traffic-increase'));
          step.webhooks.push(...hooksOf('confirm-promotion'));
          step.events.push(
            `Copying ${target} template spec to ${spec.targetRef.name}-primary.${canary.metadata.namespace ?? 'default'}`,
          );
          phase = 'Promoting';
          promotionStartsAt = t;
          break;
      }
      if (next.kind === 'hold') {
        Object.assign(step, { phase, ...weights(routes, settings), iteration: iterations });
        steps.push(step);
        break;
      }
    } else if (phase === 'Promoting') {
      const next = nextPromotionStep(settings, routes, name);
      if (next.kind === 'finalise') {
        phase = 'Finalising';
      } else {
        routes = next.routes;
        step.events.push(next.message);
        if (next.done) phase = 'Finalising';
      }
    } else if (phase === 'Finalising') {
      routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
      phase = 'Succeeded';
      promotedAt = t;
      step.webhooks.push(...hooksOf('post-rollout'));
      step.events.push(`Promotion completed! Scaling down ${target}`);
    }
    Object.assign(step, {
      phase,
      ...weights(routes, settings),
      iteration: statusIterations(phase, iterations),
      failedChecks,
    });
    steps.push(step);
  }

  const firstCheckTick = hooksOf('pre-rollout').length > 0 || spec.skipAnalysis === true ? 1 : 2;
  const rollbackAfter = settings.threshold * intervalSeconds;
  return {
    canary: name,
    strategy: settings.strategy,
    provider: settings.provider,
    intervalSeconds,
    threshold: settings.threshold,
    steps,
    promotionStartsAt,
    promotedAt,
    rolledBackAt,
    rollbackAfter,
    earliestRollbackAt: firstCheckTick * intervalSeconds + rollbackAfter,
    notes: notesFor(settings, analysis.stepWeights !== undefined),
  };
}

/** Iterations as status shows them: phases past the analysis reset the counter (engine/status.ts). */
function statusIterations(phase: CanaryPhase, iterations: number): number {
  return phase === 'Progressing' || phase === 'Waiting' || phase === 'Promoting' ? iterations : 0;
}

/** What the traffic really does: the kubernetes provider has no router, the apex follows the primary. */
function weights(
  routes: Routes,
  settings: ProgressionSettings,
): Pick<TimelineStep, 'canaryWeight' | 'primaryWeight' | 'mirrored'> {
  if (settings.provider === 'kubernetes') return { canaryWeight: 0, primaryWeight: 100, mirrored: false };
  return {
    canaryWeight: routes.canaryWeight,
    primaryWeight: routes.primaryWeight,
    mirrored: routes.mirrored,
  };
}

function notesFor(settings: ProgressionSettings, ladder: boolean): string[] {
  const notes: string[] = [];
  if (settings.provider === 'kubernetes') {
    notes.push(
      'kubernetes provider: the apex Service always selects the primary, so users reach the new version when the primary rolls out during promotion; checks run against the canary Service.',
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
