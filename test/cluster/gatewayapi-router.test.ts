/**
 * The gatewayapi:v1 and gatewayapi:v1beta1 routers (docs/routers/gatewayapi.md) on a real
 * kube-apiserver serving the Gateway API's own CRDs (sigs.k8s.io/gateway-api v1.6.3, experimental
 * channel): every HTTPRoute they write passes the real schema and its CEL rules, the server's
 * defaults do not make a reconcile write again, a route the user made is given back on
 * revertOnDeletion, and a route its Gateway has not accepted halts getRoutes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import {
  httpRouteResource,
  ORIGINAL_CONFIGURATION,
  type HTTPRoute,
} from '../../src/platforms/kubernetes/routers/gatewayapi.js';
import type { RouterDeps } from '../../src/platforms/kubernetes/routers/router.js';
import { ensureNamespace, startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';

let client: KubeClient;
let kube: KubeTest;
let deps: RouterDeps;
/** Every write the routers send, as "verb plural name". */
const writes: string[] = [];

const WRITE_METHODS = new Set(['create', 'replace', 'apply', 'mergePatch', 'replaceStatus']);

/** The client, recording every write call the routers make (to prove a repeat sends none). */
function recordingWrites(target: KubeClient): KubeClient {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property === 'string' && WRITE_METHODS.has(property)) {
        return (...args: unknown[]) => {
          writes.push(`${property} ${(args[0] as ResourceType).plural}`);
          return method.apply(object, args);
        };
      }
      return method.bind(object);
    },
  });
}

const V1: ResourceType = httpRouteResource('v1');
const V1BETA1: ResourceType = httpRouteResource('v1beta1');

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  await installMeshCrds(client, 'gatewayapi');
  deps = {
    client: recordingWrites(client),
    reader: new DirectReader(client),
    options: DEFAULT_PLATFORM_OPTIONS,
  };
}, 300_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

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
              ports: [{ containerPort: 9898 }],
            },
          ],
        },
      },
    },
  });
}

/** A Canary applied and read back (its uid is needed for owner references), with the given status. */
async function givenCanary(
  namespace: string,
  spec: Record<string, unknown>,
  status?: Canary['status'],
): Promise<Canary> {
  await givenDeployment(namespace);
  const applied = await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 80, targetPort: 9898, gatewayRefs: [{ name: 'public', namespace: 'ingress' }] },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  });
  return { ...(applied as unknown as Canary), ...(status === undefined ? {} : { status }) };
}

const readRoute = (resource: ResourceType, namespace: string): Promise<HTTPRoute | undefined> =>
  client.get<HTTPRoute>(resource, namespace, 'podinfo');

/** Runs `act` and returns the writes it sent. */
async function writesOf(act: () => Promise<void>): Promise<string[]> {
  const before = writes.length;
  await act();
  return writes.slice(before);
}

