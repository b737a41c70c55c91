/**
 * The contour router on a real kube-apiserver serving Contour's own CRDs (its Go module's
 * examples/contour/01-crds.yaml), with Contour's control plane (built from the same module by
 * tools/build-contour.sh) running out of cluster: every HTTPProxy Vireo writes must be accepted by
 * the schema and marked `valid` by Contour itself (docs/routers/contour.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { HTTPPROXIES, type HTTPProxy } from '../../src/platforms/kubernetes/routers/contour.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../../src/platforms/kubernetes/routers/router.js';
import { startContour, type TestContour } from '../support/contour.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { installMeshCrds } from '../support/mesh-crds.js';
import { ensureNamespace, eventually, startKubeTest, type KubeTest } from '../support/kube.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';
import {
  givenInitializedCanary,
  primaryImage,
  rollOut,
  type RolloutCase,
  type RolloutWorld,
} from '../support/router-rollouts.js';

let client: KubeClient;
let kube: KubeTest;
let contour: TestContour | undefined;
let deps: RouterDeps;

interface ProxyStatus {
  currentStatus?: string;
  description?: string;
  conditions?: { type: string; status: string; observedGeneration?: number }[];
}

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  deps = {
    client,
    reader: new DirectReader(client),
    options: { ...DEFAULT_PLATFORM_OPTIONS, ingressClass: 'contour' },
  };
  await installMeshCrds(client, 'contour');
  contour = await startContour({
    kubeconfigPath: kube.cluster.kubeconfigPath,
    log: (line) => console.log(`[contour] ${line}`),
  });
}, 600_000);

afterAll(async () => {
  await contour?.stop();
  await kube?.stop();
}, 60_000);

async function givenCanary(namespace: string, spec: Record<string, unknown>): Promise<Canary> {
  await ensureNamespace(client, namespace);
  await client.apply(RESOURCES.deployments, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: { containers: [{ name: 'podinfod', image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }] },
      },
    },
  });
  // The user's root proxy, as in Flagger's Contour tutorial: it includes the one Vireo writes.
  await client.apply(HTTPPROXIES, {
    metadata: { name: 'podinfo-root', namespace },
    spec: {
      ingressClassName: 'contour',
      virtualhost: { fqdn: `${namespace}.example.com` },
      includes: [{ name: 'podinfo', namespace }],
    },
  });
  return (await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      provider: 'contour',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  })) as unknown as Canary;
}

const getProxy = async (namespace: string, name = 'podinfo'): Promise<HTTPProxy & { status?: ProxyStatus }> =>
  (await client.get<HTTPProxy & { status?: ProxyStatus }>(HTTPPROXIES, namespace, name))!;

/** Contour's verdict on the proxy's current generation. */
async function contourVerdict(namespace: string, name = 'podinfo'): Promise<ProxyStatus> {
  const judged = await eventually(
    () => getProxy(namespace, name),
    (proxy) =>
      proxy.status?.conditions?.some(
        (condition) =>
          condition.type === 'Valid' && condition.observedGeneration === proxy.metadata.generation,
      ) ?? false,
    120_000,
    `Contour's status on HTTPProxy ${namespace}/${name} for its current generation`,
  );
  return judged.status ?? {};
}

async function writesDuring(action: () => Promise<void>): Promise<number> {
  const writes = (): number => {
    const counts = client.counter.snapshot();
    return (counts['create'] ?? 0) + (counts['update'] ?? 0) + (counts['patch'] ?? 0);
  };
  const before = writes();
  await action();
  return writes() - before;
}

const weightsOf = (proxy: HTTPProxy) =>
  proxy.spec?.routes?.map((route) => route.services.map((service) => [service.name, service.weight]));

