import { describe, expect, it } from 'vitest';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import { hpaNameOf, primaryHpa } from './autoscaler.js';
import { testCanary } from './test-fixtures.test-helper.js';
import type { HorizontalPodAutoscaler } from './types.js';

const target: HorizontalPodAutoscaler = {
  metadata: {
    name: 'podinfo',
    namespace: 'test',
    labels: { 'app.kubernetes.io/name': 'podinfo', team: 'a' },
    annotations: { 'kustomize.toolkit.fluxcd.io/checksum': 'x', note: 'y' },
  },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    minReplicas: 2,
    maxReplicas: 4,
    metrics: [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
      },
    ],
    behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
  },
};

const hpaRef = (extra: object = {}) => ({
  autoscalerRef: {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler' as const,
    name: 'podinfo',
    ...extra,
  },
});

describe('primaryHpa', () => {
  it('given a target HPA, when copied, then it scales <t>-primary with the same bounds, metrics and behavior, owned by the Canary', () => {
    const options = { ...DEFAULT_PLATFORM_OPTIONS, includeLabelPrefix: ['app.kubernetes.io'] };
    const primary = primaryHpa(target, testCanary(hpaRef()), options);
    expect(primary.metadata).toMatchObject({
      name: 'podinfo-primary',
      labels: { 'app.kubernetes.io/name': 'podinfo' },
      annotations: { note: 'y' },
      ownerReferences: [{ kind: 'Canary', name: 'podinfo', uid: 'canary-uid', controller: true }],
    });
    expect(primary.spec).toEqual({
      ...target.spec,
      scaleTargetRef: { ...target.spec.scaleTargetRef, name: 'podinfo-primary' },
    });
  });

  it('given primaryScalerReplicas, when copied, then they override min and max', () => {
    const canary = testCanary(hpaRef({ primaryScalerReplicas: { minReplicas: 3, maxReplicas: 9 } }));
    expect(primaryHpa(target, canary, DEFAULT_PLATFORM_OPTIONS).spec).toMatchObject({
      minReplicas: 3,
      maxReplicas: 9,
    });
  });
});

describe('hpaNameOf', () => {
  it('given no autoscalerRef or a KEDA ScaledObject, then undefined; given an HPA, then its name', () => {
    expect(hpaNameOf(testCanary())).toBeUndefined();
    expect(hpaNameOf(testCanary(hpaRef()))).toBe('podinfo');
    const keda = testCanary({
      autoscalerRef: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'so' },
    });
    expect(hpaNameOf(keda)).toBeUndefined();
  });
});
