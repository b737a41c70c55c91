import { describe, expect, it } from 'vitest';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import { KubernetesWorkloads } from './index.js';
import { targetKindOf } from './factory.js';
import { MapReader, testCanary } from './test-fixtures.test-helper.js';
import type { KubeClient } from '../client.js';
import { RESOURCES } from '../resources.js';

const withKind = (kind: string) =>
  testCanary({ targetRef: { apiVersion: 'v1', kind: kind, name: 'podinfo' } });

describe('targetKindOf', () => {
  it('given Deployment, DaemonSet or Service, then that kind', () => {
    for (const kind of ['Deployment', 'DaemonSet', 'Service'])
      expect(targetKindOf(withKind(kind))).toBe(kind);
  });

  it('given a Service of serving.knative.dev, then a Knative target; a core Service stays a Service', () => {
    const knative = testCanary({
      targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
    });
    expect(targetKindOf(knative)).toBe('KnativeService');
    expect(targetKindOf(withKind('Service'))).toBe('Service');
  });

  it('given Workload, then an error pointing at local mode', () => {
    expect(() => targetKindOf(withKind('Workload'))).toThrow(
      expect.objectContaining({
        code: 'E_UNSUPPORTED_TARGET',
        message: expect.stringMatching(/vireo local apply/),
      }),
    );
  });

  it('given any other kind, then E_UNSUPPORTED_TARGET naming it', () => {
    expect(() => targetKindOf(withKind('StatefulSet'))).toThrow(
      /targetRef kind StatefulSet is not supported/,
    );
  });
});

describe('KubernetesWorkloads', () => {
  it('given a Service target, then readiness is always ready and scaling sends nothing', async () => {
    const workloads = new KubernetesWorkloads({
      client: {} as KubeClient,
      reader: new MapReader(),
      options: DEFAULT_PLATFORM_OPTIONS,
    });
    const canary = withKind('Service');
    await expect(workloads.primaryReadiness(canary)).resolves.toEqual({ ready: true });
    await expect(workloads.canaryReadiness(canary)).resolves.toEqual({ ready: true });
    await expect(workloads.scaleToZero(canary)).resolves.toBeUndefined();
  });

  it("given a primary and a target mid-rollout, then the readiness reasons name them as Flagger's events do", async () => {
    const rollingOut = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'test', generation: 2 },
      spec: { replicas: 1, template: { spec: { containers: [] } } },
      status: { observedGeneration: 1 },
    });
    const reader = new MapReader()
      .put(RESOURCES.deployments, rollingOut('podinfo'))
      .put(RESOURCES.deployments, rollingOut('podinfo-primary'));
    const workloads = new KubernetesWorkloads({
      client: {} as KubeClient,
      reader,
      options: DEFAULT_PLATFORM_OPTIONS,
    });
    const waiting =
      'waiting for rollout to finish: observed deployment generation less than desired generation';
    await expect(workloads.primaryReadiness(testCanary())).resolves.toEqual({
      ready: false,
      retriable: true,
      reason: `podinfo-primary.test not ready: ${waiting}`,
    });
    await expect(workloads.canaryReadiness(testCanary())).resolves.toEqual({
      ready: false,
      retriable: true,
      reason: `canary deployment podinfo.test not ready: ${waiting}`,
    });
  });

  it('given a missing Deployment target, then E_WORKLOAD_NOT_FOUND naming it and spec.targetRef', async () => {
    const workloads = new KubernetesWorkloads({
      client: {} as KubeClient,
      reader: new MapReader(),
      options: DEFAULT_PLATFORM_OPTIONS,
    });
    await expect(workloads.revision(testCanary())).rejects.toMatchObject({
      code: 'E_WORKLOAD_NOT_FOUND',
      message: expect.stringMatching(/Deployment test\/podinfo .*spec\.targetRef/),
    });
  });

  it('given a watch cache that lags the server, then scaling decides from the server (no failed canary left running)', async () => {
    const deployment = (replicas: number) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: { replicas, template: { spec: { containers: [] } } },
    });
    // The cache still has the target at 0 replicas (its watch broke before the scale-up); the
    // server has it at 2: a rollback must still scale it down, and a new revision must not be
    // analysed on a target the server has at 0.
    const stale = new MapReader().put(RESOURCES.deployments, deployment(0));
    const patches: unknown[] = [];
    let onServer = deployment(2);
    const client = {
      get: () => Promise.resolve(structuredClone(onServer)),
      mergePatch: (
        _resource: unknown,
        _namespace: string,
        _name: string,
        patch: { spec: { replicas: number } },
      ) => {
        patches.push(patch);
        onServer = deployment(patch.spec.replicas);
        return Promise.resolve(structuredClone(onServer));
      },
    } as unknown as KubeClient;
    const workloads = new KubernetesWorkloads({ client, reader: stale, options: DEFAULT_PLATFORM_OPTIONS });
    const canary = withKind('Deployment');
    await workloads.scaleToZero(canary);
    expect(patches).toEqual([{ spec: { replicas: 0 } }]);
    stale.put(RESOURCES.deployments, deployment(2));
    await workloads.scaleFromZero(canary);
    expect(patches.at(-1)).toEqual({ spec: { replicas: 1 } });
  });
});