describe('a weighted canary', () => {
  const namespace = 'contour-weighted';
  let canary: Canary;

  beforeAll(async () => {
    canary = await givenCanary(namespace, {
      service: {
        port: 9898,
        timeout: '15s',
        retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error,connect-failure' },
        headers: { request: { set: { 'x-routed-by': 'vireo' } }, response: { remove: ['server'] } },
      },
    });
  }, 60_000);

  it('given a Canary and a root proxy including podinfo, when the router reconciles, then HTTPProxy podinfo routes 100/0 with the policies, belongs to the Canary, and Contour marks it valid', async () => {
    await createRouter('contour', deps).reconcile(canary);
    const proxy = await getProxy(namespace);
    expect(proxy.spec?.ingressClassName).toBe('contour');
    expect(weightsOf(proxy)).toEqual([
      [
        ['podinfo-primary', 100],
        ['podinfo-canary', 0],
      ],
    ]);
    expect(proxy.spec?.routes?.[0]).toMatchObject({
      conditions: [{ prefix: '/' }],
      timeoutPolicy: { response: '15s' },
      retryPolicy: { count: 3, perTryTimeout: '5s', retryOn: ['gateway-error', 'connect-failure'] },
      requestHeadersPolicy: { set: [{ name: 'x-routed-by', value: 'vireo' }] },
      responseHeadersPolicy: { remove: ['server'] },
    });
    expect(proxy.spec?.routes?.[0]?.services[1]?.requestHeadersPolicy).toEqual({
      set: [{ name: 'l5d-dst-override', value: `podinfo-canary.${namespace}.svc.cluster.local:9898` }],
    });
    expect(proxy.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', controller: true }),
    ]);
    expect(proxy.metadata.annotations).toMatchObject({ 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' });
    expect(await contourVerdict(namespace)).toMatchObject({ currentStatus: 'valid' });
  });

  it('given the proxy, when stepping 90/10 then 70/30, then the weights are in the object at each step, read back, and Contour still finds it valid', async () => {
    const router = createRouter('contour', deps);
    for (const [primaryWeight, canaryWeight] of [
      [90, 10],
      [70, 30],
    ] as const) {
      await router.setRoutes(canary, { primaryWeight, canaryWeight, mirrored: false });
      expect(weightsOf(await getProxy(namespace))).toEqual([
        [
          ['podinfo-primary', primaryWeight],
          ['podinfo-canary', canaryWeight],
        ],
      ]);
      expect(await router.getRoutes(canary)).toEqual({ primaryWeight, canaryWeight, mirrored: false });
      expect(await contourVerdict(namespace)).toMatchObject({ currentStatus: 'valid' });
    }
  });

  it('given weights in force, when reconciling again, then no write is sent and the weights stay', async () => {
    const router = createRouter('contour', deps);
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 70, canaryWeight: 30 });
  });

  it('given a failed analysis, when routing back to 100/0, then the primary has everything again', async () => {
    const router = createRouter('contour', deps);
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(weightsOf(await getProxy(namespace))).toEqual([
      [
        ['podinfo-primary', 100],
        ['podinfo-canary', 0],
      ],
    ]);
  });
});

describe('A/B testing', () => {
  const namespace = 'contour-ab';

  it('given header matches, when routing to the canary and back, then the match routes go to the canary ahead of the primary route and Contour finds the proxy valid', async () => {
    const canary = await givenCanary(namespace, {
      service: { port: 9898, match: [{ uri: { prefix: '/api' } }], rewrite: { uri: '/' } },
      analysis: {
        interval: '10s',
        threshold: 2,
        iterations: 5,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { cookie: { suffix: 'canary=always' } } },
        ],
      },
    });
    const router = createRouter('contour', deps);
    await router.reconcile(canary);
    await router.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    const proxy = await getProxy(namespace);
    expect(proxy.spec?.routes?.map((route) => route.conditions)).toEqual([
      [{ prefix: '/api' }, { header: { name: 'x-canary', exact: 'insider' } }],
      [{ prefix: '/api' }, { header: { name: 'cookie', regex: '.*canary=always$' } }],
      [{ prefix: '/api' }],
    ]);
    expect(weightsOf(proxy)).toEqual([
      [
        ['podinfo-primary', 0],
        ['podinfo-canary', 100],
      ],
      [
        ['podinfo-primary', 0],
        ['podinfo-canary', 100],
      ],
      [
        ['podinfo-primary', 100],
        ['podinfo-canary', 0],
      ],
    ]);
    expect(proxy.spec?.routes?.[2]?.pathRewritePolicy).toEqual({
      replacePrefix: [{ prefix: '/api', replacement: '/' }],
    });
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 0, canaryWeight: 100 });
    expect(await contourVerdict(namespace)).toMatchObject({ currentStatus: 'valid' });
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
  });
});

