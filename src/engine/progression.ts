/**
 * The progression rules of docs/flagger-compatibility.md#23-progression-per-strategy, as pure functions of the analysis settings and the
 * current routes. The analysis engine calls them on every tick and `vireo simulate` replays them
 * to draw a timeline, so there is exactly one copy of the rules.
 */

export type DeploymentStrategy = 'canary' | 'ab-testing' | 'blue-green';

/** What progression needs to know about `spec.analysis`, with Flagger's defaults applied. */
export interface ProgressionSettings {
  /** Router provider in effect (`spec.provider`, else the controller's `--mesh-provider`). */
  readonly provider: string;
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

/** One tick's progression once every check of that tick has passed. */
export type ProgressionStep =
  /** Nothing to dispatch: the canary strategy without a step size. */
  | { readonly kind: 'hold' }
  /** Shift more traffic to the canary (or, at weight 0 with mirroring, only mirror it). */
  | {
      readonly kind: 'advance-weight';
      readonly routes: Routes;
      readonly confirmTrafficIncrease: boolean;
      readonly message: string;
    }
  /** A/B and blue/green: count one more passed iteration, possibly changing the routes. */
  | {
      readonly kind: 'advance-iteration';
      readonly iteration: number;
      readonly routes: Routes | undefined;
      readonly message: string;
    }
  /** Blue/green after the last iteration: confirm-promotion, then send all traffic to the canary for one more check. */
  | {
      readonly kind: 'route-all-to-canary';
      readonly iteration: number;
      readonly routes: Routes | undefined;
      readonly message: string;
    }
  /** Every step done: confirm-promotion, then copy the canary spec to the primary (phase Promoting). */
  | { readonly kind: 'promote'; readonly confirmTrafficIncrease: boolean };

/** Inputs of one dispatch: the live routes and the iterations counted in status. */
export interface ProgressionState {
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
  if (step <= 0) return { kind: 'hold' };
  // A mirrored canary takes no live traffic, so there is no traffic increase to confirm yet.
  const confirmTrafficIncrease = !mirrored;
  if (canaryWeight >= effectiveMaxWeight(settings)) return { kind: 'promote', confirmTrafficIncrease };
  if (settings.mirror && mirrorsInCanaryStrategy(settings.provider) && canaryWeight === 0 && !mirrored) {
    return {
      kind: 'advance-weight',
      routes: { primaryWeight: 100, canaryWeight: 0, mirrored: true },
      confirmTrafficIncrease,
      message: `Start traffic mirroring for ${name}`,
    };
  }
  const nextCanary = clampWeight(canaryWeight + step);
  return {
    kind: 'advance-weight',
    routes: { primaryWeight: clampWeight(primaryWeight - step), canaryWeight: nextCanary, mirrored: false },
    confirmTrafficIncrease,
    message: `Advance ${name} canary weight ${nextCanary}`,
  };
}

function nextABStep(settings: ProgressionSettings, state: ProgressionState, name: string): ProgressionStep {
  if (state.iterations < settings.iterations) {
    const iteration = state.iterations + 1;
    return {
      kind: 'advance-iteration',
      iteration,
      // Routers send only the requests that match `analysis.match` to the canary.
      routes: { primaryWeight: 0, canaryWeight: 100, mirrored: false },
      message: `Advance ${name} canary iteration ${iteration}/${settings.iterations}`,
    };
  }
  return { kind: 'promote', confirmTrafficIncrease: false };
}

function nextBlueGreenStep(
  settings: ProgressionSettings,
  state: ProgressionState,
  name: string,
): ProgressionStep {
  const kubernetes = isKubernetesProvider(settings.provider);
  if (state.iterations < settings.iterations) {
    const iteration = state.iterations + 1;
    const startMirroring = settings.mirror && mirrorsInBlueGreen(settings.provider) && !state.routes.mirrored;
    return {
      kind: 'advance-iteration',
      iteration,
      routes: startMirroring ? { primaryWeight: 100, canaryWeight: 0, mirrored: true } : NO_ROUTE_CHANGE,
      message: `Advance ${name} canary iteration ${iteration}/${settings.iterations}`,
    };
  }
  if (state.iterations === settings.iterations) {
    return {
      kind: 'route-all-to-canary',
      iteration: settings.iterations + 1,
      // The kubernetes provider has no router: the apex Service switches when the primary rolls out.
      routes: kubernetes ? NO_ROUTE_CHANGE : { primaryWeight: 0, canaryWeight: 100, mirrored: false },
      message: state.routes.mirrored
        ? 'Stop traffic mirroring and route all traffic to canary'
        : 'Routing all traffic to canary',
    };
  }
  return { kind: 'promote', confirmTrafficIncrease: false };
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
  if (isKubernetesProvider(settings.provider)) return { kind: 'finalise' };
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
  state: ProgressionState,
): boolean {
  return (
    state.routes.canaryWeight === 0 && state.iterations === 0 && !(settings.mirror && state.routes.mirrored)
  );
}

export function isKubernetesProvider(provider: string): boolean {
  return provider === 'kubernetes';
}

/** Mirroring during the canary strategy's first step is an Istio feature (docs/flagger-compatibility.md#23d-mirroring-in-the-canary-strategy). */
export function mirrorsInCanaryStrategy(provider: string): boolean {
  return provider === 'istio';
}

/**
 * Blue/green mirroring: Istio and Gateway API (docs/flagger-compatibility.md#23c-blue-green and docs/flagger-compatibility.md#32-routers), and local mode's
 * routers, which mirror too (docs/local/router.md): without it a local blue/green canary would
 * get no traffic to measure before all of it.
 */
export function mirrorsInBlueGreen(provider: string): boolean {
  return provider === 'istio' || provider === 'local' || provider.startsWith('gatewayapi');
}
