/**
 * The sequential judge against Flagger's rule (docs/judge.md "Benchmark"): seeded simulations,
 * 1,000 analyses per row (VIREO_BENCH_JUDGE_RUNS to change), at 1, 10 and 100 canary requests per
 * second, a 5% or 50% canary weight held for a 30-minute analysis.
 *
 * - The judge: default settings (error rate, margin 1.5, and p99 latency, margin 2: two metrics
 *   share the 5% bound), deciding every 10 s (Flagger's shortest interval) on the counts since the
 *   analysis start. Median rows add a median latency metric with margin 1.1 instead of p99.
 * - Flagger: `request-success-rate` ≥ 99% over each 1m interval, threshold 5, a minute without
 *   canary requests failing ("no values found"); and the smallest threshold whose false-rollback
 *   rate on the healthy canary is at most 5%, the judge's bound (Flagger's best tuning for it).
 * Times are until the decision; both roll back on the next tick.
 */
import { parseJudgeSettings, type JudgeSettings } from '../src/engine/judge/config.js';
import { judgeRun, type ArmModel } from '../test/support/judge-simulation.js';
import { seededRandom, type SeededRandom } from '../test/support/seeded-random.js';

const HORIZON_SECONDS = 30 * 60;
const JUDGE_STEP_SECONDS = 10;
const FLAGGER_INTERVAL_SECONDS = 60;
const FLAGGER_THRESHOLD = 5;
const BOUND = 0.05;
const BASELINE_ERRORS = 0.001;
const LATENCY = { median: 0.04, sigma: 0.5 };

interface Figures {
  /** Canary requests and seconds until the rollback decision, per run (Infinity: none). */
  readonly requests: number[];
  readonly seconds: number[];
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const rolledBack = (figures: Figures): number =>
  figures.seconds.filter((seconds) => Number.isFinite(seconds)).length / figures.seconds.length;

function judgeFigures(
  random: SeededRandom,
  runs: number,
  settings: JudgeSettings,
  canary: ArmModel,
  primary: ArmModel,
): Figures {
  const requests: number[] = [];
  const seconds: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const result = judgeRun({
      random,
      settings,
      canary,
      primary,
      stepSeconds: JUDGE_STEP_SECONDS,
      horizonSeconds: HORIZON_SECONDS,
    });
    requests.push(result.failedAfterSeconds === undefined ? Infinity : result.canaryRequests);
    seconds.push(result.failedAfterSeconds ?? Infinity);
  }
  return { requests, seconds };
}

/** P(one Flagger check fails): the minute's success rate below 99%, or no canary request at all. */
function flaggerCheckFails(canaryRps: number, errorRate: number): number {
  const n = Math.round(canaryRps * FLAGGER_INTERVAL_SECONDS);
  if (n === 0) return 1;
  // fails when errors > 1% of n: 1 − P(errors ≤ floor(0.01 n)), with 100·(1 − e/n) < 99 ⇔ e > n/100
  const allowed = Math.floor(n / 100);
  let probability = (1 - errorRate) ** n;
  let cumulative = probability;
  for (let k = 0; k < allowed; k += 1) {
    probability *= ((n - k) / (k + 1)) * (errorRate / (1 - errorRate));
    cumulative += probability;
  }
  return Math.max(0, 1 - cumulative);
}

/** P(Binomial(n, p) ≥ k) */
function atLeast(n: number, p: number, k: number): number {
  let probability = (1 - p) ** n;
  let below = 0;
  for (let i = 0; i < k; i += 1) {
    below += probability;
    probability *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return Math.max(0, 1 - below);
}

function flaggerFigures(
  random: SeededRandom,
  runs: number,
  canaryRps: number,
  errorRate: number,
  threshold: number,
): Figures {
  const fails = flaggerCheckFails(canaryRps, errorRate);
  const requests: number[] = [];
  const seconds: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    let failed = 0;
    let at = Infinity;
    for (let minute = 1; minute * FLAGGER_INTERVAL_SECONDS <= HORIZON_SECONDS; minute += 1) {
      if (random.next() < fails) failed += 1;
      if (failed >= threshold) {
        at = minute * FLAGGER_INTERVAL_SECONDS;
        break;
      }
    }
    seconds.push(at);
    requests.push(at * canaryRps);
  }
  return { requests, seconds };
}

