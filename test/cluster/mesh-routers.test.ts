/**
 * The mesh routers (gloo, kuma, apisix, appmesh:v1beta2, skipper; docs/routers/) on a real
 * kube-apiserver holding each mesh's own CRDs: the official Gloo, Kuma and App Mesh CRDs copied
 * under test/fixtures/mesh-crds/ (provenance in its README) and APISIX's from the pinned Go
 * module (tools/mesh-crds/modules.tsv). Every object a router writes must come back from the
 * server as it was sent: a field the mesh's schema does not know would be pruned or refused, so a
 * wrong shape fails here. Then weights are set and read back, a reconcile keeps them, and
 * finalize leaves (or puts back) what the user owns. One cluster for the file.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { APISIX_ROUTES, apisixCanarySpec } from '../../src/platforms/kubernetes/routers/apisix.js';
import {
  APPMESH_V1BETA2_NODES,
  APPMESH_V1BETA2_ROUTERS,
  APPMESH_V1BETA2_SERVICES,
  appMeshRoutes,
} from '../../src/platforms/kubernetes/routers/appmesh-v1beta2.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import {
  GLOO_ROUTE_TABLES,
  GLOO_UPSTREAMS,
  glooRouteTableSpec,
} from '../../src/platforms/kubernetes/routers/gloo.js';
import { KUMA_TRAFFIC_ROUTES, kumaTrafficRoute } from '../../src/platforms/kubernetes/routers/kuma.js';
import type { MeshObject } from '../../src/platforms/kubernetes/routers/mesh-objects.js';
import type { RouterDeps, Routes } from '../../src/platforms/kubernetes/routers/router.js';
import type { Ingress } from '../../src/platforms/kubernetes/routers/types.js';
import { installMeshCrds } from '../support/mesh-crds.js';
import { ensureNamespace, startKubeTest, type KubeTest } from '../support/kube.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'mesh-crds');
const FLUX_HANDS_OFF = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};

let client: KubeClient;
let kube: KubeTest;
let deps: RouterDeps;

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
  await installMeshCrds(client, {
    files: ['gloo.yaml', 'kuma.yaml', 'appmesh.yaml'].map((file) => join(FIXTURES, file)),
  });
  await installMeshCrds(client, 'apisix');
}, 900_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

const routes = (primaryWeight: number, canaryWeight: number): Routes => ({
  primaryWeight,
  canaryWeight,
  mirrored: false,
});

async function givenDeployment(namespace: string): Promise<void> {
  await ensureNamespace(client, namespace);
  await client.apply(RESOURCES.deployments, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: {
          containers: [
            {
              name: 'podinfod',
              image: 'ghcr.io/stefanprodan/podinfo:6.0.0',
              ports: [{ name: 'http', containerPort: 9898 }],
            },
          ],
        },
      },
    },
  });
}

/** A Canary applied and read back, so it has the uid its owner references need. */
async function givenCanary(
  namespace: string,
  spec: Record<string, unknown>,
  annotations?: Record<string, string>,
): Promise<Canary> {
  await givenDeployment(namespace);
  const applied = await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace, ...(annotations === undefined ? {} : { annotations }) },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  });
  return applied as unknown as Canary;
}

function abTesting(canary: Canary, headers: Record<string, Record<string, string>>): Canary {
  return {
    ...canary,
    spec: {
      ...canary.spec,
      analysis: { interval: '10s', threshold: 2, iterations: 5, match: [{ headers }] },
    },
  };
}

/** create, update and patch requests sent while `action` runs. */
async function writesDuring(action: () => Promise<void>): Promise<number> {
  const writes = (): number => {
    const counts = client.counter.snapshot();
    return (counts['create'] ?? 0) + (counts['update'] ?? 0) + (counts['patch'] ?? 0);
  };
  const before = writes();
  await action();
  return writes() - before;
}

const get = async (
  resource: Parameters<KubeClient['get']>[0],
  namespace: string | undefined,
  name: string,
): Promise<MeshObject> => {
  const object = await client.get<MeshObject>(resource, namespace, name);
  expect(object, `${resource.kind} ${name}`).toBeDefined();
  return object!;
};

const ownedByCanary = (object: KubeObject, canary: Canary): void => {
  expect(object.metadata.ownerReferences).toEqual([
    expect.objectContaining({
      kind: 'Canary',
      name: 'podinfo',
      uid: (canary.metadata as { uid?: string }).uid,
      controller: true,
    }),
  ]);
  expect(object.metadata.annotations).toMatchObject(FLUX_HANDS_OFF);
};

