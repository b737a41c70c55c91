/**
 * App Mesh's v1beta1 API (the `appmesh` provider) has no obtainable CRD with a structural schema
 * (docs/routers/appmesh.md), so its objects' shape is checked here only.
 */
import { describe, expect, it } from 'vitest';
import type { Canary } from '../../../api/schema/canary.js';
import {
  APPMESH_V1BETA1_NODES,
  APPMESH_V1BETA1_SERVICES,
  AppMeshRouter,
  appMeshV1beta1Node,
  appMeshV1beta1Routes,
  appMeshV1beta1Service,
} from './appmesh.js';
import { newTestCanary } from './fixtures.test-helper.js';
import { newMeshStore } from './mesh-store.test-helper.js';
import type { MeshObject } from './mesh-objects.js';

const routes = (primaryWeight: number, canaryWeight: number) => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

const withService = (service: Record<string, unknown>, extra: Partial<Canary['spec']> = {}): Canary =>
  newTestCanary({ service: { port: 9898, meshName: 'global', ...service }, ...extra });

describe('App Mesh v1beta1 objects (docs/routers/appmesh.md)', () => {
  it('given a mesh and backends, when building the nodes, then they are in the mesh, listen on the port and find their Service by DNS', () => {
    const node = appMeshV1beta1Node(withService({ backends: ['backend.test'] }), 'primary');
    expect(node).toMatchObject({
      apiVersion: 'appmesh.k8s.aws/v1beta1',
      kind: 'VirtualNode',
      metadata: { name: 'podinfo-primary' },
    });
    expect(node.spec).toEqual({
      meshName: 'global',
      listeners: [{ portMapping: { port: 9898, protocol: 'http' } }],
      serviceDiscovery: { dns: { hostName: 'podinfo-primary.test' } },
      backends: [{ virtualService: { virtualServiceName: 'backend.test' } }],
    });
  });

  it('given retries at 70/30, when building the VirtualService, then it is named <svc>.<ns> and its http route holds the weights and the retry policy in milliseconds', () => {
    const canary = withService({ retries: { attempts: 2, perTryTimeout: '3s', retryOn: 'server-error' } });
    const service = appMeshV1beta1Service(canary, 'podinfo', appMeshV1beta1Routes(canary, routes(70, 30)));
    expect(service.metadata.name).toBe('podinfo.test');
    expect(service.spec).toEqual({
      meshName: 'global',
      virtualRouter: { name: 'podinfo-router' },
      routes: [
        {
          name: 'podinfo',
          http: {
            match: { prefix: '/' },
            action: {
              weightedTargets: [
                { virtualNodeName: 'podinfo-canary', weight: 30 },
                { virtualNodeName: 'podinfo-primary', weight: 70 },
              ],
            },
            retryPolicy: { maxRetries: 2, perRetryTimeoutMillis: 3000, httpRetryEvents: ['server-error'] },
          },
        },
      ],
    });
  });

  it('given A/B by header, when building, then podinfo-a carries the headers before podinfo-b', () => {
    const canary = withService(
      {},
      {
        analysis: {
          interval: '10s',
          threshold: 2,
          iterations: 5,
          match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
        },
      },
    );
    expect(appMeshV1beta1Routes(canary, routes(0, 100))).toMatchObject([
      {
        name: 'podinfo-a',
        priority: 10,
        http: { match: { prefix: '/', headers: [{ name: 'x-canary', match: { exact: 'insider' } }] } },
      },
      {
        name: 'podinfo-b',
        priority: 20,
        http: { action: { weightedTargets: [{ weight: 0 }, { weight: 100 }] } },
      },
    ]);
  });

  it('given no meshName, when building, then E_MESH_REF names spec.service.meshName', () => {
    expect(() => appMeshV1beta1Node(newTestCanary({ service: { port: 80 } }), 'canary')).toThrow(
      expect.objectContaining({
        code: 'E_MESH_REF',
        message: expect.stringContaining('needs spec.service.meshName'),
      }),
    );
  });
});

describe('AppMeshRouter (v1beta1)', () => {
  it('given nothing yet, when reconciling and routing, then nodes and both VirtualServices exist and the weights round-trip without extra writes', async () => {
    const store = newMeshStore();
    const router = new AppMeshRouter(store.deps);
    const canary = withService({});
    await router.reconcile(canary);
    expect(store.writes).toEqual([
      'create VirtualNode podinfo-primary',
      'create VirtualNode podinfo-canary',
      'create VirtualService podinfo-canary.test',
      'create VirtualService podinfo.test',
    ]);
    expect(store.object<MeshObject>(APPMESH_V1BETA1_NODES, 'test', 'podinfo-canary')).toBeDefined();
    expect(await router.getRoutes(canary)).toEqual(routes(100, 0));
    await router.setRoutes(canary, routes(40, 60));
    expect(await router.getRoutes(canary)).toEqual(routes(40, 60));
    store.writes.length = 0;
    await router.reconcile(canary);
    expect(store.writes).toEqual([]);
    expect(
      store.object<MeshObject>(APPMESH_V1BETA1_SERVICES, 'test', 'podinfo-canary.test')?.spec?.['routes'],
    ).toEqual([
      {
        name: 'podinfo-canary',
        http: {
          match: { prefix: '/' },
          action: { weightedTargets: [{ virtualNodeName: 'podinfo-canary', weight: 100 }] },
        },
      },
    ]);
  });
});
