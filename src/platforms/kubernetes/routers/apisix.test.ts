import { describe, expect, it } from 'vitest';
import {
  APISIX_ROUTES,
  ApisixRouter,
  apisixCanaryRouteName,
  apisixCanarySpec,
  apisixRoutesOf,
} from './apisix.js';
import { newTestCanary } from './fixtures.test-helper.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import type { MeshObject } from './mesh-objects.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

const routeRef = { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'web' };

const userRoute = (): MeshObject => ({
  apiVersion: 'apisix.apache.org/v2',
  kind: 'ApisixRoute',
  metadata: {
    name: 'web',
    namespace: 'test',
    labels: { team: 'payments', 'kustomize.toolkit.fluxcd.io/name': 'apps' },
  },
  spec: {
    http: [
      {
        name: 'both',
        match: { paths: ['/both'] },
        backends: [{ serviceName: 'podinfo' }, { serviceName: 'other' }],
      },
      {
        name: 'app',
        priority: 3,
        match: { hosts: ['app.example.com'], paths: ['/*'] },
        backends: [{ serviceName: 'podinfo', servicePort: 80, resolveGranularity: 'service', subset: 'v1' }],
        plugins: [{ name: 'cors', enable: true }],
      },
    ],
  },
});

describe('apisix canary route (docs/routers/apisix.md)', () => {
  it('given a user route, when building at 90/10, then only the rule whose single backend is the apex is kept, at priority 10000, split between primary and canary', () => {
    const canary = newTestCanary({ routeRef });
    expect(apisixCanaryRouteName(canary, 'web')).toBe('web-podinfo-canary');
    const spec = apisixCanarySpec(userRoute(), canary, routes(90, 10));
    expect(spec).toEqual({
      http: [
        {
          name: 'app',
          priority: 10000,
          match: { hosts: ['app.example.com'], paths: ['/*'] },
          plugins: [{ name: 'cors', enable: true }],
          backends: [
            {
              serviceName: 'podinfo-primary',
              servicePort: 80,
              resolveGranularity: 'service',
              subset: 'v1',
              weight: 90,
            },
            {
              serviceName: 'podinfo-canary',
              servicePort: 80,
              resolveGranularity: 'service',
              subset: 'v1',
              weight: 10,
            },
          ],
        },
      ],
    });
    expect(apisixRoutesOf({ metadata: { name: 'x' }, spec }, canary)).toEqual(routes(90, 10));
  });

  it('given a route without a rule whose only backend is the apex, when building, then E_MESH_REF names the route and the Service', () => {
    const route = userRoute();
    route.spec = { http: [(route.spec!['http'] as unknown[])[0]] };
    expect(() => apisixCanarySpec(route, newTestCanary({ routeRef }), routes(100, 0))).toThrow(
      expect.objectContaining({
        code: 'E_MESH_REF',
        message: expect.stringMatching(/ApisixRoute web .*only backend is Service podinfo/),
      }),
    );
  });
});

describe('ApisixRouter', () => {
  it('given the user route, when reconciling and routing, then the canary route carries the weights, keeps the user labels minus Flux, and the user route is never written', async () => {
    const store = newMeshStore();
    store.put(APISIX_ROUTES, userRoute());
    const router = new ApisixRouter(store.deps);
    const canary = newTestCanary({ routeRef });
    await router.reconcile(canary);
    await router.setRoutes(canary, routes(50, 50));
    expect(await router.getRoutes(canary)).toEqual(routes(50, 50));
    const created = store.object<MeshObject>(APISIX_ROUTES, 'test', 'web-podinfo-canary')!;
    expect(created.metadata.labels).toEqual({ team: 'payments' });
    expect(store.writes).toEqual([
      'create ApisixRoute web-podinfo-canary',
      'patch ApisixRoute web-podinfo-canary',
    ]);
    store.writes.length = 0;
    await router.reconcile(canary);
    expect(store.writes).toEqual([]);
  });

  it('given no routeRef or a missing route, when reconciling, then the error names spec.routeRef', async () => {
    const router = new ApisixRouter(newMeshStore().deps);
    await expect(router.reconcile(newTestCanary())).rejects.toMatchObject({
      code: 'E_MESH_REF',
      message: expect.stringContaining('needs spec.routeRef'),
    });
    await expect(router.reconcile(newTestCanary({ routeRef }))).rejects.toMatchObject({
      code: 'E_MESH_NOT_FOUND',
      message: expect.stringContaining('spec.routeRef ApisixRoute web does not exist in namespace test'),
    });
  });
});