describe('gloo: Upstreams and RouteTable under the official Gloo CRDs', () => {
  const namespace = 'mesh-gloo';
  let canary: Canary;

  beforeAll(async () => {
    await ensureNamespace(client, namespace);
    await client.create(GLOO_UPSTREAMS, {
      metadata: { name: 'podinfo-settings', namespace },
      spec: {
        kube: { serviceName: 'podinfo', serviceNamespace: namespace, servicePort: 9898 },
        circuitBreakers: { maxConnections: 64 },
        useHttp2: true,
      },
    });
    canary = await givenCanary(namespace, {
      provider: 'gloo',
      upstreamRef: { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', name: 'podinfo-settings' },
      service: { port: 9898 },
    });
  });

  it('given a canary with an upstreamRef, when reconciling, then both Upstreams and the RouteTable are created as sent, at 100/0, owned by the Canary', async () => {
    await createRouter('gloo', deps).reconcile(canary);
    for (const side of ['primary', 'canary']) {
      const upstream = await get(GLOO_UPSTREAMS, namespace, `${namespace}-podinfo-${side}upstream-9898`);
      expect(upstream.spec).toEqual({
        circuitBreakers: { maxConnections: 64 },
        useHttp2: true,
        kube: { serviceName: `podinfo-${side}`, serviceNamespace: namespace, servicePort: 9898 },
      });
      ownedByCanary(upstream, canary);
    }
    const routeTable = await get(GLOO_ROUTE_TABLES, namespace, 'podinfo');
    expect(routeTable.spec).toEqual(glooRouteTableSpec(canary, routes(100, 0)));
    ownedByCanary(routeTable, canary);
    expect(await createRouter('gloo', deps).getRoutes(canary)).toEqual(routes(100, 0));
  });

  it('given 70/30, when setting the routes, then the RouteTable weights are 70/30, read back as such, and a reconcile keeps them without a write', async () => {
    const router = createRouter('gloo', deps);
    await router.setRoutes(canary, routes(70, 30));
    const destinations = (
      (await get(GLOO_ROUTE_TABLES, namespace, 'podinfo')).spec?.['routes'] as {
        routeAction: { multi: { destinations: { weight: number }[] } };
      }[]
    )[0]!.routeAction.multi.destinations;
    expect(destinations.map((destination) => destination.weight)).toEqual([70, 30]);
    expect(await router.getRoutes(canary)).toEqual(routes(70, 30));
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect(await router.getRoutes(canary)).toEqual(routes(70, 30));
  });

  it('given A/B by header, when routing to the canary, then the header route is accepted and a fallback route keeps the rest on the primary', async () => {
    const router = createRouter('gloo', deps);
    const ab = abTesting(canary, {
      'x-canary': { exact: 'insider' },
      'user-agent': { regex: '.*Firefox.*' },
    });
    await router.setRoutes(ab, routes(0, 100));
    const routeTable = await get(GLOO_ROUTE_TABLES, namespace, 'podinfo');
    expect(routeTable.spec).toEqual(glooRouteTableSpec(ab, routes(0, 100)));
    expect(routeTable.spec?.['routes']).toHaveLength(2);
    expect(await router.getRoutes(ab)).toEqual(routes(0, 100));
    await router.setRoutes(ab, routes(100, 0));
    expect(await router.getRoutes(ab)).toEqual(routes(100, 0));
  });

  it('given the template loses a setting, when reconciling, then the Upstreams drop it; finalize writes nothing', async () => {
    await client.mergePatch(GLOO_UPSTREAMS, namespace, 'podinfo-settings', { spec: { useHttp2: null } });
    const router = createRouter('gloo', deps);
    await router.reconcile(canary);
    expect(
      (await get(GLOO_UPSTREAMS, namespace, `${namespace}-podinfo-canaryupstream-9898`)).spec,
    ).not.toHaveProperty('useHttp2');
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
  });
});

describe('kuma: the cluster-scoped TrafficRoute under the official Kuma CRD', () => {
  const namespace = 'mesh-kuma';
  let canary: Canary;

  beforeAll(async () => {
    canary = await givenCanary(
      namespace,
      { provider: 'kuma', revertOnDeletion: true, service: { port: 9898 } },
      { 'kuma.io/mesh': 'payments' },
    );
  });

  it('given a canary in mesh payments, when reconciling, then TrafficRoute podinfo is created cluster-wide at 100/0 in that mesh', async () => {
    await createRouter('kuma', deps).reconcile(canary);
    const route = await get(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo');
    const sent = kumaTrafficRoute(canary, routes(100, 0));
    expect(route['mesh']).toBe('payments');
    expect(route.spec).toEqual(sent.spec);
    expect(route.spec?.['destinations']).toEqual([
      { match: { 'kuma.io/service': `podinfo_${namespace}_svc_9898` } },
    ]);
    expect(route.metadata.annotations).toMatchObject({
      ...FLUX_HANDS_OFF,
      'vireo.dev/canary': `podinfo.${namespace}`,
    });
    expect(route.metadata.ownerReferences).toBeUndefined();
  });

  it('given 60/40, when setting the routes, then the split reads 60/40 and a reconcile keeps it without a write', async () => {
    const router = createRouter('kuma', deps);
    await router.setRoutes(canary, routes(60, 40));
    const split = (
      (await get(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo')).spec?.['conf'] as { split: unknown[] }
    ).split;
    expect(split).toEqual([
      { weight: 60, destination: { 'kuma.io/service': `podinfo-primary_${namespace}_svc_9898` } },
      { weight: 40, destination: { 'kuma.io/service': `podinfo-canary_${namespace}_svc_9898` } },
    ]);
    expect(await router.getRoutes(canary)).toEqual(routes(60, 40));
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
  });

  it('given another namespace’s canary for a Service of the same name, when reconciling, then E_MESH_CONFLICT names the owner and nothing is taken over', async () => {
    const other = await givenCanary('mesh-kuma-other', { provider: 'kuma', service: { port: 9898 } });
    await expect(createRouter('kuma', deps).reconcile(other)).rejects.toMatchObject({
      code: 'E_MESH_CONFLICT',
      message: expect.stringMatching(/TrafficRoute podinfo .*belongs to Canary podinfo\.mesh-kuma;/),
    });
    expect(await createRouter('kuma', deps).getRoutes(canary)).toEqual(routes(60, 40));
  });

  it('given revertOnDeletion, when finalizing, then the TrafficRoute sends the apex service to itself, and a reconcile after starts at 100/0', async () => {
    const router = createRouter('kuma', deps);
    await router.finalize(canary);
    expect((await get(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo')).spec?.['conf']).toEqual({
      split: [{ weight: 100, destination: { 'kuma.io/service': `podinfo_${namespace}_svc_9898` } }],
    });
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
    await router.reconcile(canary);
    expect(await router.getRoutes(canary)).toEqual(routes(100, 0));
  });
});

describe('apisix: the canary ApisixRoute under APISIX’s v2 CRD', () => {
  const namespace = 'mesh-apisix';
  let canary: Canary;
  let userRoute: MeshObject;

  beforeAll(async () => {
    await ensureNamespace(client, namespace);
    userRoute = await client.create<MeshObject>(APISIX_ROUTES, {
      metadata: { name: 'web', namespace, labels: { team: 'payments' } },
      spec: {
        http: [
          {
            name: 'assets',
            match: { hosts: ['app.example.com'], paths: ['/static/*'] },
            backends: [{ serviceName: 'assets', servicePort: 80 }],
          },
          {
            name: 'app',
            match: { hosts: ['app.example.com'], paths: ['/*'] },
            backends: [{ serviceName: 'podinfo', servicePort: 80, resolveGranularity: 'service' }],
          },
        ],
      },
    });
    canary = await givenCanary(namespace, {
      provider: 'apisix',
      routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'web' },
      service: { port: 80, targetPort: 9898 },
    });
  });

  it('given the user route, when reconciling, then web-podinfo-canary holds only the podinfo rule at priority 10000 with primary 100 and canary 0', async () => {
    await createRouter('apisix', deps).reconcile(canary);
    const route = await get(APISIX_ROUTES, namespace, 'web-podinfo-canary');
    expect(route.spec).toEqual(apisixCanarySpec(userRoute, canary, routes(100, 0)));
    expect(route.spec).toEqual({
      http: [
        {
          name: 'app',
          priority: 10000,
          match: { hosts: ['app.example.com'], paths: ['/*'] },
          backends: [
            { serviceName: 'podinfo-primary', servicePort: 80, resolveGranularity: 'service', weight: 100 },
            { serviceName: 'podinfo-canary', servicePort: 80, resolveGranularity: 'service', weight: 0 },
          ],
        },
      ],
    });
    expect(route.metadata.labels).toEqual({ team: 'payments' });
    ownedByCanary(route, canary);
  });

  it('given 50/50, when setting the routes, then the backends read 50/50 back, the user route is untouched, and finalize writes nothing', async () => {
    const router = createRouter('apisix', deps);
    await router.setRoutes(canary, routes(50, 50));
    expect(await router.getRoutes(canary)).toEqual(routes(50, 50));
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect((await get(APISIX_ROUTES, namespace, 'web')).spec).toEqual(userRoute.spec);
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
  });
});

describe('appmesh:v1beta2: VirtualNodes, VirtualRouters and VirtualServices under the official App Mesh CRDs', () => {
  const namespace = 'mesh-appmesh';
  let canary: Canary;

  beforeAll(async () => {
    canary = await givenCanary(namespace, {
      provider: 'appmesh:v1beta2',
      service: {
        port: 9898,
        timeout: '15s',
        retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error,client-error,stream-error' },
        backends: ['backend1', 'arn:aws:appmesh:eu-west-1:000000000000:mesh/global/virtualService/backend2'],
        hosts: ['app.example.com'],
      },
    });
  });

  it('given a canary with retries, timeout and backends, when reconciling, then nodes, routers and services are created as sent, with the Services’ selectors and 100/0', async () => {
    await createRouter('appmesh:v1beta2', deps).reconcile(canary);
    const primaryNode = await get(APPMESH_V1BETA2_NODES, namespace, 'podinfo-primary');
    expect(primaryNode.spec).toEqual({
      podSelector: { matchLabels: { app: 'podinfo-primary' } },
      listeners: [{ portMapping: { port: 9898, protocol: 'http' } }],
      serviceDiscovery: { dns: { hostname: `podinfo-primary.${namespace}.svc.cluster.local` } },
      backends: [
        { virtualService: { virtualServiceRef: { name: 'backend1' } } },
        {
          virtualService: {
            virtualServiceARN: 'arn:aws:appmesh:eu-west-1:000000000000:mesh/global/virtualService/backend2',
          },
        },
      ],
    });
    expect((await get(APPMESH_V1BETA2_NODES, namespace, 'podinfo-canary')).spec?.['podSelector']).toEqual({
      matchLabels: { app: 'podinfo' },
    });
    const router = await get(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo');
    expect(router.spec?.['routes']).toEqual(appMeshRoutes(canary, routes(100, 0)));
    expect((router.spec?.['routes'] as Record<string, unknown>[])[0]).toMatchObject({
      httpRoute: {
        retryPolicy: {
          maxRetries: 3,
          perRetryTimeout: { unit: 'ms', value: 5000 },
          httpRetryEvents: ['gateway-error', 'client-error', 'stream-error'],
        },
        timeout: { perRequest: { unit: 'ms', value: 15000 } },
      },
    });
    const service = await get(APPMESH_V1BETA2_SERVICES, namespace, 'podinfo');
    expect(service.spec).toEqual({
      awsName: `podinfo.${namespace}`,
      provider: { virtualRouter: { virtualRouterRef: { name: 'podinfo' } } },
    });
    expect(service.metadata.annotations).toMatchObject({
      'gateway.appmesh.k8s.aws/expose': 'true',
      'gateway.appmesh.k8s.aws/domain': 'app.example.com',
    });
    const canaryRouter = await get(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo-canary');
    expect(canaryRouter.spec?.['routes']).toEqual([
      {
        name: 'podinfo-canary',
        httpRoute: {
          match: { prefix: '/' },
          action: { weightedTargets: [{ virtualNodeRef: { name: 'podinfo-canary' }, weight: 100 }] },
        },
      },
    ]);
    expect((await get(APPMESH_V1BETA2_SERVICES, namespace, 'podinfo-canary')).spec?.['awsName']).toBe(
      `podinfo-canary.${namespace}`,
    );
    for (const object of [primaryNode, router, service, canaryRouter]) ownedByCanary(object, canary);
  });

  it('given 80/20, when setting the routes, then the weighted targets read 80/20 and a reconcile keeps them without a write', async () => {
    const router = createRouter('appmesh:v1beta2', deps);
    await router.setRoutes(canary, routes(80, 20));
    expect(await router.getRoutes(canary)).toEqual(routes(80, 20));
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
  });

  it('given an admission webhook filled spec.meshRef, when reconciling, then it is kept', async () => {
    await client.mergePatch(APPMESH_V1BETA2_NODES, namespace, 'podinfo-primary', {
      spec: { meshRef: { name: 'global', uid: '00000000-0000-4000-8000-000000000000' } },
    });
    await createRouter('appmesh:v1beta2', deps).reconcile(canary);
    expect((await get(APPMESH_V1BETA2_NODES, namespace, 'podinfo-primary')).spec?.['meshRef']).toEqual({
      name: 'global',
      uid: '00000000-0000-4000-8000-000000000000',
    });
  });

  it('given A/B on a header prefix, when routing to the canary, then route podinfo-a matches it before podinfo-b keeps the rest on the primary', async () => {
    const router = createRouter('appmesh:v1beta2', deps);
    const ab = abTesting(canary, { 'x-canary': { prefix: 'insider' } });
    await router.setRoutes(ab, routes(0, 100));
    const live = (await get(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo')).spec?.['routes'];
    expect(live).toEqual(appMeshRoutes(ab, routes(0, 100)));
    expect(live).toMatchObject([
      {
        name: 'podinfo-a',
        priority: 10,
        httpRoute: { match: { headers: [{ name: 'x-canary', match: { prefix: 'insider' } }] } },
      },
      { name: 'podinfo-b', priority: 20 },
    ]);
    expect(await router.getRoutes(ab)).toEqual(routes(0, 100));
  });
});

describe('skipper: the canary Ingress with backend weights', () => {
  const namespace = 'mesh-skipper';
  let canary: Canary;

  beforeAll(async () => {
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.ingresses, {
      metadata: {
        name: 'podinfo',
        namespace,
        annotations: { 'zalando.org/skipper-predicate': 'Header("X-Env", "prod")' },
      },
      spec: {
        ingressClassName: 'skipper',
        rules: [
          {
            host: 'app.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'podinfo', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    canary = await givenCanary(namespace, {
      provider: 'skipper',
      revertOnDeletion: true,
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
      service: { port: 80, targetPort: 9898 },
    });
  });

  const canaryIngress = async (): Promise<Ingress> =>
    await get(RESOURCES.ingresses, namespace, 'podinfo-canary');

  it('given the user Ingress, when reconciling, then podinfo-canary sends the path to primary and canary, disabled by False() at 100/0', async () => {
    await createRouter('skipper', deps).reconcile(canary);
    const ingress = await canaryIngress();
    expect(ingress.spec?.rules?.[0]?.http?.paths.map((path) => path.backend.service?.name)).toEqual([
      'podinfo-primary',
      'podinfo-canary',
    ]);
    expect(ingress.metadata.annotations).toMatchObject({
      ...FLUX_HANDS_OFF,
      'zalando.org/backend-weights': '{"podinfo-primary":100,"podinfo-canary":0}',
      'zalando.org/skipper-predicate': 'False() && Header("X-Env", "prod")',
    });
    ownedByCanary(ingress, canary);
  });

  it('given 90/10, when setting the routes, then Weight(100) leads the predicate and the weights read 90/10 back', async () => {
    const router = createRouter('skipper', deps);
    await router.setRoutes(canary, routes(90, 10));
    expect((await canaryIngress()).metadata.annotations).toMatchObject({
      'zalando.org/backend-weights': '{"podinfo-primary":90,"podinfo-canary":10}',
      'zalando.org/skipper-predicate': 'Weight(100) && Header("X-Env", "prod")',
    });
    expect(await router.getRoutes(canary)).toEqual(routes(90, 10));
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
  });

  it('given an A/B canary, when routing, then E_INGRESS_MATCH names spec.analysis.match and the weights stay', async () => {
    const router = createRouter('skipper', deps);
    await expect(
      router.setRoutes(abTesting(canary, { 'x-canary': { exact: 'a' } }), routes(0, 100)),
    ).rejects.toMatchObject({
      code: 'E_INGRESS_MATCH',
      message: expect.stringContaining('spec.analysis.match'),
    });
    expect(await router.getRoutes(canary)).toEqual(routes(90, 10));
  });

  it('given revertOnDeletion, when finalizing, then the canary Ingress is back to False() at 100/0 and the user Ingress was never changed', async () => {
    const router = createRouter('skipper', deps);
    await router.finalize(canary);
    expect((await canaryIngress()).metadata.annotations).toMatchObject({
      'zalando.org/backend-weights': '{"podinfo-primary":100,"podinfo-canary":0}',
      'zalando.org/skipper-predicate': 'False() && Header("X-Env", "prod")',
    });
    const user = (await client.get<Ingress>(RESOURCES.ingresses, namespace, 'podinfo'))!;
    expect(user.metadata.annotations).toEqual({ 'zalando.org/skipper-predicate': 'Header("X-Env", "prod")' });
    expect(user.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('podinfo');
  });
});
