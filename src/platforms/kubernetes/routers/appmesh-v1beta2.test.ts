import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import { RESOURCES } from '../resources.js';
import {
  APPMESH_V1BETA2_NODES,
  APPMESH_V1BETA2_ROUTERS,
  APPMESH_V1BETA2_SERVICES,
  AppMeshV1beta2Router,
  appMeshGatewayAnnotations,
  appMeshHeaders,
  appMeshRetryPolicy,
  appMeshRoutes,
  appMeshTimeout,
} from './appmesh-v1beta2.js';
import { newTestCanary } from './fixtures.test-helper.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import type { MeshObject } from './mesh-objects.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

const withService = (service: Record<string, unknown>, extra: Partial<Canary['spec']> = {}): Canary =>
  newTestCanary({ service: { port: 9898, ...service }, ...extra });

describe('App Mesh v1beta2 routes (docs/routers/appmesh.md)', () => {
  it('given a weighted canary at 90/10, when building, then one http route sends canary 10 and primary 90', () => {
    expect(appMeshRoutes(withService({}), routes(90, 10))).toEqual([
      {
        name: 'podinfo',
        httpRoute: {
          match: { prefix: '/' },
          action: {
            weightedTargets: [
              { virtualNodeRef: { name: 'podinfo-canary' }, weight: 10 },
              { virtualNodeRef: { name: 'podinfo-primary' }, weight: 90 },
            ],
          },
        },
      },
    ]);
  });

  it('given a port named grpc, when building, then the route is a grpcRoute', () => {
    const [route] = appMeshRoutes(withService({ portName: 'grpc' }), routes(100, 0));
    expect(route).toHaveProperty('grpcRoute.action.weightedTargets');
    expect(route).not.toHaveProperty('httpRoute');
  });

  it('given A/B on every header operator, when building, then route -a matches them at priority 10 and -b sends the rest to the primary', () => {
    const canary = withService(
      {},
      {
        analysis: {
          interval: '10s',
          threshold: 2,
          iterations: 5,
          match: [
            { headers: { a: { exact: '1' }, b: { prefix: '2' } } },
            { headers: { c: { suffix: '3' }, d: { regex: '4.*' } } },
          ],
        },
      },
    );
    const [first, second] = appMeshRoutes(canary, routes(0, 100));
    expect(first).toMatchObject({
      name: 'podinfo-a',
      priority: 10,
      httpRoute: {
        match: {
          prefix: '/',
          headers: [
            { name: 'a', match: { exact: '1' } },
            { name: 'b', match: { prefix: '2' } },
            { name: 'c', match: { suffix: '3' } },
            { name: 'd', match: { regex: '4.*' } },
          ],
        },
        action: { weightedTargets: [{ weight: 100 }, { weight: 0 }] },
      },
    });
    expect(second).toMatchObject({
      name: 'podinfo-b',
      priority: 20,
      httpRoute: { action: { weightedTargets: [{ weight: 0 }, { weight: 100 }] } },
    });
    expect(() => appMeshHeaders([{ headers: { e: { exact: '' } } }])).toThrow(
      expect.objectContaining({
        code: 'E_MESH_MATCH',
        message: expect.stringContaining('spec.analysis.match[0].headers.e'),
      }),
    );
  });

  it('given retries and a timeout, when building, then the policy keeps App Mesh events and durations are in ms', () => {
    expect(
      appMeshRetryPolicy(
        withService({
          retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,5xx,connection-error' },
        }),
      ),
    ).toEqual({
      maxRetries: 3,
      perRetryTimeout: { unit: 'ms', value: 2000 },
      httpRetryEvents: ['gateway-error'],
      tcpRetryEvents: ['connection-error'],
    });
    // As Flagger fills in what is left out: one attempt of 250 ms on gateway errors.
    expect(appMeshRetryPolicy(withService({ retries: {} }))).toEqual({
      maxRetries: 1,
      perRetryTimeout: { unit: 'ms', value: 250 },
      httpRetryEvents: ['gateway-error'],
    });
    expect(appMeshRetryPolicy(withService({}))).toBeUndefined();
    expect(appMeshTimeout(withService({ timeout: '1m30s' }))).toEqual({
      perRequest: { unit: 'ms', value: 90_000 },
    });
    expect(() => appMeshTimeout(withService({ timeout: 'soon' }))).toThrow(
      expect.objectContaining({
        code: 'E_MESH_SPEC',
        message: expect.stringContaining('spec.service.timeout is "soon"'),
      }),
    );
  });

  it('given hosts, when annotating, then the App Mesh gateway annotations expose the domains; without hosts none', () => {
    expect(
      appMeshGatewayAnnotations(
        withService({ hosts: ['a.example.com', 'b.example.com'], timeout: '5s', retries: { attempts: 2 } }),
      ),
    ).toEqual({
      'gateway.appmesh.k8s.aws/expose': 'true',
      'gateway.appmesh.k8s.aws/domain': 'a.example.com,b.example.com',
      'gateway.appmesh.k8s.aws/timeout': '5s',
      'gateway.appmesh.k8s.aws/retries': '2',
    });
    expect(appMeshGatewayAnnotations(withService({}))).toEqual({});
  });
});

describe('AppMeshV1beta2Router', () => {
  const givenServices = () => {
    const store = newMeshStore();
    for (const [name, app] of [
      ['podinfo-primary', 'podinfo-primary'],
      ['podinfo-canary', 'podinfo'],
    ] as const) {
      store.put(RESOURCES.services, { metadata: { name, namespace: 'test' }, spec: { selector: { app } } });
    }
    return store;
  };

  it('given the Services, when reconciling and routing, then nodes select their pods, both routers and services exist, and weights round-trip', async () => {
    const store = givenServices();
    const router = new AppMeshV1beta2Router(store.deps);
    const canary = withService({});
    await router.reconcile(canary);
    expect(store.writes).toEqual([
      'create VirtualNode podinfo-primary',
      'create VirtualNode podinfo-canary',
      'create VirtualRouter podinfo-canary',
      'create VirtualService podinfo-canary',
      'create VirtualRouter podinfo',
      'create VirtualService podinfo',
    ]);
    expect(
      store.object<MeshObject>(APPMESH_V1BETA2_NODES, 'test', 'podinfo-canary')?.spec?.['podSelector'],
    ).toEqual({
      matchLabels: { app: 'podinfo' },
    });
    expect(store.object<MeshObject>(APPMESH_V1BETA2_SERVICES, 'test', 'podinfo')?.spec).toEqual({
      awsName: 'podinfo.test',
      provider: { virtualRouter: { virtualRouterRef: { name: 'podinfo' } } },
    });
    await router.setRoutes(canary, routes(75, 25));
    expect(await router.getRoutes(canary)).toEqual(routes(75, 25));
    store.writes.length = 0;
    await router.reconcile(canary);
    expect(store.writes).toEqual([]);
    expect(store.object<MeshObject>(APPMESH_V1BETA2_ROUTERS, 'test', 'podinfo')?.spec?.['routes']).toEqual(
      appMeshRoutes(canary, routes(75, 25)),
    );
  });

  it('given no canary Service yet, when reconciling, then E_MESH_NOT_FOUND names it and nothing is written', async () => {
    const store = newMeshStore();
    await expect(new AppMeshV1beta2Router(store.deps).reconcile(withService({}))).rejects.toMatchObject({
      code: 'E_MESH_NOT_FOUND',
      message: expect.stringContaining('Service podinfo-primary does not exist yet'),
    });
    expect(store.writes).toEqual([]);
  });
});
