/**
 * The progression rules of docs/flagger-compatibility.md#23-progression-per-strategy, as pure functions of the analysis settings and the
 * current routes: what each step does and which gates it waits for. The analysis engine calls
 * them on every tick; `vireo simulate` runs the engine itself (docs/adr/0018-simulate-runs-the-engine.md),
 * so there is exactly one copy of the rules and of their dispatch.
 */
import type { CanaryPhase } from '../api/schema/canary.js';
import type { RouterTraits } from '../routers/traits.js';

export type DeploymentStrategy = 'canary' | 'ab-testing' | 'blue-green';

/** What progression needs to know about `spec.analysis`, with Flagger's defaults applied. */
export interface ProgressionSettings {
  /** Router provider in effect (`spec.provider`, else the controller's `--mesh-provider`), as written. */
  readonly provider: string;
  /** What that router can do (src/routers/traits.ts). */
  readonly router: RouterTraits;
  readonly strategy: DeploymentStrategy;
  readonly intervalMs: number;
  /** Failed checks that trigger a rollback (≥ 1). */
  readonly threshold: number;
  /** A/B and blue/green: checks to pass before promotion. 0 for the canary strategy. */
  readonly iterations: number;
  /** `maxWeight` as written (undefined means 100); ignored when `stepWeights` is set. */
  readonly maxWeight: number | undefined;
  readonly stepWeight: number;
  readonly stepWeights: readonly number[];
  /** Primary weight step during promotion; 0 shifts all traffic at once. */
  readonly stepWeightPromotion: number;
  readonly mirror: boolean;
  readonly mirrorWeight: number;
}

/** Live routing as a router reports it. */
export interface Routes {
  readonly primaryWeight: number;
  readonly canaryWeight: number;
  readonly mirrored: boolean;
}

/** docs/flagger-compatibility.md#13-canary-analysis: `match` plus iterations is A/B, iterations alone blue/green, anything else canary. */
export function deploymentStrategy(analysis: {
  iterations?: number | undefined;
  match?: readonly unknown[] | undefined;
}): DeploymentStrategy {
  const iterations = analysis.iterations ?? 0;
  if (iterations > 0 && (analysis.match?.length ?? 0) > 0) return 'ab-testing';
  if (iterations > 0) return 'blue-green';
  return 'canary';
}

/** The weight at which the canary strategy stops advancing and asks to promote. */
export function effectiveMaxWeight(settings: Pick<ProgressionSettings, 'maxWeight' | 'stepWeights'>): number {
  const last = settings.stepWeights.at(-1);
  if (last !== undefined) return Math.min(100, last);
  return settings.maxWeight !== undefined && settings.maxWeight > 0 ? settings.maxWeight : 100;
}

/**
 * How much canary weight the next step adds. 0 means the canary strategy has nothing to do this
 * tick (no stepWeight and no ladder), which is also how the engine decides to skip dispatch.
 */
export function nextStepWeight(
  settings: Pick<ProgressionSettings, 'stepWeight' | 'stepWeights'>,
  canaryWeight: number,
): number {
  const ladder = settings.stepWeights;
  if (settings.stepWeight > 0 || ladder.length === 0) return settings.stepWeight;
  const first = ladder[0] ?? 0;
  if (canaryWeight === 0) return Math.min(100, first);
  if (canaryWeight >= 100) return 1;
  const index = ladder.indexOf(canaryWeight);
  if (index >= 0 && index < ladder.length - 1) {
    const next = ladder[index + 1] ?? 100;
    return Math.min(next - canaryWeight, 100 - canaryWeight);
  }
  // At the top of the ladder or off it (weights edited by hand): jump to full traffic.
  return 100 - canaryWeight;
}

function clampWeight(weight: number): number {
  return Math.max(0, Math.min(100, weight));
}

/**
 * A gate a step waits for before it takes effect: the confirm webhooks (docs/flagger-compatibility.md#5-webhooks). The engine
 * asks each in order and stops at the first that is closed; `vireo simulate` shows them through
 * the engine, so a step's gates are decided here and nowhere else.
 */
export type StepGate = 'confirm-traffic-increase' | 'confirm-promotion';

/** One tick's progression once every check of that tick has passed. */
export type ProgressionStep =
  /** Nothing to dispatch: the canary strategy without a step size. */
  | { readonly kind: 'hold'; readonly gates: readonly [] }
  /** Shift more traffic to the canary (or, at weight 0 with mirroring, only mirror it). */
  | {
      readonly kind: 'advance-weight';
      readonly gates: readonly StepGate[];
      readonly routes: Routes;
      readonly message: string;
    }
  /** A/B and blue/green: count one more passed iteration, possibly changing the routes. */
  | {
      readonly kind: 'advance-iteration';
      readonly gates: readonly StepGate[];
      readonly iteration: number;
      readonly routes: Routes | undefined;
      readonly message: string;
    }
  /** Blue/green after the last iteration: send all traffic to the canary for one more check. */
  | {
      readonly kind: 'route-all-to-canary';
      readonly gates: readonly StepGate[];
      readonly iteration: number;
      readonly routes: Routes | undefined;
      readonly message: string;
    }
  /** Every step done: copy the canary spec to the primary (phase Promoting). */
  | { readonly kind: 'promote'; readonly gates: readonly StepGate[] };

/** Inputs of one dispatch: the phase, the live routes and the iterations counted in status. */
export interface ProgressionState {
  /** Progressing, or WaitingPromotion once a confirm-promotion gate was found closed. */
  readonly phase: CanaryPhase;
  readonly routes: Routes;
  readonly iterations: number;
}

const NO_ROUTE_CHANGE = undefined;