describe("Contour's verdict can fail", () => {
  it('given an HTTPProxy routing to a Service that does not exist, when Contour judges it, then it is marked invalid (so valid above is a real verdict)', async () => {
    const namespace = 'contour-negative';
    await ensureNamespace(client, namespace);
    await client.apply(HTTPPROXIES, {
      metadata: { name: 'broken', namespace },
      spec: {
        virtualhost: { fqdn: 'broken.example.com' },
        routes: [{ conditions: [{ prefix: '/' }], services: [{ name: 'missing', port: 80 }] }],
      },
    });
    expect(await contourVerdict(namespace, 'broken')).toMatchObject({ currentStatus: 'invalid' });
  });
});

describe('vireo controller with the contour router', () => {
  let controller: ControllerProcess | undefined;
  let passing: RecordingServer;
  let failing: RecordingServer;
  let world: RolloutWorld;

  beforeAll(async () => {
    // The controller watches the kinds of every router it implements, SMI's TrafficSplit among them.
    await installMeshCrds(client, 'smi');
    [passing, failing] = await Promise.all([
      startRecordingServer(),
      startRecordingServer(() => ({ status: 500, body: 'acceptance tests failed' })),
    ]);
    controller = await startControllerProcess(kube.cluster.kubeconfigPath, ['--ingress-class', 'contour']);
    world = { client, controller };
  }, 600_000);

  afterAll(async () => {
    if (controller !== undefined) {
      const code = await controller.stop('SIGTERM');
      if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
    }
    await Promise.allSettled([passing?.close(), failing?.close()]);
  }, 60_000);

  const contourCase = (namespace: string, webhookUrl: () => string): RolloutCase => ({
    namespace,
    provider: 'contour',
    get webhookUrl() {
      return webhookUrl();
    },
    before: async () => {
      await client.apply(HTTPPROXIES, {
        metadata: { name: 'podinfo-root', namespace },
        spec: {
          ingressClassName: 'contour',
          virtualhost: { fqdn: `${namespace}.example.com` },
          includes: [{ name: 'podinfo', namespace }],
        },
      });
    },
    canaryWeight: async () => {
      const proxy = await client.get<HTTPProxy>(HTTPPROXIES, namespace, 'podinfo');
      return proxy?.spec?.routes?.[0]?.services.find((service) => service.name === 'podinfo-canary')?.weight;
    },
  });

  it('given a contour Canary, when the image changes, then the HTTPProxy moves 20, 40, 60 % to the canary at each step, Contour finds it valid, and the canary is promoted with the canary at 0', async () => {
    const rollout = contourCase('contour-controller-promote', () => passing.url);
    await givenInitializedCanary(world, rollout);
    expect(await rollout.canaryWeight()).toBe(0);
    expect((await getProxy(rollout.namespace)).spec?.ingressClassName).toBe('contour');
    const weights = await rollOut(world, rollout, 'ghcr.io/stefanprodan/podinfo:6.0.1', ['Succeeded']);
    expect(weights.filter((weight) => weight !== 0)).toEqual([20, 40, 60]);
    expect(weights.at(-1)).toBe(0);
    expect(await primaryImage(client, rollout.namespace)).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
    expect(await contourVerdict(rollout.namespace)).toMatchObject({ currentStatus: 'valid' });
  }, 400_000);

  it('given a contour Canary whose acceptance webhook fails, when the image changes, then it rolls back: the canary is at 0 again and the primary keeps the old image', async () => {
    const rollout = contourCase('contour-controller-rollback', () => failing.url);
    await givenInitializedCanary(world, rollout);
    const weights = await rollOut(world, rollout, 'ghcr.io/stefanprodan/podinfo:6.0.1', ['Failed']);
    expect(weights.at(-1)).toBe(0);
    expect(await primaryImage(client, rollout.namespace)).toBe('ghcr.io/stefanprodan/podinfo:6.0.0');
  }, 400_000);
});
