/**
 * Simulated traffic for the sequential judge (test/property/judge-*.test.ts, bench/judge.ts):
 * per-arm counts drawn with a seeded generator, judged by the judge's own decision function on
 * the counts since the analysis start, as the engine would at each analysis step.
 */
import type { ArmObservations } from '../../src/engine/checks.js';
import type { JudgeSettings } from '../../src/engine/judge/config.js';
import { judgeTraffic } from '../../src/engine/judge/judge.js';
import type { SeededRandom } from './seeded-random.js';

/** A draw from Binomial(n, p): by inversion while np is small, else a rounded normal. */
export function binomial(random: SeededRandom, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(random, n, 1 - p);
  const mean = n * p;
  if (mean > 50) {
    const sd = Math.sqrt(mean * (1 - p));
    // Box–Muller
    const u = 1 - random.next();
    const v = random.next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.min(n, Math.max(0, Math.round(mean + sd * z)));
  }
  const u = random.next();
  let k = 0;
  let probability = (1 - p) ** n;
  let cumulative = probability;
  while (u > cumulative && k < n) {
    probability *= ((n - k) / (k + 1)) * (p / (1 - p));
    k += 1;
    cumulative += probability;
  }
  return k;
}

/** Latency bucket bounds (seconds) of the built-in router: Prometheus' defaults. */
export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** P(X ≤ x) for a log-normal latency with this median (seconds) and σ. */
export function logNormalCdf(x: number, median: number, sigma: number): number {
  return normalCdf(Math.log(x / median) / sigma);
}

export function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 on erf, error below 1.5e-7.
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const erf =
    1 -
    t *
      (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export interface ArmModel {
  /** Requests per second. */
  readonly rps: number;
  readonly errorRate: number;
  /** Log-normal latency: median in seconds and σ (0: no latency histogram). */
  readonly median: number;
  readonly sigma: number;
}

/** Draws one step of an arm's traffic: requests, errors and a cumulative histogram. */
export function drawArm(random: SeededRandom, arm: ArmModel, seconds: number): ArmObservations {
  const requests = Math.round(arm.rps * seconds);
  const errors = binomial(random, requests, arm.errorRate);
  const latencyBuckets: Record<string, number> = {};
  if (arm.sigma <= 0) return { requests, errors, latencyBuckets }; // no latency to draw
  let remaining = requests;
  let below = 0;
  let previous = 0;
  for (const bound of BUCKETS) {
    const cdf = logNormalCdf(bound, arm.median, arm.sigma);
    const inBucket =
      previous >= 1 ? 0 : binomial(random, remaining, Math.min(1, (cdf - previous) / (1 - previous)));
    remaining -= inBucket;
    below += inBucket;
    previous = cdf;
    latencyBuckets[String(bound)] = below;
  }
  latencyBuckets['+Inf'] = requests;
  return { requests, errors, latencyBuckets };
}

export function addArms(a: ArmObservations, b: ArmObservations): ArmObservations {
  const latencyBuckets: Record<string, number> = { ...a.latencyBuckets };
  for (const [bound, count] of Object.entries(b.latencyBuckets))
    latencyBuckets[bound] = (latencyBuckets[bound] ?? 0) + count;
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, latencyBuckets };
}

const EMPTY: ArmObservations = { requests: 0, errors: 0, latencyBuckets: {} };

export interface JudgedRun {
  /** Seconds from the analysis start to the judge's fail decision, or undefined within the horizon. */
  readonly failedAfterSeconds?: number;
  readonly canaryRequests: number;
}

/**
 * One analysis: every `stepSeconds`, both arms serve, and the judge decides on the sums since
 * the start. Stops at the first fail or at the horizon.
 */
export function judgeRun(options: {
  readonly random: SeededRandom;
  readonly settings: JudgeSettings;
  readonly canary: ArmModel;
  readonly primary: ArmModel;
  readonly stepSeconds: number;
  readonly horizonSeconds: number;
}): JudgedRun {
  let canary = EMPTY;
  let primary = EMPTY;
  const share = options.canary.rps / (options.canary.rps + options.primary.rps);
  for (let elapsed = options.stepSeconds; elapsed <= options.horizonSeconds; elapsed += options.stepSeconds) {
    canary = addArms(canary, drawArm(options.random, options.canary, options.stepSeconds));
    primary = addArms(primary, drawArm(options.random, options.primary, options.stepSeconds));
    const decision = judgeTraffic(
      options.settings,
      { canary, primary, from: new Date(0), to: new Date(elapsed * 1000) },
      share,
      { intervals: false },
    );
    if (decision.verdict === 'fail') return { failedAfterSeconds: elapsed, canaryRequests: canary.requests };
  }
  return { canaryRequests: canary.requests };
}