/** The smallest threshold whose false-rollback rate on a healthy canary is at most the bound. */
function tunedThreshold(canaryRps: number): number | undefined {
  const checks = HORIZON_SECONDS / FLAGGER_INTERVAL_SECONDS;
  const fails = flaggerCheckFails(canaryRps, BASELINE_ERRORS);
  for (let threshold = 1; threshold <= checks; threshold += 1) {
    if (atLeast(checks, fails, threshold) <= BOUND) return threshold;
  }
  return undefined;
}

const show = (value: number): string => (Number.isFinite(value) ? String(Math.round(value)) : 'never');
const pair = (figures: Figures): string =>
  `${show(quantile(figures.requests, 0.5))}/${show(quantile(figures.requests, 0.9))} req ${show(quantile(figures.seconds, 0.5))}/${show(quantile(figures.seconds, 0.9))} s`;
const rate = (figures: Figures): string => `${(rolledBack(figures) * 100).toFixed(1)}%`;

export interface JudgeBenchRow {
  readonly scenario: string;
  readonly judge: string;
  readonly flagger: string;
  readonly tuned: string;
}

export function benchJudge(
  options: { readonly runs?: number; readonly seed?: number; readonly print?: (line: string) => void } = {},
): JudgeBenchRow[] {
  const runs = options.runs ?? 1000;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const random = seededRandom(options.seed ?? 20_261_206);
  const noHold = '"errors": {"margin": 1.5, "detect": 0}';
  const defaults = parseJudgeSettings(`{${noHold}}`);
  const withMedian = parseJudgeSettings(`{${noHold}, "latency": [{"quantile": 0.5, "margin": 1.1}]}`);
  const rows: JudgeBenchRow[] = [];
  print(
    `\nsequential judge against Flagger's rule (${runs} seeded runs per row, 30-minute analysis; median/p90 canary requests and seconds to the rollback decision; rollback rate)`,
  );
  print(
    `${'scenario'.padEnd(44)} ${'judge'.padEnd(36)} ${`Flagger (threshold ${FLAGGER_THRESHOLD})`.padEnd(36)} Flagger (tuned to ≤5% false rollbacks)`,
  );
  const emit = (row: JudgeBenchRow) => {
    rows.push(row);
    print(`${row.scenario.padEnd(44)} ${row.judge.padEnd(36)} ${row.flagger.padEnd(36)} ${row.tuned}`);
  };
  for (const canaryRps of [1, 10, 100]) {
    const tuned = tunedThreshold(canaryRps);
    for (const weight of [0.05, 0.5]) {
      const primaryRps = (canaryRps * (1 - weight)) / weight;
      const primary: ArmModel = { rps: primaryRps, errorRate: BASELINE_ERRORS, ...LATENCY };
      for (const errorRate of [0.05, 0.01, 0.005, 0.001]) {
        const canary: ArmModel = { rps: canaryRps, errorRate, ...LATENCY };
        const judged = judgeFigures(random, runs, defaults, canary, primary);
        const flagger = flaggerFigures(random, runs, canaryRps, errorRate, FLAGGER_THRESHOLD);
        const flaggerTuned =
          tuned === undefined ? undefined : flaggerFigures(random, runs, canaryRps, errorRate, tuned);
        const figures = (f: Figures) => `${pair(f)} ${rate(f)}`;
        emit({
          scenario: `${canaryRps} rps, ${weight * 100}% weight, errors 0.1% → ${errorRate * 100}%${errorRate === BASELINE_ERRORS ? ' (healthy)' : ''}`,
          judge: figures(judged),
          flagger: figures(flagger),
          tuned:
            flaggerTuned === undefined ? 'no threshold reaches 5%' : `thr ${tuned}: ${figures(flaggerTuned)}`,
        });
      }
    }
    const primary: ArmModel = { rps: canaryRps * 19, errorRate: BASELINE_ERRORS, ...LATENCY };
    for (const [label, settings] of [
      ['median', withMedian],
      ['p99', defaults],
    ] as const) {
      for (const slower of [0.5, 0.1, 0]) {
        const canary: ArmModel = {
          rps: canaryRps,
          errorRate: BASELINE_ERRORS,
          median: LATENCY.median * (1 + slower),
          sigma: LATENCY.sigma,
        };
        const judged = judgeFigures(random, runs, settings, canary, primary);
        emit({
          scenario: `${canaryRps} rps, 5% weight, latency +${slower * 100}% (${label})`,
          judge: `${pair(judged)} ${rate(judged)}`,
          flagger: 'n/a (absolute threshold)',
          tuned: '',
        });
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchJudge({ runs: Number(process.env['VIREO_BENCH_JUDGE_RUNS'] ?? 1000) });
}
