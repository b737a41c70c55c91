import { describe, expect, it } from 'vitest';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import { KubernetesWorkloads } from './index.js';
import { targetKindOf } from './factory.js';
import { MapReader, testCanary } from './test-fixtures.test-helper.js';
import type { KubeClient } from '../client.js';

const withKind = (kind: string) =>
  testCanary({ targetRef: { apiVersion: 'v1', kind: kind, name: 'podinfo' } });

describe('targetKindOf', () => {
  it('given Deployment, DaemonSet or Service, then that kind', () => {
    for (const kind of ['Deployment', 'DaemonSet', 'Service'])
      expect(targetKindOf(withKind(kind))).toBe(kind);
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
});
