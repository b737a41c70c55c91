/**
 * The SMI routers (linkerd, osm, smi:v1alpha1-3, smi:crossover and Flagger's smi:<version>:<mesh>
 * names) on a real kube-apiserver serving SMI's own TrafficSplit CRD (smi-sdk-go's crds/split.yaml,
 * converted to apiextensions v1 with every version served): the split each writes, at the version
 * Flagger writes, validated by that schema; weights moved and read back; a reconcile with nothing
 * to change sends no write and never moves traffic (docs/routers/smi.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../../src/platforms/kubernetes/routers/router.js';
import type { TrafficSplit } from '../../src/platforms/kubernetes/routers/smi.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { installMeshCrds } from '../support/mesh-crds.js';
import { ensureNamespace, startKubeTest, type KubeTest } from '../support/kube.js';
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
let deps: RouterDeps;

const splitAt = (version: string): ResourceType => ({
  group: 'split.smi-spec.io',
  version,
  plural: 'trafficsplits',
  kind: 'TrafficSplit',
  namespaced: true,
});

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
  await installMeshCrds(client, 'smi');
}, 600_000);

afterAll(async () => {
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
  return (await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  })) as unknown as Canary;
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

const backendsOf = (split: TrafficSplit | undefined) =>
  split?.spec?.backends?.map((backend) => [backend.service, backend.weight]);

describe.each([
  ['linkerd', 'v1alpha1'],
  ['smi:v1alpha1', 'v1alpha1'],
  ['smi:v1alpha2', 'v1alpha2'],
  ['smi:v1alpha3', 'v1alpha3'],
  ['smi:v1alpha3:linkerd', 'v1alpha3'],
  ['osm', 'v1alpha2'],
  ['smi:crossover', 'v1alpha1'],
])('provider %s', (provider, version) => {
  const namespace = `smi-${provider.replaceAll(':', '-')}`;
  let canary: Canary;

  beforeAll(async () => {
    // The CRD's provider enum is Flagger's: a `:<mesh>` name comes from --mesh-provider only.
    canary = await givenCanary(namespace, provider.split(':').length === 3 ? {} : { provider });
  }, 60_000);

  it(`given a Canary, when the router reconciles, then TrafficSplit podinfo (${version}) sends everything to the primary, belongs to the Canary and keeps Flux off`, async () => {
    await createRouter(provider, deps).reconcile(canary);
    const split = await client.get<TrafficSplit>(splitAt(version), namespace, 'podinfo');
    expect(split?.apiVersion).toBe(`split.smi-spec.io/${version}`);
    expect(split?.spec?.service).toBe('podinfo');
    expect(backendsOf(split)).toEqual([
      ['podinfo-canary', 0],
      ['podinfo-primary', 100],
    ]);
    expect(split?.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', controller: true }),
    ]);
    expect(split?.metadata.annotations).toEqual({
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    // The backends it names are the generated Services.
    expect((await client.get(RESOURCES.services, namespace, 'podinfo-canary'))?.metadata.name).toBe(
      'podinfo-canary',
    );
  });

  it('given the split, when stepping 90/10 then 60/40, then the object says so at each step and getRoutes reads it back', async () => {
    const router = createRouter(provider, deps);
    for (const [primaryWeight, canaryWeight] of [
      [90, 10],
      [60, 40],
    ] as const) {
      await router.setRoutes(canary, { primaryWeight, canaryWeight, mirrored: false });
      const split = await client.get<TrafficSplit>(splitAt(version), namespace, 'podinfo');
      expect(backendsOf(split)).toEqual([
        ['podinfo-canary', canaryWeight],
        ['podinfo-primary', primaryWeight],
      ]);
      expect(await router.getRoutes(canary)).toEqual({ primaryWeight, canaryWeight, mirrored: false });
    }
  });

  it('given weights in force, when reconciling again, then no write is sent and the weights stay', async () => {
    const router = createRouter(provider, deps);
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 60, canaryWeight: 40 });
  });

  it('given a failed analysis, when routing back to 100/0, then the primary has everything again', async () => {
    const router = createRouter(provider, deps);
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(backendsOf(await client.get<TrafficSplit>(splitAt(version), namespace, 'podinfo'))).toEqual([
      ['podinfo-canary', 0],
      ['podinfo-primary', 100],
    ]);
    expect(
      await writesDuring(() =>
        router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: false }),
      ),
    ).toBe(0);
  });
});

describe('smi:v1alpha1:istio with gateways', () => {
  it('given spec.service.gateways, when reconciling, then the split carries them for the SMI Istio adapter, and dropping them drops the annotation', async () => {
    const namespace = 'smi-istio-gateways';
    // --mesh-provider smi:v1alpha1:istio (the CRD's provider enum has no `:<mesh>` names).
    const canary = await givenCanary(namespace, {
      service: { port: 9898, gateways: ['public-gateway.istio-system'] },
    });
    const router = createRouter('smi:v1alpha1:istio', deps);
    await router.reconcile(canary);
    const split = await client.get<TrafficSplit>(splitAt('v1alpha1'), namespace, 'podinfo');
    expect(split?.metadata.annotations?.['VirtualService.v1alpha3.networking.istio.io/spec.gateways']).toBe(
      '["public-gateway.istio-system"]',
    );
    await router.reconcile({ ...canary, spec: { ...canary.spec, service: { port: 9898 } } });
    const after = await client.get<TrafficSplit>(splitAt('v1alpha1'), namespace, 'podinfo');
    expect(after?.metadata.annotations).not.toHaveProperty(
      'VirtualService.v1alpha3.networking.istio.io/spec.gateways',
    );
  });
});

describe('linkerd with hosts', () => {
  it('given spec.service.hosts, when reconciling, then the split routes the first host', async () => {
    const namespace = 'smi-linkerd-hosts';
    const canary = await givenCanary(namespace, {
      provider: 'linkerd',
      service: { port: 9898, hosts: ['podinfo.smi-linkerd-hosts.svc.cluster.local'] },
    });
    await createRouter('linkerd', deps).reconcile(canary);
    const split = await client.get<TrafficSplit>(splitAt('v1alpha1'), namespace, 'podinfo');
    expect(split?.spec?.service).toBe('podinfo.smi-linkerd-hosts.svc.cluster.local');
  });
});

describe('vireo controller with the linkerd router', () => {
  let controller: ControllerProcess | undefined;
  let passing: RecordingServer;
  let failing: RecordingServer;
  let world: RolloutWorld;

  beforeAll(async () => {
    // The controller watches the kinds of every router it implements, Contour's among them.
    await installMeshCrds(client, 'contour');
    [passing, failing] = await Promise.all([
      startRecordingServer(),
      startRecordingServer(() => ({ status: 500, body: 'acceptance tests failed' })),
    ]);
    controller = await startControllerProcess(kube.cluster.kubeconfigPath);
    world = { client, controller };
  }, 600_000);

  afterAll(async () => {
    if (controller !== undefined) {
      const code = await controller.stop('SIGTERM');
      if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
    }
    await Promise.allSettled([passing?.close(), failing?.close()]);
  }, 60_000);

  const linkerdCase = (namespace: string, webhookUrl: () => string): RolloutCase => ({
    namespace,
    provider: 'linkerd',
    get webhookUrl() {
      return webhookUrl();
    },
    canaryWeight: async () => {
      const split = await client.get<TrafficSplit>(splitAt('v1alpha1'), namespace, 'podinfo');
      const weight = split?.spec?.backends?.find((backend) => backend.service === 'podinfo-canary')?.weight;
      return weight === undefined ? undefined : Number(weight);
    },
  });

  it('given a linkerd Canary, when the image changes, then the TrafficSplit moves 20, 40, 60 % to the canary at each step, and the canary is promoted with the split back at 0', async () => {
    const rollout = linkerdCase('smi-controller-promote', () => passing.url);
    await givenInitializedCanary(world, rollout);
    expect(await rollout.canaryWeight()).toBe(0);
    const weights = await rollOut(world, rollout, 'ghcr.io/stefanprodan/podinfo:6.0.1', ['Succeeded']);
    expect(weights.filter((weight) => weight !== 0)).toEqual([20, 40, 60]);
    expect(weights.at(-1)).toBe(0);
    expect(await primaryImage(client, rollout.namespace)).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
  }, 400_000);

  it('given a linkerd Canary whose acceptance webhook fails, when the image changes, then it rolls back: the split is at 0 again and the primary keeps the old image', async () => {
    const rollout = linkerdCase('smi-controller-rollback', () => failing.url);
    await givenInitializedCanary(world, rollout);
    const weights = await rollOut(world, rollout, 'ghcr.io/stefanprodan/podinfo:6.0.1', ['Failed']);
    expect(weights.at(-1)).toBe(0);
    expect(await primaryImage(client, rollout.namespace)).toBe('ghcr.io/stefanprodan/podinfo:6.0.0');
  }, 400_000);
});
