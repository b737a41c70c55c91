/**
 * The statistics of the sequential judge (docs/judge.md "How it decides"): an anytime-valid test
 * of the canary's share of some events (errors, or requests slower than a latency bound) given
 * its share of the traffic, its confidence interval, and the sample size still needed.
 *
 * Why a share: when both arms serve the same traffic window, each event comes from the canary
 * with probability θ = ρr / (ρr + 1 − ρ), where ρ is the canary's share of requests and r the
 * ratio of the canary's event rate to the primary's. The primary is the concurrent control, so
 * drifts in load or in the primary's own rate cancel out, and the test needs only two integers.
 *
 * The evidence against "r ≤ margin" is a mixture likelihood ratio (a Bayes factor) of θ uniform
 * on (θ₀, 1) against θ₀ = θ(ρ, margin). Under any θ ≤ θ₀ each of its components has expectation
 * at most 1 per event, so it is an e-process: by Ville's inequality it exceeds 1/α with
 * probability at most α however often it is looked at (docs/adr/0033-sequential-judge.md).
 */

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7): about 15 significant digits. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let sum = 0.99999999999980993;
  for (let index = 0; index < LANCZOS.length; index += 1) sum += LANCZOS[index]! / (z + index + 1);
  const t = z + LANCZOS.length - 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) */
export function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 10_000; m += 1) {
    const m2 = 2 * m;
    let term = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    result *= d * c;
    term = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return result;
}

/** ln I_x(a, b), the log of the regularized incomplete beta function (−∞ at x = 0). */
export function lnRegularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return -Infinity;
  if (x >= 1) return 0;
  const front = a * Math.log(x) + b * Math.log1p(-x) - lnBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) return front + Math.log(betaFraction(x, a, b)) - Math.log(a);
  // The other tail converges fast here: I_x(a, b) = 1 − I_{1−x}(b, a).
  const other = Math.exp(front + Math.log(betaFraction(1 - x, b, a)) - Math.log(b));
  return Math.log1p(-Math.min(other, 1));
}

/** The canary's expected share of events when its share of requests is ρ and its rate r times the primary's. */
export function shareUnderRatio(rho: number, ratio: number): number {
  if (!Number.isFinite(ratio)) return 1;
  return (rho * ratio) / (rho * ratio + 1 - rho);
}

/** ln of the binomial likelihood of k canary events out of n at share θ (without the binomial coefficient). */
function lnLikelihood(k: number, n: number, theta: number): number {
  return (k === 0 ? 0 : k * Math.log(theta)) + (n - k === 0 ? 0 : (n - k) * Math.log1p(-theta));
}

/**
 * ln of the evidence that the canary's share of events is above θ₀: the likelihood of k canary
 * events out of n under θ uniform on (θ₀, 1), over the likelihood at θ₀. k and n may be
 * fractional (expected counts, for sample-size estimates).
 */
export function lnEvidenceAbove(k: number, n: number, theta0: number): number {
  if (n <= 0 || theta0 <= 0 || theta0 >= 1) return 0;
  // ∫_{θ₀}^1 θ^k (1−θ)^(n−k) dθ = B(k+1, n−k+1) · I_{1−θ₀}(n−k+1, k+1)
  const mixture =
    lnBeta(k + 1, n - k + 1) + lnRegularizedBeta(1 - theta0, n - k + 1, k + 1) - Math.log1p(-theta0);
  return mixture - lnLikelihood(k, n, theta0);
}

/** ln of the evidence that the canary's share of events is below θ₀ (θ uniform on (0, θ₀)). */
export function lnEvidenceBelow(k: number, n: number, theta0: number): number {
  if (n <= 0 || theta0 <= 0 || theta0 >= 1) return 0;
  const mixture = lnBeta(k + 1, n - k + 1) + lnRegularizedBeta(theta0, k + 1, n - k + 1) - Math.log(theta0);
  return mixture - lnLikelihood(k, n, theta0);
}

export interface ShareCounts {
  /** Events in the canary's arm (errors, or requests slower than the bound). */
  readonly canaryEvents: number;
  readonly canaryRequests: number;
  readonly primaryEvents: number;
  readonly primaryRequests: number;
}

export interface RatioInterval {
  readonly lower: number;
  /** Infinity when no event has come from the primary yet. */
  readonly upper: number;
}

