/**
 * The sequential judge's false-rollback bound under continuous monitoring (docs/judge.md "The
 * bound"): 10,000 seeded analyses of a canary exactly at the margin (its error rate 1.5× the
 * primary's, the worst case the bound covers), judged at every 10 s step for an hour. The
 * observed rate of false rollbacks must not exceed the bound: the upper end of its 99% interval
 * may not be far above it and the rate itself is below it. The same runs, judged by a naive
 * fixed-sample test repeated at every step, exceed the bound, which shows the simulation can see a
 * violation.
 */
import { describe, expect, it } from 'vitest';
import { parseJudgeSettings } from '../../src/engine/judge/config.js';
import { binomial, judgeRun } from '../support/judge-simulation.js';
import { seededRandom } from '../support/seeded-random.js';

const RUNS = 10_000;
const BOUND = 0.05;

/** Wilson score interval of a binomial proportion at z. */
function wilson(successes: number, runs: number, z = 2.576): [number, number] {
  const p = successes / runs;
  const centre = (p + (z * z) / (2 * runs)) / (1 + (z * z) / runs);
  const half = (z * Math.sqrt((p * (1 - p)) / runs + (z * z) / (4 * runs * runs))) / (1 + (z * z) / runs);
  return [centre - half, centre + half];
}

describe('judge: false rollbacks under continuous monitoring', () => {
  it(`stay under the ${BOUND * 100}% bound over ${RUNS} seeded null runs at the margin`, () => {
    const settings = parseJudgeSettings('{"errors": {"margin": 1.5, "detect": 0}, "latency": false}');
    const random = seededRandom(20_261_206);
    let falseRollbacks = 0;
    for (let run = 0; run < RUNS; run += 1) {
      const result = judgeRun({
        random,
        settings,
        canary: { rps: 1, errorRate: 0.0075, median: 0, sigma: 0 },
        primary: { rps: 19, errorRate: 0.005, median: 0, sigma: 0 },
        stepSeconds: 10,
        horizonSeconds: 3600,
      });
      if (result.failedAfterSeconds !== undefined) falseRollbacks += 1;
    }
    const [, upper] = wilson(falseRollbacks, RUNS);
    const rate = falseRollbacks / RUNS;
    expect(rate, `${falseRollbacks} false rollbacks in ${RUNS} runs`).toBeLessThanOrEqual(BOUND);
    expect(upper).toBeLessThan(BOUND + 0.01);
  }, 600_000);

  it('the same looks with a fixed-sample z-test at 5% exceed the bound (peeking), so the simulation can see a violation', () => {
    const random = seededRandom(20_261_206);
    let falseAlarms = 0;
    const runs = 2_000;
    for (let run = 0; run < runs; run += 1) {
      let canaryErrors = 0;
      let primaryErrors = 0;
      for (let step = 1; step <= 360; step += 1) {
        canaryErrors += binomial(random, 10, 0.005);
        primaryErrors += binomial(random, 190, 0.005);
        const canaryRequests = step * 10;
        const primaryRequests = step * 190;
        const pooled = (canaryErrors + primaryErrors) / (canaryRequests + primaryRequests);
        const se = Math.sqrt(pooled * (1 - pooled) * (1 / canaryRequests + 1 / primaryRequests));
        const z = se === 0 ? 0 : (canaryErrors / canaryRequests - primaryErrors / primaryRequests) / se;
        if (z > 1.645) {
          falseAlarms += 1;
          break;
        }
      }
    }
    expect(falseAlarms / runs).toBeGreaterThan(BOUND * 2);
  }, 300_000);
});
