/** Status write rules (docs/flagger-compatibility.md#14-canary-status and docs/flagger-compatibility.md#21-one-tick "Status write rules"). */
import type { CanaryPhase, CanaryStatus } from '../api/schema/canary.js';

type Condition = NonNullable<CanaryStatus['conditions']>[number];

const PROMOTED = 'Promoted';

/** Phases that keep their weight and iterations; every other phase zeroes them. */
const KEEPS_PROGRESS: ReadonlySet<CanaryPhase> = new Set(['Progressing', 'Waiting', 'Promoting']);

function conditionMessage(phase: CanaryPhase, kind: string): string {
  switch (phase) {
    case 'Initializing':
      return `New ${kind} detected, starting initialization.`;
    case 'Initialized':
      return `${kind} initialization completed.`;
    case 'Waiting':
    case 'WaitingPromotion':
      return 'Waiting for approval.';
    case 'Progressing':
      return 'New revision detected, progressing canary analysis.';
    case 'Promoting':
      return 'Canary analysis completed, starting primary rolling update.';
    case 'Finalising':
      return 'Canary analysis completed, routing all traffic to primary.';
    case 'Succeeded':
      return 'Canary analysis completed successfully, promotion finished.';
    case 'Failed':
      return `Canary analysis failed, ${kind} scaled to zero.`;
    default:
      return '';
  }
}

function conditionStatus(phase: CanaryPhase): 'True' | 'False' | 'Unknown' {
  if (phase === 'Initialized' || phase === 'Succeeded') return 'True';
  return phase === 'Failed' ? 'False' : 'Unknown';
}

/** Kubernetes times have whole seconds. */
export function kubernetesTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** The single `Promoted` condition, rewritten only when its status or reason changes. */
export function promotedCondition(
  previous: readonly Condition[] | undefined,
  phase: CanaryPhase,
  kind: string,
  now: Date,
): Condition[] {
  const current = previous?.find((condition) => condition.type === PROMOTED);
  const status = conditionStatus(phase);
  if (current !== undefined && current.status === status && current.reason === phase)
    return [...(previous ?? [])];
  const time = kubernetesTime(now);
  const condition: Condition = {
    type: PROMOTED,
    status,
    reason: phase,
    message: conditionMessage(phase, kind),
    lastUpdateTime: time,
    // The transition time moves only when the status itself changes.
    lastTransitionTime:
      current !== undefined && current.status === status ? (current.lastTransitionTime ?? time) : time,
  };
  return replaceCondition(previous, condition);
}

/** `previous` with `condition` in place of the one of its type (first when there was none). */
function replaceCondition(previous: readonly Condition[] | undefined, condition: Condition): Condition[] {
  const list = [...(previous ?? [])];
  const index = list.findIndex((other) => other.type === condition.type);
  if (index >= 0) list[index] = condition;
  else if (condition.type === PROMOTED) list.unshift(condition);
  else list.push(condition);
  return list;
}

/**
 * Vireo's own condition: `True` from the start of a revision's analysis, its lastTransitionTime
 * the moment that analysis started; `False` once the run ended. A status field would be pruned
 * by Flagger's CRD, a condition survives it (docs/adr/0019-one-engine-assembly-and-the-judge-seam.md).
 */
export const ANALYSING = 'Analysing';

/** Phases that end a revision's run: the analysis is no longer going on. */
const ENDS_ANALYSIS: ReadonlySet<CanaryPhase> = new Set(['Succeeded', 'Failed', 'Terminating', 'Terminated']);

/** The status with the analysis of `revision` starting `now` (a new revision restarts it). */
export function analysisStarted(status: CanaryStatus, revision: string, now: Date): CanaryStatus {
  const time = kubernetesTime(now);
  return {
    ...status,
    conditions: replaceCondition(status.conditions, {
      type: ANALYSING,
      status: 'True',
      reason: 'Started',
      message: `Analysis of revision ${revision} started.`,
      lastUpdateTime: time,
      lastTransitionTime: time,
    }),
  };
}

/** When the analysis under way started, or undefined when none is recorded as running. */
export function analysisStartedAt(status: CanaryStatus): Date | undefined {
  const condition = status.conditions?.find((candidate) => candidate.type === ANALYSING);
  if (condition?.status !== 'True' || condition.lastTransitionTime === undefined) return undefined;
  const time = new Date(condition.lastTransitionTime);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

function analysisEnded(conditions: Condition[], phase: CanaryPhase, now: Date): Condition[] {
  const current = conditions.find((condition) => condition.type === ANALYSING);
  if (current === undefined || current.status !== 'True' || !ENDS_ANALYSIS.has(phase)) return conditions;
  const time = kubernetesTime(now);
  return replaceCondition(conditions, {
    type: ANALYSING,
    status: 'False',
    reason: phase,
    message: `Analysis ended: ${phase}.`,
    lastUpdateTime: time,
    lastTransitionTime: time,
  });
}

export interface PhaseChange {
  readonly phase: CanaryPhase;
  readonly kind: string;
  readonly now: Date;
  /** spec.analysis.iterations, for WaitingPromotion. */
  readonly specIterations: number;
}

/** Flagger's setStatusPhase: phase, time, counters per phase, promoted spec, condition. */
export function withPhase(status: CanaryStatus, change: PhaseChange): CanaryStatus {
  const next: CanaryStatus = {
    ...status,
    phase: change.phase,
    // Flagger's status always carries the counter (a plain int), 0 from the first write on.
    failedChecks: status.failedChecks ?? 0,
    lastTransitionTime: kubernetesTime(change.now),
  };
  if (change.phase === 'WaitingPromotion') {
    next.canaryWeight = 0;
    next.iterations = Math.max(0, change.specIterations - 1);
  } else if (!KEEPS_PROGRESS.has(change.phase)) {
    next.canaryWeight = 0;
    next.iterations = 0;
  }
  if (change.phase === 'Initialized' || change.phase === 'Succeeded')
    next.lastPromotedSpec = next.lastAppliedSpec;
  next.conditions = analysisEnded(
    promotedCondition(status.conditions, change.phase, change.kind, change.now),
    change.phase,
    change.now,
  );
  return next;
}
