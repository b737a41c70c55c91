import { describe, expect, it } from 'vitest';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import { autoscalerOf } from './autoscalers.js';
import { PAUSED_REPLICAS_ANNOTATION, primaryQuery, primaryScaledObject } from './keda.js';
import { testCanary } from './test-fixtures.test-helper.js';
import type { ScaledObject } from './types.js';

const target: ScaledObject = {
  metadata: {
    name: 'podinfo-so',
    namespace: 'test',
    labels: { 'app.kubernetes.io/name': 'podinfo', team: 'a' },
    annotations: {
      [PAUSED_REPLICAS_ANNOTATION]: '0',
      note: 'y',
      'kustomize.toolkit.fluxcd.io/checksum': 'x',
    },
  },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    pollingInterval: 10,
    cooldownPeriod: 20,
    idleReplicaCount: 0,
    minReplicaCount: 2,
    maxReplicaCount: 5,
    fallback: { failureThreshold: 3, replicas: 2 },
    advanced: {
      restoreToOriginalReplicaCount: true,
      horizontalPodAutoscalerConfig: { name: 'podinfo-hpa', behavior: { scaleDown: {} } },
    },
    triggers: [
      {
        type: 'prometheus',
        name: 'rps',
        metadata: {
          serverAddress: 'http://prometheus:9090',
          query: 'sum(rate(http_requests_total{deployment="podinfo-canary"}[1m]))',
          threshold: '100',
        },
      },
      {
        type: 'prometheus',
        name: 'latency',
        metadata: { query: 'histogram_quantile(0.99, rate(x{app="podinfo"}[1m]))', threshold: '1' },
      },
      { type: 'cpu', metricType: 'Utilization', metadata: { value: '80' } },
    ],
  },
};

const kedaRef = (extra: object = {}) => ({
  autoscalerRef: {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject' as const,
    name: 'podinfo-so',
    ...extra,
  },
});

describe('primaryQuery', () => {
  it('points the target and its canary at the primary, leaving other names alone', () => {
    expect(primaryQuery('rate(x{deployment="podinfo"}[1m])', 'podinfo')).toBe(
      'rate(x{deployment="podinfo-primary"}[1m])',
    );
    expect(primaryQuery('x{d="podinfo-canary"} + y{d="podinfo-primary"}', 'podinfo')).toBe(
      'x{d="podinfo-primary"} + y{d="podinfo-primary"}',
    );
    expect(primaryQuery('x{d="podinfo-other", e="mypodinfo"}', 'podinfo')).toBe(
      'x{d="podinfo-other", e="mypodinfo"}',
    );
  });
});

describe('primaryScaledObject', () => {
  it('copies the settings and triggers to <so>-primary scaling <t>-primary, unpaused and owned by the Canary', () => {
    const options = { ...DEFAULT_PLATFORM_OPTIONS, includeLabelPrefix: ['app.kubernetes.io'] };
    const primary = primaryScaledObject(target, testCanary(kedaRef()), options);
    expect(primary.metadata).toMatchObject({
      name: 'podinfo-so-primary',
      labels: { 'app.kubernetes.io/name': 'podinfo' },
      annotations: { note: 'y' },
      ownerReferences: [{ kind: 'Canary', name: 'podinfo', controller: true }],
    });
    expect(primary.metadata.annotations).not.toHaveProperty(PAUSED_REPLICAS_ANNOTATION);
    expect(primary.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo-primary' },
      pollingInterval: 10,
      cooldownPeriod: 20,
      idleReplicaCount: 0,
      minReplicaCount: 2,
      maxReplicaCount: 5,
      fallback: { failureThreshold: 3, replicas: 2 },
      advanced: {
        restoreToOriginalReplicaCount: true,
        horizontalPodAutoscalerConfig: { name: 'podinfo-hpa-primary', behavior: { scaleDown: {} } },
      },
    });
    expect(primary.spec.triggers.map((trigger) => trigger.metadata?.query)).toEqual([
      'sum(rate(http_requests_total{deployment="podinfo-primary"}[1m]))',
      'histogram_quantile(0.99, rate(x{app="podinfo-primary"}[1m]))',
      undefined,
    ]);
    expect(primary.spec.triggers[2]).toEqual(target.spec.triggers[2]);
  });

  it('uses primaryScalerQueries by trigger name and primaryScalerReplicas over the copies', () => {
    const canary = testCanary(
      kedaRef({
        primaryScalerQueries: { rps: 'sum(rate(custom{d="podinfo-primary"}[2m]))' },
        primaryScalerReplicas: { minReplicas: 3, maxReplicas: 9 },
      }),
    );
    const primary = primaryScaledObject(target, canary, DEFAULT_PLATFORM_OPTIONS);
    expect(primary.spec.triggers[0]?.metadata?.query).toBe('sum(rate(custom{d="podinfo-primary"}[2m]))');
    expect(primary.spec).toMatchObject({ minReplicaCount: 3, maxReplicaCount: 9 });
  });
});

describe('autoscalerOf', () => {
  it('picks the KEDA or HPA member by kind, none without autoscalerRef, and refuses other kinds by name', () => {
    expect(autoscalerOf(testCanary())).toBeUndefined();
    expect(autoscalerOf(testCanary(kedaRef()))?.kind).toBe('ScaledObject');
    const hpa = testCanary({
      autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'h' },
    });
    expect(autoscalerOf(hpa)?.kind).toBe('HorizontalPodAutoscaler');
    const other = testCanary({
      autoscalerRef: { apiVersion: 'x/v1', kind: 'VerticalPodAutoscaler' as 'ScaledObject', name: 'v' },
    });
    expect(() => autoscalerOf(other)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_AUTOSCALER' }));
    expect(() => autoscalerOf(other)).toThrow(
      /VerticalPodAutoscaler.*HorizontalPodAutoscaler or ScaledObject/,
    );
  });
});