const RATIO_FLOOR = 1e-4;
const RATIO_CEILING = 1e4;

/** The canary's share of requests (0 when nothing was served). */
export function trafficShare(counts: ShareCounts): number {
  const total = counts.canaryRequests + counts.primaryRequests;
  return total === 0 ? 0 : counts.canaryRequests / total;
}

/** ln of the evidence that the canary's event rate is more than `margin` times the primary's. */
export function lnEvidenceWorse(counts: ShareCounts, margin: number): number {
  const rho = trafficShare(counts);
  if (rho <= 0 || rho >= 1) return 0;
  return lnEvidenceAbove(
    counts.canaryEvents,
    counts.canaryEvents + counts.primaryEvents,
    shareUnderRatio(rho, margin),
  );
}

/** ln of the evidence that the canary's event rate is less than `margin` times the primary's. */
export function lnEvidenceNotWorse(counts: ShareCounts, margin: number): number {
  const rho = trafficShare(counts);
  if (rho <= 0 || rho >= 1) return 0;
  return lnEvidenceBelow(
    counts.canaryEvents,
    counts.canaryEvents + counts.primaryEvents,
    shareUnderRatio(rho, margin),
  );
}

/**
 * The anytime-valid interval of the ratio r (canary's rate over the primary's) at level 1 − α:
 * the ratios neither one-sided test rejects at α/2. It holds at every look simultaneously.
 */
export function ratioInterval(counts: ShareCounts, alpha: number): RatioInterval {
  const rho = trafficShare(counts);
  const events = counts.canaryEvents + counts.primaryEvents;
  if (rho <= 0 || rho >= 1 || events === 0) return { lower: 0, upper: Infinity };
  const limit = Math.log(2 / alpha);
  const above = (ratio: number) => lnEvidenceAbove(counts.canaryEvents, events, shareUnderRatio(rho, ratio));
  const below = (ratio: number) => lnEvidenceBelow(counts.canaryEvents, events, shareUnderRatio(rho, ratio));
  // The evidence above r falls as r grows; the evidence below r rises.
  const lower =
    above(RATIO_FLOOR) < limit ? 0 : bisectLog(RATIO_FLOOR, RATIO_CEILING, (r) => above(r) < limit);
  const upper =
    below(RATIO_CEILING) < limit ? Infinity : bisectLog(RATIO_FLOOR, RATIO_CEILING, (r) => below(r) >= limit);
  return { lower, upper };
}

/** The smallest r in [low, high] (log scale) where `reached` turns true; `reached` is monotone. */
function bisectLog(low: number, high: number, reached: (ratio: number) => boolean): number {
  let a = Math.log(low);
  let b = Math.log(high);
  if (reached(low)) return low;
  if (!reached(high)) return high;
  for (let step = 0; step < 60; step += 1) {
    const middle = (a + b) / 2;
    if (reached(Math.exp(middle))) b = middle;
    else a = middle;
  }
  return Math.exp(b);
}

/**
 * How many canary requests in all would make the evidence reach `lnLimit`, on average, if the
 * canary's event rate were `canaryRate` and the primary's `primaryRate`, at share ρ and margin.
 * Infinity when that canary would not be worse than the margin (nothing to catch).
 */
export function canaryRequestsToDetect(options: {
  readonly canaryRate: number;
  readonly primaryRate: number;
  readonly rho: number;
  readonly margin: number;
  readonly lnLimit: number;
}): number {
  const { canaryRate, primaryRate, rho, margin, lnLimit } = options;
  if (rho <= 0 || rho >= 1 || canaryRate <= 0 || canaryRate <= margin * primaryRate) return Infinity;
  const theta0 = shareUnderRatio(rho, margin);
  const primaryPerCanary = (1 - rho) / rho;
  const reaches = (n: number) =>
    lnEvidenceAbove(n * canaryRate, n * canaryRate + n * primaryPerCanary * primaryRate, theta0) >= lnLimit;
  let high = 1;
  while (!reaches(high)) {
    high *= 2;
    if (high > 1e12) return Infinity;
  }
  let low = high / 2;
  for (let step = 0; step < 50 && high - low > 0.5; step += 1) {
    const middle = (low + high) / 2;
    if (reaches(middle)) high = middle;
    else low = middle;
  }
  return Math.ceil(high);
}
