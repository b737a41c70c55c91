/**
 * The judge's statistics against values computed independently in the test: the regularized
 * incomplete beta function against binomial tails, the mixture evidence against numerical
 * integration, the interval against its definition.
 */
import { describe, expect, it } from 'vitest';
import {
  canaryRequestsToDetect,
  lnEvidenceAbove,
  lnEvidenceBelow,
  lnEvidenceWorse,
  lnGamma,
  lnRegularizedBeta,
  ratioInterval,
  shareUnderRatio,
} from './statistics.js';

/** P(Binomial(n, p) ≥ k), summed term by term. */
function binomialUpperTail(n: number, p: number, k: number): number {
  let total = 0;
  let coefficient = 1;
  for (let i = 0; i <= n; i += 1) {
    if (i > 0) coefficient = (coefficient * (n - i + 1)) / i;
    if (i >= k) total += coefficient * p ** i * (1 - p) ** (n - i);
  }
  return total;
}

/** ∫ over [a, b] of the likelihood ratio against θ₀, averaged (midpoint rule, 200,000 points). */
function mixtureByIntegration(k: number, n: number, theta0: number, a: number, b: number): number {
  const points = 200_000;
  const base = k * Math.log(theta0) + (n - k) * Math.log1p(-theta0);
  let sum = 0;
  for (let index = 0; index < points; index += 1) {
    const theta = a + ((b - a) * (index + 0.5)) / points;
    sum += Math.exp(k * Math.log(theta) + (n - k) * Math.log1p(-theta) - base);
  }
  return sum / points;
}

describe('judge statistics', () => {
  it('ln Γ matches factorials and Γ(1/2) = √π', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3_628_800), 10);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(171)).toBeCloseTo(706.5730622457874, 8);
  });

  it('the regularized incomplete beta equals the binomial tail I_p(k, n−k+1) = P(Bin(n, p) ≥ k)', () => {
    for (const [n, p, k] of [
      [6, 0.3, 2],
      [20, 0.05, 3],
      [200, 0.4, 90],
      [1000, 0.001, 4],
      [50, 0.9, 48],
    ] as const) {
      expect(Math.exp(lnRegularizedBeta(p, k, n - k + 1))).toBeCloseTo(binomialUpperTail(n, p, k), 10);
    }
  });

  it('the evidence above and below θ₀ is the mixture likelihood ratio, as numerical integration gives it', () => {
    for (const [k, n, theta0] of [
      [2, 2, 0.0732],
      [2, 3, 0.0732],
      [10, 100, 0.05],
      [0, 50, 0.05],
      [30, 200, 0.1],
      [5, 400, 0.02],
    ] as const) {
      expect(Math.exp(lnEvidenceAbove(k, n, theta0))).toBeCloseTo(
        mixtureByIntegration(k, n, theta0, theta0, 1),
        4,
      );
      expect(Math.exp(lnEvidenceBelow(k, n, theta0))).toBeCloseTo(
        mixtureByIntegration(k, n, theta0, 0, theta0),
        4,
      );
    }
  });

  it("the canary's share of events follows its share of traffic and its rate ratio", () => {
    expect(shareUnderRatio(0.05, 1)).toBeCloseTo(0.05, 12);
    expect(shareUnderRatio(0.5, 3)).toBeCloseTo(0.75, 12);
    // 0.1% against 5% at a 5% split: 0.05·50 / (0.05·50 + 0.95)
    expect(shareUnderRatio(0.05, 50)).toBeCloseTo(2.5 / 3.45, 12);
  });

  it('two canary errors and none from the primary at a 5% split are evidence 67 against a 1.5× margin', () => {
    const theta0 = shareUnderRatio(0.05, 1.5);
    const expected = (1 - theta0 ** 3) / (3 * (1 - theta0) * theta0 ** 2);
    const counts = { canaryEvents: 2, canaryRequests: 40, primaryEvents: 0, primaryRequests: 760 };
    expect(Math.exp(lnEvidenceWorse(counts, 1.5))).toBeCloseTo(expected, 8);
    expect(expected).toBeGreaterThan(60);
  });

  it('the interval holds the ratios neither one-sided test rejects at α/2, and only those', () => {
    const counts = { canaryEvents: 5, canaryRequests: 100, primaryEvents: 10, primaryRequests: 1900 };
    const alpha = 0.05;
    const { lower, upper } = ratioInterval(counts, alpha);
    const rho = 100 / 2000;
    const above = (ratio: number) => lnEvidenceAbove(5, 15, shareUnderRatio(rho, ratio));
    const below = (ratio: number) => lnEvidenceBelow(5, 15, shareUnderRatio(rho, ratio));
    const limit = Math.log(2 / alpha);
    expect(lower).toBeGreaterThan(1);
    expect(upper).toBeLessThan(100);
    expect(lower).toBeLessThan(9.5); // the estimate: (5/100) / (10/1900)
    expect(upper).toBeGreaterThan(9.5);
    expect(above(lower * 0.99)).toBeGreaterThanOrEqual(limit);
    expect(above(lower * 1.01)).toBeLessThan(limit);
    expect(below(upper * 1.01)).toBeGreaterThanOrEqual(limit);
    expect(below(upper * 0.99)).toBeLessThan(limit);
  });

  it('without events the interval is everything; without primary events it has no upper end', () => {
    expect(
      ratioInterval({ canaryEvents: 0, canaryRequests: 50, primaryEvents: 0, primaryRequests: 950 }, 0.05),
    ).toEqual({ lower: 0, upper: Infinity });
    const onlyCanary = ratioInterval(
      { canaryEvents: 4, canaryRequests: 50, primaryEvents: 0, primaryRequests: 950 },
      0.05,
    );
    expect(onlyCanary.upper).toBe(Infinity);
    expect(onlyCanary.lower).toBeGreaterThan(1);
  });

  it('the sample size to catch a regression is where the expected counts reach the limit, and none within the margin', () => {
    const options = { canaryRate: 0.05, primaryRate: 0.001, rho: 0.05, margin: 1.5, lnLimit: Math.log(40) };
    const needed = canaryRequestsToDetect(options);
    const theta0 = shareUnderRatio(0.05, 1.5);
    const at = (n: number) => lnEvidenceAbove(n * 0.05, n * 0.05 + n * 19 * 0.001, theta0);
    expect(at(needed)).toBeGreaterThanOrEqual(Math.log(40));
    expect(at(needed - 1)).toBeLessThan(Math.log(40));
    expect(canaryRequestsToDetect({ ...options, canaryRate: 0.01 })).toBeGreaterThan(needed);
    expect(canaryRequestsToDetect({ ...options, canaryRate: 0.0015 })).toBe(Infinity);
  });
});
