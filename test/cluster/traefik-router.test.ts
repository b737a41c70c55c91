/**
 * The traefik router (docs/routers/traefik.md) on a real kube-apiserver serving Traefik's own
 * CRDs (tools/mesh-crds/modules.tsv, github.com/traefik/traefik/v3): the TraefikService it
 * writes is accepted and read back whole (a field outside Traefik's schema would be pruned, and
 * the read-back comparison would fail), the user's IngressRoute routes to it, and a TraefikService
 * the user made is taken over and given back on revertOnDeletion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../../src/platforms/kubernetes/routers/router.js';
import {
  ORIGINAL_CONFIGURATION,
  TRAEFIK_SERVICES,
  type TraefikService,
} from '../../src/platforms/kubernetes/routers/traefik.js';
import { ensureNamespace, startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';

let client: KubeClient;
let kube: KubeTest;
let deps: RouterDeps;

const INGRESS_ROUTES: ResourceType = {
  group: 'traefik.io',
  version: 'v1alpha1',
  plural: 'ingressroutes',
  kind: 'IngressRoute',
  namespaced: true,
};

const FLUX_HANDS_OFF = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  await installMeshCrds(client, 'traefik');
  deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
}, 600_000);

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
        spec: { containers: [{ name: 'podinfod', image: 'ghcr.io/stefanprodan/podinfo:6.0.0' }] },
      },
    },
  });
}

async function givenCanary(namespace: string): Promise<Canary> {
  const applied = await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      provider: 'traefik',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 80, targetPort: 9898 },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
    },
  });
  return applied as unknown as Canary;
}

const getTraefikService = async (namespace: string): Promise<TraefikService | undefined> =>
  client.get<TraefikService>(TRAEFIK_SERVICES, namespace, 'podinfo');

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

describe('the TraefikService of a Canary with provider traefik', () => {
  const namespace = 'traefik-owned';
  let canary: Canary;

  beforeAll(async () => {
    await givenDeployment(namespace);
    canary = await givenCanary(namespace);
  });

  it('given a new Canary, when the router reconciles, then TraefikService podinfo sends everything to podinfo-primary, belongs to the Canary and keeps Flux off', async () => {
    await createRouter('traefik', deps).reconcile(canary);
    const service = await getTraefikService(namespace);
    expect(service?.spec).toEqual({
      weighted: { services: [{ name: 'podinfo-primary', namespace, port: 80, weight: 100 }] },
    });
    expect(service?.metadata.annotations).toEqual(FLUX_HANDS_OFF);
    expect(service?.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', controller: true }),
    ]);
    expect(await createRouter('traefik', deps).getRoutes(canary)).toEqual({
      primaryWeight: 100,
      canaryWeight: 0,
      mirrored: false,
    });
  });

  it("given the user's IngressRoute, when it names TraefikService podinfo, then Traefik's schema accepts it", async () => {
    const route = await client.create<KubeObject>(INGRESS_ROUTES, {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'IngressRoute',
      metadata: { name: 'podinfo', namespace },
      spec: {
        entryPoints: ['web'],
        routes: [
          {
            match: 'Host(`app.example.com`)',
            kind: 'Rule',
            services: [{ name: 'podinfo', kind: 'TraefikService' }],
          },
        ],
      },
    });
    expect((route as { spec?: unknown }).spec).toMatchObject({
      routes: [{ services: [{ name: 'podinfo', kind: 'TraefikService' }] }],
    });
  });

  it('given 80/20, when setting routes, then the canary entry appears with weight 20 and getRoutes reads 80/20', async () => {
    const router = createRouter('traefik', deps);
    await router.setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirrored: false });
    expect((await getTraefikService(namespace))?.spec?.weighted?.services).toEqual([
      { name: 'podinfo-primary', namespace, port: 80, weight: 80 },
      { name: 'podinfo-canary', namespace, port: 80, weight: 20 },
    ]);
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 80, canaryWeight: 20, mirrored: false });
  });

  it('given 80/20 in force, when reconciling or setting the same routes again, then no write is sent and the weights stay', async () => {
    const router = createRouter('traefik', deps);
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    expect(
      await writesDuring(() =>
        router.setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirrored: false }),
      ),
    ).toBe(0);
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 80, canaryWeight: 20 });
  });

  it('given the primary entry removed by hand, when reconciling, then it is put back at 100/0', async () => {
    await client.mergePatch(TRAEFIK_SERVICES, namespace, 'podinfo', {
      spec: { weighted: { services: [{ name: 'podinfo-canary', namespace, port: 80, weight: 20 }] } },
    });
    await expect(createRouter('traefik', deps).getRoutes(canary)).rejects.toMatchObject({
      code: 'E_TRAEFIK_SERVICE',
    });
    await createRouter('traefik', deps).reconcile(canary);
    expect((await getTraefikService(namespace))?.spec?.weighted?.services).toEqual([
      { name: 'podinfo-primary', namespace, port: 80, weight: 100 },
    ]);
  });

  it('given the canary at 0 after a rollback, when setting routes, then the canary entry is gone', async () => {
    const router = createRouter('traefik', deps);
    await router.setRoutes(canary, { primaryWeight: 40, canaryWeight: 60, mirrored: false });
    await router.setRoutes(canary, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect((await getTraefikService(namespace))?.spec?.weighted?.services).toEqual([
      { name: 'podinfo-primary', namespace, port: 80, weight: 100 },
    ]);
  });

  it('given the Canary owns it, when finalizing (revertOnDeletion), then the TraefikService is left to garbage collection unchanged', async () => {
    const before = await getTraefikService(namespace);
    expect(await writesDuring(() => createRouter('traefik', deps).finalize(canary))).toBe(0);
    expect((await getTraefikService(namespace))?.spec).toEqual(before?.spec);
  });
});

describe('a TraefikService the user made before the Canary', () => {
  const namespace = 'traefik-user';
  const userSpec = { weighted: { services: [{ name: 'podinfo', namespace, port: 80, weight: 1 }] } };
  let canary: Canary;

  beforeAll(async () => {
    await givenDeployment(namespace);
    await client.create<TraefikService>(TRAEFIK_SERVICES, {
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'TraefikService',
      metadata: { name: 'podinfo', namespace, annotations: { team: 'web' } },
      spec: userSpec,
    });
    canary = await givenCanary(namespace);
  });

  it('given it exists, when the router reconciles, then it routes to podinfo-primary, keeps its owner and saves its spec', async () => {
    await createRouter('traefik', deps).reconcile(canary);
    const service = await getTraefikService(namespace);
    expect(service?.metadata.ownerReferences).toBeUndefined();
    expect(service?.spec?.weighted?.services).toEqual([
      { name: 'podinfo-primary', namespace, port: 80, weight: 100 },
    ]);
    expect(service?.metadata.annotations).toEqual({
      team: 'web',
      ...FLUX_HANDS_OFF,
      [ORIGINAL_CONFIGURATION]: JSON.stringify(userSpec),
    });
    await createRouter('traefik', deps).setRoutes(canary, {
      primaryWeight: 50,
      canaryWeight: 50,
      mirrored: false,
    });
    await createRouter('traefik', deps).reconcile(canary);
    // The saved spec is the user's, not one Vireo wrote.
    expect((await getTraefikService(namespace))?.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBe(
      JSON.stringify(userSpec),
    );
  });

  it('given revertOnDeletion, when finalizing, then its own spec and annotations are back', async () => {
    await createRouter('traefik', deps).finalize(canary);
    const service = await getTraefikService(namespace);
    expect(service?.spec).toEqual(userSpec);
    expect(service?.metadata.annotations).toEqual({ team: 'web' });
  });
});