describe('gatewayapi:v1 on the Gateway API CRDs', () => {
  it('given a canary using every routing field, when reconciling and shifting with session affinity, then the real schema accepts the route and a repeat writes nothing', async () => {
    const namespace = 'gw-full';
    const canary = await givenCanary(
      namespace,
      {
        provider: 'gatewayapi:v1',
        service: {
          port: 80,
          targetPort: 9898,
          hosts: ['app.example.com'],
          gatewayRefs: [{ name: 'public', namespace: 'ingress', sectionName: 'web' }],
          match: [
            { uri: { prefix: '/api' }, method: { exact: 'GET' }, headers: { 'x-tenant': { regex: 't-.*' } } },
          ],
          headers: { request: { set: { 'x-from': 'vireo' } }, response: { remove: ['server'] } },
          rewrite: { uri: '/v2', authority: 'internal.example.com', type: 'ReplacePrefixMatch' },
          mirror: [{ backendRef: { name: 'shadow', port: 8080 } }],
          corsPolicy: { allowOrigin: ['https://app.example.com'], allowMethods: ['GET'], maxAge: '24h' },
          timeout: '30s',
          backendTimeout: '10s',
        },
        analysis: {
          interval: '10s',
          threshold: 2,
          stepWeight: 10,
          sessionAffinity: { cookieName: 'canary-cookie', primaryCookieName: 'primary-cookie', maxAge: 600 },
        },
      },
      {
        sessionAffinityCookie: 'canary-cookie=abcdefghij',
        primarySessionAffinityCookie: 'primary-cookie=klmnopqrst',
      },
    );
    const router = createRouter('gatewayapi:v1', deps);
    await router.reconcile(canary);
    const cookies = { canary: 'canary-cookie=abcdefghij', primary: 'primary-cookie=klmnopqrst' };
    await router.setRoutes(canary, { primaryWeight: 70, canaryWeight: 30, mirrored: false }, cookies);
    const route = (await readRoute(V1, namespace))!;
    expect(route.spec?.rules).toHaveLength(3);
    expect(route.spec?.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'ingress',
        sectionName: 'web',
      },
    ]);
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 70, canaryWeight: 30, mirrored: false });

    const repeat = await writesOf(async () => {
      await router.reconcile(canary);
      await router.setRoutes(canary, { primaryWeight: 70, canaryWeight: 30, mirrored: false }, cookies);
    });
    expect(repeat).toEqual([]);
    expect((await readRoute(V1, namespace))?.metadata.resourceVersion).toBe(route.metadata.resourceVersion);
  });

  it('given A/B conditions on a header and a cookie, when routing to the canary, then the schema accepts the two rules and the routes read back 0/100', async () => {
    const namespace = 'gw-ab';
    const canary = await givenCanary(namespace, {
      provider: 'gatewayapi:v1',
      analysis: {
        interval: '10s',
        threshold: 2,
        iterations: 3,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          {
            headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
            queryParams: { beta: { exact: '1' } },
          },
        ],
      },
    });
    const router = createRouter('gatewayapi:v1', deps);
    await router.reconcile(canary);
    await router.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    const route = (await readRoute(V1, namespace))!;
    expect(
      route.spec?.rules?.map((rule) => rule.backendRefs.map((ref) => `${ref.name}=${ref.weight}`)),
    ).toEqual([['podinfo-primary=0', 'podinfo-canary=100'], ['podinfo-primary=100']]);
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect(await writesOf(() => router.reconcile(canary))).toEqual([]);
  });

  it('given blue/green with mirroring, when mirroring, then the RequestMirror filter to the canary passes the schema, and the end of the iterations removes it', async () => {
    const namespace = 'gw-mirror';
    const canary = await givenCanary(namespace, {
      provider: 'gatewayapi:v1',
      analysis: { interval: '10s', threshold: 2, iterations: 3, mirror: true },
    });
    const router = createRouter('gatewayapi:v1', deps);
    await router.reconcile(canary);
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: true });
    expect((await readRoute(V1, namespace))?.spec?.rules?.[0]?.filters).toEqual([
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 80 } },
      },
    ]);
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: true });
    // A reconcile keeps the mirror in force.
    expect(await writesOf(() => router.reconcile(canary))).toEqual([]);
    await router.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect((await readRoute(V1, namespace))?.spec?.rules?.[0]?.filters).toBeUndefined();
  });

  it('given a route its Gateway refused, or accepted only in an older generation, when reading the routes, then the analysis halts', async () => {
    const namespace = 'gw-accepted';
    const canary = await givenCanary(namespace, { provider: 'gatewayapi:v1' });
    const router = createRouter('gatewayapi:v1', deps);
    await router.reconcile(canary);
    const route = (await readRoute(V1, namespace))!;
    const parentStatus = (status: string, observedGeneration: number) => ({
      parents: [
        {
          parentRef: {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: 'public',
            namespace: 'ingress',
          },
          controllerName: 'example.com/gateway-controller',
          conditions: [
            {
              type: 'Accepted',
              status,
              reason: status === 'True' ? 'Accepted' : 'NotAllowedByListeners',
              message: '',
              observedGeneration,
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        },
      ],
    });
    const generation = route.metadata.generation!;
    const written = await client.replaceStatus(V1, {
      ...route,
      status: parentStatus('False', generation),
    });
    await expect(router.getRoutes(canary)).rejects.toMatchObject({
      code: 'E_HTTPROUTE_NOT_ACCEPTED',
      message: expect.stringContaining('NotAllowedByListeners'),
    });
    const accepted = await client.replaceStatus(V1, {
      ...written,
      status: parentStatus('True', generation),
    });
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: false });
    // A weight change is a new generation: until the Gateway accepts it, the routes are not trusted.
    await router.setRoutes(canary, { primaryWeight: 90, canaryWeight: 10, mirrored: false });
    await expect(router.getRoutes(canary)).rejects.toMatchObject({ code: 'E_HTTPROUTE_NOT_ACCEPTED' });
    const moved = (await readRoute(V1, namespace))!;
    expect(moved.metadata.generation).toBeGreaterThan(generation);
    expect(accepted.metadata.name).toBe('podinfo');
    await client.replaceStatus(V1, {
      ...moved,
      status: parentStatus('True', moved.metadata.generation!),
    });
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 90, canaryWeight: 10, mirrored: false });
  });

  it('given a route the user made, when Vireo takes it over and the canary is deleted with revertOnDeletion, then the user’s spec comes back', async () => {
    const namespace = 'gw-revert';
    await ensureNamespace(client, namespace);
    const own = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'podinfo', namespace, annotations: { 'team.example.com/owner': 'web' } },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'ingress' }],
        hostnames: ['old.example.com'],
        rules: [{ backendRefs: [{ name: 'podinfo', port: 80 }] }],
      },
    };
    const created = await client.create(V1, own);
    const userSpec = (created as unknown as HTTPRoute).spec;
    const canary = await givenCanary(namespace, { provider: 'gatewayapi:v1', revertOnDeletion: true });
    const router = createRouter('gatewayapi:v1', deps);
    await router.reconcile(canary);
    const taken = (await readRoute(V1, namespace))!;
    expect(taken.metadata.ownerReferences).toBeUndefined();
    expect(taken.metadata.annotations?.['team.example.com/owner']).toBe('web');
    expect(JSON.parse(taken.metadata.annotations?.[ORIGINAL_CONFIGURATION] ?? '{}')).toEqual({
      spec: userSpec,
    });
    expect(taken.spec?.rules?.[0]?.backendRefs.map((ref) => ref.name)).toEqual([
      'podinfo-primary',
      'podinfo-canary',
    ]);

    await router.finalize(canary);
    const restored = (await readRoute(V1, namespace))!;
    expect(restored.spec).toEqual(userSpec);
    expect(restored.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
    expect(restored.metadata.annotations?.['team.example.com/owner']).toBe('web');
  });
});

