/** Status write rules (docs/flagger-compatibility.md#14-canary-status and docs/flagger-compatibility.md#21-one-tick "Status write rules"). */
import type { CanaryPhase, CanaryStatus } from '../api/schema/canary.js';

type Condition = NonNullable<CanaryStatus['conditions']>[number];

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
  const current = previous?.find((condition) => condition.type === 'Promoted');
  const status = conditionStatus(phase);
  if (current !== undefined && current.status === status && current.reason === phase)
    return [...(previous ?? [])];
  const time = kubernetesTime(now);
  const condition: Condition = {
    type: 'Promoted',
    status,
    reason: phase,
    message: conditionMessage(phase, kind),
    lastUpdateTime: time,
    // The transition time moves only when the status itself changes.
    lastTransitionTime:
      current !== undefined && current.status === status ? (current.lastTransitionTime ?? time) : time,
  };
  return [...(previous ?? []).filter((other) => other.type !== 'Promoted'), condition];
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
  next.conditions = promotedCondition(status.conditions, change.phase, change.kind, change.now);
  return next;
}
