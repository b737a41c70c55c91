/** Flagger's defaults applied to `spec.analysis` (docs/flagger-compatibility.md#0-process-model, docs/flagger-compatibility.md#13-canary-analysis, docs/flagger-compatibility.md#21-one-tick step 24). */
import { parseGoDuration } from '../api/duration.js';
import type { CanarySpec } from '../api/schema/canary.js';
import { DEFAULT_MESH_PROVIDER, routerForCanary } from '../routers/traits.js';
import { deploymentStrategy, type ProgressionSettings } from './progression.js';

export const DEFAULT_INTERVAL_MS = 60_000;
export const MIN_INTERVAL_MS = 10_000;
export { DEFAULT_MESH_PROVIDER };

export function analysisOf(spec: CanarySpec): CanarySpec['analysis'] | undefined {
  return spec.analysis ?? spec.canaryAnalysis;
}

/**
 * An empty or unparsable interval means 60s, and nothing runs more often than every 10s
 * (`minimumMs` lowers that floor on test clusters only).
 */
export function analysisIntervalMs(interval: string | undefined, minimumMs = MIN_INTERVAL_MS): number {
  const parsed = interval === undefined ? undefined : parseGoDuration(interval);
  if (parsed === undefined || parsed <= 0) return DEFAULT_INTERVAL_MS;
  return Math.max(parsed, minimumMs);
}

/**
 * The analysis settings with Flagger's defaults and the router's constraints applied: a router
 * without weights (kubernetes) runs its default iterations and drops `match`. An unknown provider
 * name throws UnknownRouterError (src/routers/traits.ts).
 */
export function progressionSettings(
  spec: CanarySpec,
  meshProvider = DEFAULT_MESH_PROVIDER,
  /** The controller's `--min-analysis-interval`, so the interval the engine reports is the one it ticks at. */
  minIntervalMs = MIN_INTERVAL_MS,
): ProgressionSettings {
  const analysis = analysisOf(spec) ?? {};
  const router = routerForCanary({ spec }, meshProvider);
  let iterations = analysis.iterations ?? 0;
  if (router.defaultIterations !== undefined && iterations < 1) iterations = router.defaultIterations;
  const match = router.dropsMatch ? [] : (analysis.match ?? []);
  return {
    provider: router.given,
    router,
    strategy: deploymentStrategy({ iterations, match }),
    intervalMs: analysisIntervalMs(analysis.interval, minIntervalMs),
    threshold: (analysis.threshold ?? 0) > 0 ? (analysis.threshold as number) : 1,
    iterations,
    maxWeight: analysis.maxWeight,
    stepWeight: analysis.stepWeight ?? 0,
    stepWeights: analysis.stepWeights ?? [],
    stepWeightPromotion: analysis.stepWeightPromotion ?? 0,
    mirror: analysis.mirror === true,
    mirrorWeight: analysis.mirrorWeight ?? 0,
  };
}
