/**
 * Knative Service targets and the knative router on a real kube-apiserver with Knative Serving's
 * own CRDs (knative.dev/serving): every object is validated by Knative's schema. Knative's
 * controller cannot run here (it needs its networking layer), so `actAsKnative` writes what it
 * would report: the latest created revision, Revisions with a Ready condition, and status.traffic
 * resolved from spec.traffic. What is asserted is Vireo's side: what it writes and reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import { KubernetesWorkloads } from '../../src/platforms/kubernetes/workloads/index.js';
import type {
  KnativeRevision,
  KnativeService,
  KnativeTrafficTarget,
} from '../../src/platforms/kubernetes/workloads/types.js';
import { startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';

const NS = 'knative-test';
let kube: KubeTest;
let client: KubeClient;

beforeAll(async () => {
  kube = await startKubeTest({ namespaces: [NS] });
  client = kube.client;
  await installMeshCrds(client, 'knative');
}, 600_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

const readService = async () => (await client.get<KnativeService>(RESOURCES.knativeServices, NS, 'hello'))!;

/** What Knative's controller would report for the Service: `latest` created, traffic resolved. */
async function actAsKnative(latest: string, ready: readonly string[]): Promise<void> {
  for (const name of new Set([latest, ...ready])) {
    const revision = await client.apply<KnativeRevision>(RESOURCES.knativeRevisions, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: { name, namespace: NS },
      spec: { containers: [{ image: `ghcr.io/example/hello:${name}` }] },
    });
    await client.replaceStatus(RESOURCES.knativeRevisions, {
      ...revision,
      status: { conditions: [{ type: 'Ready', status: ready.includes(name) ? 'True' : 'Unknown' }] },
    });
  }
  const service = await readService();
  const traffic: KnativeTrafficTarget[] = (
    service.spec?.traffic ?? [{ latestRevision: true, percent: 100 }]
  ).map((entry) => ({
    revisionName: entry.latestRevision === true ? latest : entry.revisionName,
    latestRevision: entry.latestRevision === true,
    percent: entry.percent ?? 0,
  }));
  await client.replaceStatus(RESOURCES.knativeServices, {
    ...service,
    status: { latestCreatedRevisionName: latest, latestReadyRevisionName: ready.at(-1), traffic },
  });
}

const canary = (): Canary =>
  ({
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'hello', namespace: NS, uid: 'c0ffee00-0000-4000-8000-00000000000a' },
    spec: {
      provider: 'knative',
      targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
      analysis: { interval: '10s', threshold: 2, stepWeight: 20, maxWeight: 60 },
    },
  }) as Canary;

describe('a Knative Service target routed by the knative provider', () => {
  it('records the primary revision, splits traffic between it and the latest revision, promotes, and finalizes', async () => {
    const deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
    const workloads = new KubernetesWorkloads({
      ...deps,
      restoreBackoff: { initialMs: 100, factor: 2, steps: 2 },
    });
    const router = createRouter('knative', deps);
    await client.apply(RESOURCES.knativeServices, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'hello', namespace: NS },
      spec: { template: { spec: { containers: [{ image: 'ghcr.io/example/hello:v1' }] } } },
    });

    // Before Knative created a revision: nothing to record yet, said plainly.
    await expect(workloads.ensurePrimary(canary())).rejects.toThrow(/has no latestCreatedRevisionName yet/);

    await actAsKnative('hello-00001', ['hello-00001']);
    await workloads.ensurePrimary(canary());
    await router.reconcile(canary());
    let service = await readService();
    expect(service.metadata.annotations?.['flagger.app/primary-revision']).toBe('hello-00001');
    expect(service.spec?.traffic).toEqual([
      { latestRevision: true, percent: 0 },
      { revisionName: 'hello-00001', latestRevision: false, percent: 100 },
    ]);
    expect(await workloads.primaryReadiness(canary())).toEqual({ ready: true });
    const first = await workloads.revision(canary());

    // A new template: Knative creates hello-00002; it is the canary, not ready at first.
    await actAsKnative('hello-00002', ['hello-00001']);
    const second = await workloads.revision(canary());
    expect(second.specHash).not.toBe(first.specHash);
    expect(await workloads.canaryReadiness(canary())).toMatchObject({ ready: false, retriable: true });
    await actAsKnative('hello-00002', ['hello-00001', 'hello-00002']);
    expect(await workloads.canaryReadiness(canary())).toEqual({ ready: true });

    await router.setRoutes(canary(), { primaryWeight: 60, canaryWeight: 40, mirrored: false });
    await actAsKnative('hello-00002', ['hello-00001', 'hello-00002']);
    expect(await router.getRoutes(canary())).toEqual({
      primaryWeight: 60,
      canaryWeight: 40,
      mirrored: false,
    });
    // A second identical setRoutes writes nothing.
    const before = (await readService()).metadata.resourceVersion;
    await router.setRoutes(canary(), { primaryWeight: 60, canaryWeight: 40, mirrored: false });
    expect((await readService()).metadata.resourceVersion).toBe(before);

    await workloads.promote(canary());
    await router.setRoutes(canary(), { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    service = await readService();
    expect(service.metadata.annotations?.['flagger.app/primary-revision']).toBe('hello-00002');
    expect(service.spec?.traffic).toEqual([
      { latestRevision: true, percent: 0 },
      { revisionName: 'hello-00002', latestRevision: false, percent: 100 },
    ]);
    expect((await workloads.revision(canary())).primaryRunsTarget).toBe(true);

    await router.finalize(canary());
    service = await readService();
    expect(service.metadata.annotations?.['flagger.app/primary-revision']).toBeUndefined();
    // No generated Services for a Knative target.
    expect(await client.get(RESOURCES.services, NS, 'hello-primary')).toBeUndefined();
    expect(await client.get(RESOURCES.services, NS, 'hello-canary')).toBeUndefined();
  }, 300_000);
});
