import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import { newTestCanary } from './fixtures.test-helper.js';
import { KUMA_TRAFFIC_ROUTES, KumaRouter, kumaRoutesOf, kumaTrafficRoute } from './kuma.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import type { MeshObject } from './mesh-objects.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

const inNamespace = (canary: Canary, namespace: string, annotations?: Record<string, string>): Canary => ({
  ...canary,
  metadata: { ...canary.metadata, namespace, ...(annotations === undefined ? {} : { annotations }) },
});

describe('kuma TrafficRoute (docs/routers/kuma.md)', () => {
  it('given podinfo on port 80 in test, when building at 90/10, then Kuma service names and the split are as Flagger writes them', () => {
    const route = kumaTrafficRoute(newTestCanary(), routes(90, 10));
    expect(route.mesh).toBe('default');
    expect(route.metadata).toEqual({
      name: 'podinfo',
      annotations: {
        'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
        'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
        'vireo.dev/canary': 'podinfo.test',
      },
    });
    expect(route.spec).toEqual({
      sources: [{ match: { 'kuma.io/service': '*' } }],
      destinations: [{ match: { 'kuma.io/service': 'podinfo_test_svc_80' } }],
      conf: {
        split: [
          { weight: 90, destination: { 'kuma.io/service': 'podinfo-primary_test_svc_80' } },
          { weight: 10, destination: { 'kuma.io/service': 'podinfo-canary_test_svc_80' } },
        ],
      },
    });
    expect(kumaRoutesOf(route, newTestCanary())).toEqual(routes(90, 10));
  });

  it('given the kuma.io/mesh annotation on the Canary, when building, then the TrafficRoute is in that mesh', () => {
    expect(
      kumaTrafficRoute(inNamespace(newTestCanary(), 'test', { 'kuma.io/mesh': 'payments' }), routes(100, 0))
        .mesh,
    ).toBe('payments');
  });
});

describe('KumaRouter', () => {
  it('given nothing yet, when reconciling and routing, then the cluster-scoped TrafficRoute carries the weights and a reconcile keeps them', async () => {
    const store = newMeshStore();
    const router = new KumaRouter(store.deps);
    const canary = newTestCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, routes(70, 30));
    store.writes.length = 0;
    await router.reconcile(canary);
    expect(store.writes).toEqual([]);
    expect(await router.getRoutes(canary)).toEqual(routes(70, 30));
  });

  it('given a TrafficRoute of another namespace’s canary, when reconciling, then E_MESH_CONFLICT names its owner and nothing is written', async () => {
    const store = newMeshStore();
    await new KumaRouter(store.deps).reconcile(newTestCanary());
    store.writes.length = 0;
    await expect(
      new KumaRouter(store.deps).reconcile(inNamespace(newTestCanary(), 'shop')),
    ).rejects.toMatchObject({
      code: 'E_MESH_CONFLICT',
      message: expect.stringContaining(
        'TrafficRoute podinfo (cluster-scoped) belongs to Canary podinfo.test',
      ),
    });
    expect(store.writes).toEqual([]);
  });

  it('given a TrafficRoute Vireo did not make, when reconciling, then it is refused, not taken over', async () => {
    const store = newMeshStore();
    store.put(KUMA_TRAFFIC_ROUTES, { metadata: { name: 'podinfo' }, spec: {} });
    await expect(new KumaRouter(store.deps).reconcile(newTestCanary())).rejects.toMatchObject({
      code: 'E_MESH_CONFLICT',
      message: expect.stringContaining('was not made by Vireo'),
    });
  });

  it('given a canary at 60/40, when finalizing, then the split sends the apex to itself, with no delete, and a new canary starts at 100/0', async () => {
    const store = newMeshStore();
    const router = new KumaRouter(store.deps);
    const canary = newTestCanary();
    await router.reconcile(canary);
    await router.setRoutes(canary, routes(60, 40));
    await router.finalize(canary);
    const route = store.object<MeshObject>(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo')!;
    expect(route.spec?.['conf']).toEqual({
      split: [{ weight: 100, destination: { 'kuma.io/service': 'podinfo_test_svc_80' } }],
    });
    expect(store.writes.filter((write) => write.startsWith('delete'))).toEqual([]);
    expect(await router.getRoutes(canary)).toEqual(routes(100, 0));
  });
});
