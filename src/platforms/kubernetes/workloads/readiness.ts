/**
 * Readiness decisions of docs/flagger-compatibility.md#25-readiness-and-progress-deadline, from status objects alone (pure, so they are tested on
 * hand-written statuses): when waiting helps (retriable) and when the deadline says give up.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import type { Readiness } from '../../../engine/ports.js';
import type { DaemonSet, Deployment, WorkloadCondition } from './types.js';

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
const DEFAULT_READY_THRESHOLD = 100;

export interface ReadinessSettings {
  /** % of replicas that must be available (primaryReadyThreshold / canaryReadyThreshold). */
  readonly thresholdPercent: number;
  /** The canary's progressDeadlineSeconds. */
  readonly deadlineSeconds: number;
  readonly now: Date;
}

export function readinessSettings(canary: Canary, side: 'primary' | 'canary', now: Date): ReadinessSettings {
  const analysis = analysisOf(canary.spec);
  const threshold = side === 'primary' ? analysis?.primaryReadyThreshold : analysis?.canaryReadyThreshold;
  return {
    thresholdPercent: threshold !== undefined && threshold > 0 ? threshold : DEFAULT_READY_THRESHOLD,
    deadlineSeconds: canary.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
    now,
  };
}

const READY: Readiness = { ready: true };
const waiting = (retriable: boolean, reason: string): Readiness => ({ ready: false, retriable, reason });

const conditionOf = (conditions: readonly WorkloadCondition[] | undefined, type: string) =>
  conditions?.find((condition) => condition.type === type);

function deadlinePassed(since: string | undefined, settings: ReadinessSettings): boolean {
  if (since === undefined) return false;
  const start = Date.parse(since);
  return !Number.isNaN(start) && start + settings.deadlineSeconds * 1000 < settings.now.getTime();
}

export function deploymentReadiness(deployment: Deployment, settings: ReadinessSettings): Readiness {
  const status = deployment.status ?? {};
  if ((deployment.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return waiting(
      true,
      'waiting for rollout to finish: observed deployment generation less than desired generation',
    );
  }
  const progressing = conditionOf(status.conditions, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return waiting(false, `deployment "${deployment.metadata.name}" exceeded its progress deadline`);
  }
  // Unavailable for longer than the canary's deadline: waiting more will not help.
  const available = conditionOf(status.conditions, 'Available');
  const stuck =
    progressing !== undefined &&
    available?.status === 'False' &&
    available.reason === 'MinimumReplicasUnavailable' &&
    deadlinePassed(available.lastUpdateTime, settings);
  const desired = deployment.spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  if (updated < desired) {
    return waiting(
      !stuck,
      `waiting for rollout to finish: ${updated} out of ${desired} new replicas have been updated`,
    );
  }
  if (total > updated) {
    return waiting(
      !stuck,
      `waiting for rollout to finish: ${total - updated} old replicas are pending termination`,
    );
  }
  const needed = Math.floor((updated * settings.thresholdPercent) / 100);
  const availableReplicas = status.availableReplicas ?? 0;
  if (availableReplicas < needed) {
    return waiting(
      !stuck,
      `waiting for rollout to finish: ${availableReplicas} of ${needed} (readyThreshold ${settings.thresholdPercent}%) updated replicas are available`,
    );
  }
  return READY;
}

/**
 * A DaemonSet has no progress conditions, so the deadline runs from the canary's own last
 * transition (`status.lastTransitionTime`).
 */
export function daemonSetReadiness(
  daemonSet: DaemonSet,
  settings: ReadinessSettings,
  since: string | undefined,
): Readiness {
  const status = daemonSet.status ?? {};
  if ((daemonSet.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return waiting(
      true,
      'waiting for rollout to finish: observed daemonset generation less than desired generation',
    );
  }
  const needed = Math.floor(((status.desiredNumberScheduled ?? 0) * settings.thresholdPercent) / 100);
  const updated = status.updatedNumberScheduled ?? 0;
  const available = status.numberAvailable ?? 0;
  let reason: string | undefined;
  if (updated < needed) {
    reason = `waiting for rollout to finish: ${updated} out of ${needed} new pods have been updated`;
  } else if (available < needed) {
    reason = `waiting for rollout to finish: ${available} of ${needed} (readyThreshold ${settings.thresholdPercent}%) updated pods are available`;
  }
  if (reason === undefined) return READY;
  if (deadlinePassed(since, settings)) {
    return waiting(
      false,
      `daemonset "${daemonSet.metadata.name}" exceeded its progressDeadlineSeconds (${settings.deadlineSeconds}): ${reason}`,
    );
  }
  return waiting(true, reason);
}
