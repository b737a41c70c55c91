/**
 * The sequential judge (docs/judge.md): one check, added beside Flagger's, that compares the
 * canary with the primary on the same traffic from the start of the revision's analysis, and
 * answers fail (shown worse than the margin: roll back now), inconclusive (hold the weight:
 * not enough canary requests yet to have caught the regression `errors.detect` names) or pass.
 *
 * The evidence is a function of the per-arm counts since the analysis start, which the status
 * keeps (the `Analysing` condition): nothing else needs to survive a restart, and a new revision
 * starts from zero because its analysis starts anew (docs/adr/0033-sequential-judge.md).
 */
import type { Canary } from '../../api/schema/canary.js';
import { formatKey, keyOf } from '../ports.js';
import type { ArmObservations, ArmTraffic, Check, CheckContext, CheckKind, CheckOutcome } from '../checks.js';
import { JudgeSettingsError, judgeEnabled, judgeSettingsOf, type JudgeSettings } from './config.js';
import {
  canaryRequestsToDetect,
  lnEvidenceNotWorse,
  lnEvidenceWorse,
  ratioInterval,
  trafficShare,
  type RatioInterval,
  type ShareCounts,
} from './statistics.js';

export const JUDGE_CHECK = 'judge';

export type MetricFinding = 'worse' | 'not-worse' | 'undecided';

export interface MetricJudgement {
  /** `error-rate`, or `latency-p99` (the quantile). */
  readonly metric: string;
  readonly margin: number;
  readonly counts: ShareCounts;
  /** What an event is here: "errors", or "requests slower than 0.25s". */
  readonly events: string;
  /** The canary's rate over the primary's (Infinity when only the canary has events, NaN when neither has). */
  readonly estimate: number;
  readonly interval: RatioInterval;
  /** The e-value against "not worse than the margin". */
  readonly evidence: number;
  /** The e-value this metric must reach: metrics / bound. */
  readonly limit: number;
  readonly finding: MetricFinding;
}

export interface JudgeDecision {
  readonly verdict: 'pass' | 'fail' | 'inconclusive';
  readonly metrics: readonly MetricJudgement[];
  /** Canary requests still needed before a step may pass (inconclusive only). */
  readonly needCanaryRequests?: number;
  /** The same at the canary's current request rate, in seconds (when it has a rate). */
  readonly needSeconds?: number;
  /** Why the judge holds, or why a metric was left out. */
  readonly notes: readonly string[];
}

/**
 * Decides on the traffic since the analysis start. `plannedShare` is the canary's share to plan
 * with while it has served nothing (its weight / 100).
 */