/**
 * docs/flagger-compatibility.md#21-one-tick step 25 and docs/flagger-compatibility.md#23-progression-per-strategy a–d: what the Progressing (or WaitingPromotion) tick does after
 * its checks passed. `name` is `<canary>.<namespace>`, used in the event messages.
 */
export function nextProgressionStep(
  settings: ProgressionSettings,
  state: ProgressionState,
  name: string,
): ProgressionStep {
  switch (settings.strategy) {
    case 'ab-testing':
      return nextABStep(settings, state, name);
    case 'blue-green':
      return nextBlueGreenStep(settings, state, name);
    case 'canary':
      return nextCanaryStep(settings, state, name);
  }
}

function nextCanaryStep(
  settings: ProgressionSettings,
  state: ProgressionState,
  name: string,
): ProgressionStep {
  const { canaryWeight, primaryWeight, mirrored } = state.routes;
  const step = nextStepWeight(settings, canaryWeight);
  if (step <= 0) return { kind: 'hold', gates: [] };
  // A mirrored canary takes no live traffic, so there is no traffic increase to confirm yet.
  const trafficIncrease: StepGate[] = mirrored ? [] : ['confirm-traffic-increase'];
  if (canaryWeight >= effectiveMaxWeight(settings)) {
    // In WaitingPromotion the traffic increase was confirmed before the promotion gate closed.
    const asked = state.phase === 'Progressing' ? trafficIncrease : [];
    return { kind: 'promote', gates: [...asked, 'confirm-promotion'] };
  }
  if (settings.mirror && settings.router.mirrorInCanary && canaryWeight === 0 && !mirrored) {
    return {
      kind: 'advance-weight',
      gates: trafficIncrease,
      routes: { primaryWeight: 100, canaryWeight: 0, mirrored: true },
      message: `Start traffic mirroring for ${name}`,
    };
  }
  const nextCanary = clampWeight(canaryWeight + step);
  return {
    kind: 'advance-weight',
    gates: trafficIncrease,
    routes: { primaryWeight: clampWeight(primaryWeight - step), canaryWeight: nextCanary, mirrored: false },
    message: `Advance ${name} canary weight ${nextCanary}`,
  };
}

function nextABStep(settings: ProgressionSettings, state: ProgressionState, name: string): ProgressionStep {
  if (state.iterations < settings.iterations) {
    const iteration = state.iterations + 1;
    return {
      kind: 'advance-iteration',
      gates: [],
      iteration,
      // Routers send only the requests that match `analysis.match` to the canary.
      routes: { primaryWeight: 0, canaryWeight: 100, mirrored: false },
      message: `Advance ${name} canary iteration ${iteration}/${settings.iterations}`,
    };
  }
  return { kind: 'promote', gates: ['confirm-promotion'] };
}

function nextBlueGreenStep(
  settings: ProgressionSettings,
  state: ProgressionState,
  name: string,
): ProgressionStep {
  const weights = settings.router.weights;
  if (state.iterations < settings.iterations) {
    const iteration = state.iterations + 1;
    const startMirroring = settings.mirror && settings.router.mirrorInBlueGreen && !state.routes.mirrored;
    return {
      kind: 'advance-iteration',
      gates: [],
      iteration,
      routes: startMirroring ? { primaryWeight: 100, canaryWeight: 0, mirrored: true } : NO_ROUTE_CHANGE,
      message: `Advance ${name} canary iteration ${iteration}/${settings.iterations}`,
    };
  }
  if (state.iterations === settings.iterations) {
    return {
      kind: 'route-all-to-canary',
      gates: ['confirm-promotion'],
      iteration: settings.iterations + 1,
      // A router without weights (kubernetes) moves nothing: the apex Service switches when the primary rolls out.
      routes: weights ? { primaryWeight: 0, canaryWeight: 100, mirrored: false } : NO_ROUTE_CHANGE,
      message: state.routes.mirrored
        ? 'Stop traffic mirroring and route all traffic to canary'
        : 'Routing all traffic to canary',
    };
  }
  return { kind: 'promote', gates: ['confirm-promotion'] };
}

/** One tick of the Promoting phase (docs/flagger-compatibility.md#23e-promotion-shift). */
export type PromotionStep =
  | { readonly kind: 'shift'; readonly routes: Routes; readonly message: string; readonly done: boolean }
  | { readonly kind: 'finalise' };

export function nextPromotionStep(
  settings: ProgressionSettings,
  routes: Routes,
  name: string,
): PromotionStep {
  // Without weights there is no traffic to shift back: the primary's rollout is the switch.
  if (!settings.router.weights) return { kind: 'finalise' };
  if (settings.stepWeightPromotion <= 0) {
    return {
      kind: 'shift',
      routes: { primaryWeight: 100, canaryWeight: 0, mirrored: false },
      message: 'Routing all traffic to primary',
      done: true,
    };
  }
  const primaryWeight = clampWeight(routes.primaryWeight + settings.stepWeightPromotion);
  const canaryWeight = clampWeight(routes.canaryWeight - settings.stepWeightPromotion);
  return {
    kind: 'shift',
    routes: { primaryWeight, canaryWeight, mirrored: false },
    message: `Advance ${name} primary weight ${primaryWeight}`,
    done: primaryWeight >= 100,
  };
}

/** The first analysis step runs the pre-rollout hooks and no metrics (docs/flagger-compatibility.md#21-one-tick step 23). */
export function isFirstAnalysisStep(
  settings: Pick<ProgressionSettings, 'mirror'>,
  state: Pick<ProgressionState, 'routes' | 'iterations'>,
): boolean {
  return (
    state.routes.canaryWeight === 0 && state.iterations === 0 && !(settings.mirror && state.routes.mirrored)
  );
}
