import { describe, expect, it } from 'vitest';
import {
  daemonSetReadiness,
  deploymentReadiness,
  readinessSettings,
  type ReadinessSettings,
} from './readiness.js';
import { testCanary } from './test-fixtures.test-helper.js';
import type { DaemonSet, Deployment } from './types.js';

const now = new Date('2026-01-01T12:00:00Z');
const settings: ReadinessSettings = { thresholdPercent: 100, deadlineSeconds: 60, now };
const ago = (seconds: number): string => new Date(now.getTime() - seconds * 1000).toISOString();

function deployment(replicas: number, status: Deployment['status'], generation = 2): Deployment {
  return {
    metadata: { name: 'podinfo', generation },
    spec: { replicas, selector: {}, template: { spec: { containers: [] } } },
    status: { observedGeneration: 2, ...status },
  };
}

const unavailableSince = (seconds: number) => [
  { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
  {
    type: 'Available',
    status: 'False',
    reason: 'MinimumReplicasUnavailable',
    lastUpdateTime: ago(seconds),
  },
];

describe('readinessSettings', () => {
  it('given thresholds and a deadline on the canary, when read, then each side gets its own threshold', () => {
    const canary = testCanary({
      progressDeadlineSeconds: 120,
      analysis: {
        interval: '1m',
        threshold: 5,
        stepWeight: 10,
        primaryReadyThreshold: 50,
        canaryReadyThreshold: 80,
      },
    });
    expect(readinessSettings(canary, 'primary', now)).toEqual({
      thresholdPercent: 50,
      deadlineSeconds: 120,
      now,
    });
    expect(readinessSettings(canary, 'canary', now).thresholdPercent).toBe(80);
  });

  it('given nothing set, when read, then 100% and 600 s', () => {
    expect(readinessSettings(testCanary(), 'canary', now)).toEqual({
      thresholdPercent: 100,
      deadlineSeconds: 600,
      now,
    });
  });
});

describe('deploymentReadiness', () => {
  it('given a fully rolled out Deployment, then ready', () => {
    expect(
      deploymentReadiness(deployment(3, { replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), settings),
    ).toEqual({ ready: true });
  });

  it('given a generation not yet observed, then retriable with the generation message', () => {
    expect(deploymentReadiness(deployment(3, {}, 3), settings)).toEqual({
      ready: false,
      retriable: true,
      reason: 'waiting for rollout to finish: observed deployment generation less than desired generation',
    });
  });

  it('given ProgressDeadlineExceeded, then not retriable', () => {
    const result = deploymentReadiness(
      deployment(3, {
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
      settings,
    );
    expect(result).toMatchObject({
      ready: false,
      retriable: false,
      reason: expect.stringMatching(/progress deadline/),
    });
  });

  it('given replicas not yet updated, then the docs/flagger-compatibility.md#25-readiness-and-progress-deadline message, retriable while within the canary deadline', () => {
    const status = {
      replicas: 3,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: unavailableSince(30),
    };
    expect(deploymentReadiness(deployment(3, status), settings)).toEqual({
      ready: false,
      retriable: true,
      reason: 'waiting for rollout to finish: 1 out of 3 new replicas have been updated',
    });
  });

  it('given MinimumReplicasUnavailable for longer than the canary deadline, then not retriable', () => {
    const status = {
      replicas: 3,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: unavailableSince(61),
    };
    expect(deploymentReadiness(deployment(3, status), settings)).toMatchObject({
      ready: false,
      retriable: false,
    });
  });

  it('given old replicas pending termination, then the docs/flagger-compatibility.md#25-readiness-and-progress-deadline message', () => {
    expect(deploymentReadiness(deployment(2, { replicas: 3, updatedReplicas: 2 }), settings)).toMatchObject({
      reason: 'waiting for rollout to finish: 1 old replicas are pending termination',
      retriable: true,
    });
  });

  it('given fewer available than floor(updated × threshold), then the readyThreshold message; at the threshold, ready', () => {
    const half = { ...settings, thresholdPercent: 50 };
    expect(
      deploymentReadiness(deployment(3, { replicas: 3, updatedReplicas: 3, availableReplicas: 0 }), half),
    ).toMatchObject({
      reason: 'waiting for rollout to finish: 0 of 1 (readyThreshold 50%) updated replicas are available',
    });
    expect(
      deploymentReadiness(deployment(3, { replicas: 3, updatedReplicas: 3, availableReplicas: 1 }), half),
    ).toEqual({ ready: true });
  });

  it('given a Deployment scaled to zero, then ready', () => {
    expect(deploymentReadiness(deployment(0, {}), settings)).toEqual({ ready: true });
  });
});

describe('daemonSetReadiness', () => {
  const daemonSet = (status: DaemonSet['status'], generation = 1): DaemonSet => ({
    metadata: { name: 'agent', generation },
    spec: { selector: {}, template: { spec: { containers: [] } } },
    status: { observedGeneration: 1, ...status },
  });

  it('given every desired pod updated and available, then ready', () => {
    const status = { desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 };
    expect(daemonSetReadiness(daemonSet(status), settings, ago(1000))).toEqual({ ready: true });
  });

  it('given a generation not yet observed, then retriable', () => {
    expect(daemonSetReadiness(daemonSet({}, 2), settings, ago(1000))).toMatchObject({ retriable: true });
  });

  it('given pods not updated, then retriable within the deadline from the canary transition, not after', () => {
    const status = { desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 1 };
    expect(daemonSetReadiness(daemonSet(status), settings, ago(10))).toEqual({
      ready: false,
      retriable: true,
      reason: 'waiting for rollout to finish: 1 out of 2 new pods have been updated',
    });
    expect(daemonSetReadiness(daemonSet(status), settings, ago(61))).toMatchObject({ retriable: false });
  });

  it('given updated pods not available, then the readyThreshold message', () => {
    const status = { desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 1 };
    expect(daemonSetReadiness(daemonSet(status), settings, undefined)).toMatchObject({
      retriable: true,
      reason: 'waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated pods are available',
    });
  });
});