export function judgeTraffic(
  settings: JudgeSettings,
  traffic: ArmTraffic,
  plannedShare: number,
  /** `intervals: false` leaves the intervals unbounded (simulations, which need only the verdict). */
  options: { readonly intervals?: boolean } = {},
): JudgeDecision {
  const metricCount = (settings.errors === undefined ? 0 : 1) + settings.latency.length;
  const limit = metricCount / settings.bound;
  const alpha = settings.bound / metricCount;
  const notes: string[] = [];
  const metrics: MetricJudgement[] = [];

  const judge = (metric: string, events: string, counts: ShareCounts, margin: number): MetricJudgement => {
    const evidence = Math.exp(lnEvidenceWorse(counts, margin));
    const notWorse = Math.exp(lnEvidenceNotWorse(counts, margin));
    const canaryRate = counts.canaryRequests === 0 ? 0 : counts.canaryEvents / counts.canaryRequests;
    const primaryRate = counts.primaryRequests === 0 ? 0 : counts.primaryEvents / counts.primaryRequests;
    return {
      metric,
      margin,
      counts,
      events,
      estimate: primaryRate === 0 ? (canaryRate === 0 ? Number.NaN : Infinity) : canaryRate / primaryRate,
      interval: options.intervals === false ? { lower: 0, upper: Infinity } : ratioInterval(counts, alpha),
      evidence,
      limit,
      finding: evidence >= limit ? 'worse' : notWorse >= limit ? 'not-worse' : 'undecided',
    };
  };

  const { canary, primary } = traffic;
  if (settings.errors !== undefined) {
    metrics.push(
      judge(
        'error-rate',
        'errors',
        {
          canaryEvents: canary.errors,
          canaryRequests: canary.requests,
          primaryEvents: primary.errors,
          primaryRequests: primary.requests,
        },
        settings.errors.margin,
      ),
    );
  }
  for (const latency of settings.latency) {
    const name = `latency-p${trimNumber(latency.quantile * 100)}`;
    const bound = quantileBucket(primary, latency.quantile);
    if (bound === undefined) {
      notes.push(
        primary.requests === 0
          ? `${name}: the primary has served no requests yet`
          : `${name}: the primary's p${trimNumber(latency.quantile * 100)} is above the last latency bucket, so no slower requests can be counted`,
      );
      continue;
    }
    metrics.push(
      judge(
        name,
        `requests slower than ${trimNumber(bound)}s`,
        {
          canaryEvents: slowerThan(canary, bound),
          canaryRequests: canary.requests,
          primaryEvents: slowerThan(primary, bound),
          primaryRequests: primary.requests,
        },
        latency.margin,
      ),
    );
  }

  if (metrics.some((metric) => metric.finding === 'worse')) return { verdict: 'fail', metrics, notes };

  if (settings.errors !== undefined && settings.errors.detect > 0) {
    const observedShare = trafficShare({
      canaryEvents: 0,
      canaryRequests: canary.requests,
      primaryEvents: 0,
      primaryRequests: primary.requests,
    });
    const rho = canary.requests > 0 && primary.requests > 0 ? observedShare : plannedShare;
    const primaryRate = primary.requests === 0 ? 0 : primary.errors / primary.requests;
    const needed = canaryRequestsToDetect({
      canaryRate: settings.errors.detect,
      primaryRate,
      rho,
      margin: settings.errors.margin,
      lnLimit: Math.log(limit),
    });
    const errorMetric = metrics[0];
    if (Number.isFinite(needed) && canary.requests < needed && errorMetric?.finding !== 'not-worse') {
      const more = needed - canary.requests;
      const seconds = (traffic.to.getTime() - traffic.from.getTime()) / 1000;
      const rate = seconds > 0 ? canary.requests / seconds : 0;
      notes.push(
        `to catch a canary error rate of ${percent(settings.errors.detect)} (${trimNumber(settings.errors.margin)}× margin)`,
      );
      return {
        verdict: 'inconclusive',
        metrics,
        needCanaryRequests: more,
        ...(rate > 0 ? { needSeconds: Math.ceil(more / rate) } : {}),
        notes,
      };
    }
    if (!Number.isFinite(needed) && settings.errors.detect <= settings.errors.margin * primaryRate) {
      notes.push(
        `errors.detect ${percent(settings.errors.detect)} is within the margin of the primary's own error rate ${percent(primaryRate)}: nothing to wait for`,
      );
    }
  }
  return { verdict: 'pass', metrics, notes };
}

/** The judge as a check of the engine. */
export class SequentialJudge implements Check {
  readonly name = JUDGE_CHECK;

  constructor(private readonly settingsOf: (canary: Canary) => JudgeSettings | undefined = judgeSettingsOf) {}

  async evaluate(context: CheckContext): Promise<CheckOutcome> {
    const { canary, ports } = context;
    const name = formatKey(keyOf(canary));
    let settings: JudgeSettings | undefined;
    try {
      settings = this.settingsOf(canary);
    } catch (cause) {
      const message = cause instanceof JudgeSettingsError ? cause.message : String(cause);
      return { check: this.name, verdict: 'fail', message: `Halt ${name} advancement judge: ${message}` };
    }
    if (settings === undefined) {
      return { check: this.name, verdict: 'pass', message: 'judge: not enabled' };
    }
    if (ports.observations === undefined) {
      return {
        check: this.name,
        verdict: 'fail',
        message: `Halt ${name} advancement judge: this platform has no per-arm observations for ${canary.spec.provider ?? 'its router'} (docs/judge.md "Where the counts come from")`,
      };
    }
    let traffic: ArmTraffic;
    try {
      traffic = await ports.observations.observe(canary, context.analysisStartedAt);
    } catch (cause) {
      const text = cause instanceof Error ? cause.message : String(cause);
      return {
        check: this.name,
        verdict: 'fail',
        message: `Halt ${name} advancement judge: per-arm observations failed: ${text}`,
        evidence: { error: text },
      };
    }
    const plannedShare = Math.min(Math.max((canary.status?.canaryWeight ?? 0) / 100, 0), 1);
    const decision = judgeTraffic(settings, traffic, plannedShare);
    return {
      check: this.name,
      verdict: decision.verdict,
      ...(decision.verdict === 'fail' ? { decisive: true } : {}),
      message: describeDecision(name, settings, decision),
      evidence: {
        bound: settings.bound,
        from: traffic.from.toISOString(),
        to: traffic.to.toISOString(),
        metrics: decision.metrics.map((metric) => ({
          metric: metric.metric,
          events: metric.events,
          canary: { requests: metric.counts.canaryRequests, events: metric.counts.canaryEvents },
          primary: { requests: metric.counts.primaryRequests, events: metric.counts.primaryEvents },
          margin: metric.margin,
          estimate: jsonNumber(metric.estimate),
          interval: [jsonNumber(metric.interval.lower), jsonNumber(metric.interval.upper)],
          evidence: jsonNumber(metric.evidence),
          limit: metric.limit,
          finding: metric.finding,
        })),
        ...(decision.needCanaryRequests === undefined
          ? {}
          : { needCanaryRequests: decision.needCanaryRequests }),
        ...(decision.needSeconds === undefined ? {} : { needSeconds: decision.needSeconds }),
        ...(decision.notes.length === 0 ? {} : { notes: decision.notes }),
      },
    };
  }
}