describe('gatewayapi:v1beta1 on the Gateway API CRDs', () => {
  it('given the v1beta1 provider, when reconciling and shifting, then the route is written and read as v1beta1, with Flux hands off and the Canary as owner', async () => {
    const namespace = 'gw-beta';
    const canary = await givenCanary(namespace, {
      provider: 'gatewayapi:v1beta1',
      service: { port: 80, gatewayRefs: [{ name: 'mesh-service', kind: 'Service', group: '', port: 80 }] },
    });
    const router = createRouter('gatewayapi:v1beta1', deps);
    const first = await writesOf(async () => {
      await router.reconcile(canary);
      await router.setRoutes(canary, { primaryWeight: 60, canaryWeight: 40, mirrored: false });
    });
    expect(first).toEqual(
      expect.arrayContaining(['create services', 'create httproutes', 'mergePatch httproutes']),
    );
    const route = (await readRoute(V1BETA1, namespace))!;
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1beta1');
    expect(route.metadata.annotations).toMatchObject({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    expect(route.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'podinfo' });
    expect(route.spec?.parentRefs).toEqual([{ group: '', kind: 'Service', name: 'mesh-service', port: 80 }]);
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 60, canaryWeight: 40, mirrored: false });
    expect(
      await writesOf(async () => {
        await router.reconcile(canary);
        await router.setRoutes(canary, { primaryWeight: 60, canaryWeight: 40, mirrored: false });
      }),
    ).toEqual([]);
  });
});
