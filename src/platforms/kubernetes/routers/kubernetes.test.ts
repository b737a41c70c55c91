import { describe, expect, it } from 'vitest';
import { newTestCanary } from './fixtures.test-helper.js';
import { KubernetesRouter } from './kubernetes.js';

describe('the kubernetes router (docs/flagger-compatibility.md#32-routers)', () => {
  const router = new KubernetesRouter();

  it('given no iteration yet, when reading routes, then all traffic is on the primary', async () => {
    expect(await router.getRoutes(newTestCanary())).toEqual({
      primaryWeight: 100,
      canaryWeight: 0,
      mirrored: false,
    });
    expect(await router.getRoutes(newTestCanary({}, { iterations: 0 }))).toMatchObject({
      primaryWeight: 100,
    });
  });

  it('given iterations in status, when reading routes, then the routes are 0/100', async () => {
    expect(await router.getRoutes(newTestCanary({}, { iterations: 1 }))).toEqual({
      primaryWeight: 0,
      canaryWeight: 100,
      mirrored: false,
    });
  });

  it('given any routes, when setting, reconciling or finalizing, then it resolves without effect', async () => {
    const canary = newTestCanary();
    await expect(router.reconcile()).resolves.toBeUndefined();
    await expect(router.setRoutes()).resolves.toBeUndefined();
    await expect(router.finalize()).resolves.toBeUndefined();
    expect(await router.getRoutes(canary)).toMatchObject({ canaryWeight: 0 });
  });
});