/** The judge's check kind: one judge check for each canary that enables it. */
export const JUDGE_CHECKS: CheckKind = {
  name: 'judge',
  forCanary: (canary) => (judgeEnabled(canary) ? [new SequentialJudge()] : []),
};

/** The decision in words, with the counts, the estimate and its interval, the evidence and the bound. */
export function describeDecision(name: string, settings: JudgeSettings, decision: JudgeDecision): string {
  const metricCount = (settings.errors === undefined ? 0 : 1) + settings.latency.length;
  const bound = `false-rollback bound ${percent(settings.bound)} over ${metricCount} metric(s)`;
  const details = decision.metrics.map(describeMetric).join('; ');
  switch (decision.verdict) {
    case 'fail': {
      const worse = decision.metrics
        .filter((metric) => metric.finding === 'worse')
        .map((metric) => metric.metric);
      return `Halt ${name} advancement judge: canary ${worse.join(' and ')} shown worse than the margin: ${details} (${bound})`;
    }
    case 'inconclusive': {
      const time =
        decision.needSeconds === undefined
          ? 'no canary traffic yet to time it'
          : `about ${duration(decision.needSeconds)} at the current rate`;
      return `Holding ${name} at its weight: judge needs about ${decision.needCanaryRequests} more canary requests (${time}) ${decision.notes.at(-1) ?? ''}; so far ${details || 'no counts'} (${bound})`;
    }
    case 'pass':
      return `judge: nothing shown worse than the margin: ${details || 'no counts yet'} (${bound})`;
  }
}

function describeMetric(metric: MetricJudgement): string {
  const { counts } = metric;
  const interval = `[${ratio(metric.interval.lower)}, ${ratio(metric.interval.upper)}]`;
  return (
    `${metric.metric} canary ${counts.canaryEvents}/${counts.canaryRequests} ${metric.events} against primary ${counts.primaryEvents}/${counts.primaryRequests}, ` +
    `ratio ${ratio(metric.estimate)} interval ${interval} (margin ${trimNumber(metric.margin)}), evidence ${evidenceText(metric.evidence)} of ${trimNumber(metric.limit)} needed`
  );
}

/** The bucket bound at the primary's quantile: the smallest finite bound holding at least that share. */
export function quantileBucket(arm: ArmObservations, quantile: number): number | undefined {
  if (arm.requests === 0) return undefined;
  const bounds = Object.keys(arm.latencyBuckets)
    .map(Number)
    .filter((bound) => Number.isFinite(bound))
    .sort((a, b) => a - b);
  return bounds.find((bound) => (countAtOrBelow(arm, bound) ?? 0) >= quantile * arm.requests);
}

function countAtOrBelow(arm: ArmObservations, bound: number): number | undefined {
  const entry = Object.entries(arm.latencyBuckets).find(([key]) => Number(key) === bound);
  return entry?.[1];
}

function slowerThan(arm: ArmObservations, bound: number): number {
  return Math.max(0, arm.requests - (countAtOrBelow(arm, bound) ?? 0));
}

const trimNumber = (value: number): string => String(Number(value.toPrecision(4)));
const percent = (share: number): string => `${trimNumber(share * 100)}%`;
const ratio = (value: number): string =>
  Number.isNaN(value) ? 'unknown' : Number.isFinite(value) ? trimNumber(value) : '∞';
const evidenceText = (value: number): string =>
  !Number.isFinite(value) ? '∞' : value >= 1e6 ? value.toExponential(2) : trimNumber(value);
const jsonNumber = (value: number): number | string => (Number.isFinite(value) ? value : String(value));

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
