/**
 * KubernetesWorkloads on a real kube-apiserver, kube-controller-manager and kwok: the primary and
 * its configs as docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers describes them, scaling, content-idempotent promotion, readiness from real
 * rollouts, HPAs, DaemonSets, Service targets and revertOnDeletion's restore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { KubernetesWorkloads } from '../../src/platforms/kubernetes/workloads/index.js';
import type {
  ConfigMap,
  DaemonSet,
  Deployment,
  HorizontalPodAutoscaler,
  ScaledObject,
  Secret,
  Service,
} from '../../src/platforms/kubernetes/workloads/types.js';
import { NEVER_READY_ANNOTATION, type TestCluster } from '../support/cluster.js';
import { eventually, startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';

const NS = 'workloads';
let cluster: TestCluster;
let client: KubeClient;
let kube: KubeTest;
let workloads: KubernetesWorkloads;

beforeAll(async () => {
  kube = await startKubeTest({ namespaces: [NS] });
  ({ cluster, client } = kube);
  workloads = new KubernetesWorkloads({
    client,
    reader: new DirectReader(client),
    options: { ...DEFAULT_PLATFORM_OPTIONS, includeLabelPrefix: ['app.kubernetes.io'] },
    restoreBackoff: { initialMs: 500, factor: 2, steps: 6 },
  });
}, 180_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

const WRITE_VERBS = ['create', 'update', 'patch', 'delete'];
const writes = (): number =>
  Object.entries(client.counter.snapshot())
    .filter(([verb]) => WRITE_VERBS.includes(verb))
    .reduce((sum, [, count]) => sum + count, 0);

const get = <T extends KubeObject>(resource: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
  client.get<T>(resource, NS, name);

async function canaryFor(name: string, spec: Record<string, unknown> = {}): Promise<Canary> {
  await client.apply(RESOURCES.canaries, {
    metadata: { name, namespace: NS },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 80 },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  });
  return (await client.get<KubeObject>(RESOURCES.canaries, NS, name)) as unknown as Canary;
}

function deployment(
  name: string,
  options: { image?: string; replicas?: number; annotations?: Record<string, string>; podSpec?: object } = {},
): Deployment {
  return {
    metadata: {
      name,
      namespace: NS,
      labels: { app: name, 'app.kubernetes.io/name': name, team: 'payments' },
      annotations: { 'kustomize.toolkit.fluxcd.io/checksum': 'abc', 'example.com/owner': 'payments' },
    },
    spec: {
      replicas: options.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          ...(options.annotations ? { annotations: options.annotations } : {}),
        },
        spec: { containers: [{ name: 'app', image: options.image ?? 'podinfo:6.0.0' }], ...options.podSpec },
      },
    },
  };
}

const ready = (deploymentObject: Deployment | undefined, replicas: number): boolean =>
  deploymentObject !== undefined &&
  (deploymentObject.status?.observedGeneration ?? 0) >= (deploymentObject.metadata.generation ?? 1) &&
  deploymentObject.status?.availableReplicas === replicas &&
  deploymentObject.status.updatedReplicas === replicas;

describe('KubernetesWorkloads on a Deployment', () => {
  it('given a Deployment using a ConfigMap and a Secret, when ensurePrimary runs, then the primary has the docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers metadata, selector and flagger-id, the configs are copied to -primary and the pod spec points at them', async () => {
    await client.apply(RESOURCES.configMaps, {
      metadata: {
        name: 'app-config',
        namespace: NS,
        labels: { 'app.kubernetes.io/part-of': 'x', other: 'y' },
      },
      data: { color: 'blue' },
    });
    await client.apply(RESOURCES.secrets, {
      metadata: { name: 'app-secret', namespace: NS },
      type: 'Opaque',
      stringData: { token: 't0' },
    });
    await client.apply(
      RESOURCES.deployments,
      deployment('podinfo', {
        podSpec: {
          volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
          containers: [
            {
              name: 'app',
              image: 'podinfo:6.0.0',
              envFrom: [
                { secretRef: { name: 'app-secret' } },
                { configMapRef: { name: 'absent', optional: true } },
              ],
            },
          ],
        },
      }),
    );
    const canary = await canaryFor('podinfo');
    const uid = (canary.metadata as unknown as { uid: string }).uid;

    await workloads.ensurePrimary(canary);

    const primary = await get<Deployment>(RESOURCES.deployments, 'podinfo-primary');
    expect(primary?.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'podinfo', app: 'podinfo-primary' });
    expect(primary?.metadata.annotations).toMatchObject({ 'example.com/owner': 'payments' });
    expect(Object.keys(primary?.metadata.annotations ?? {}).some((key) => key.includes('fluxcd'))).toBe(
      false,
    );
    expect(primary?.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'flagger.app/v1beta1',
        kind: 'Canary',
        name: 'podinfo',
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(primary?.spec.replicas).toBe(2);
    expect(primary?.spec.selector).toEqual({ matchLabels: { app: 'podinfo-primary' } });
    expect(primary?.spec.template.metadata?.labels).toEqual({ app: 'podinfo-primary' });
    expect(primary?.spec.template.metadata?.annotations?.['flagger-id']).toMatch(/^[0-9a-f-]{36}$/);
    const podSpec = primary!.spec.template.spec;
    expect(podSpec.volumes?.[0]?.configMap?.name).toBe('app-config-primary');
    expect(podSpec.containers[0]?.envFrom).toEqual([
      { secretRef: { name: 'app-secret-primary' } },
      { configMapRef: { name: 'absent', optional: true } },
    ]);

    const configCopy = await get<ConfigMap>(RESOURCES.configMaps, 'app-config-primary');
    expect(configCopy?.data).toEqual({ color: 'blue' });
    expect(configCopy?.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'x' });
    expect(configCopy?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      uid,
      controller: true,
    });
    const secretCopy = await get<Secret>(RESOURCES.secrets, 'app-secret-primary');
    expect(secretCopy?.type).toBe('Opaque');
    expect(secretCopy?.data).toEqual({ token: Buffer.from('t0').toString('base64') });

    const before = writes();
    await workloads.ensurePrimary(canary);
    expect(writes()).toBe(before);
  });

  it('given the primary, when its rollout completes, then primaryReadiness becomes ready', async () => {
    const canary = await canaryFor('podinfo');
    await eventually(
      () => workloads.primaryReadiness(canary),
      (r) => r.ready,
      30_000,
      'primary ready',
    );
  });

  it('given a running target, when scaleToZero runs twice, then spec.replicas is 0 and the second call writes nothing', async () => {
    const canary = await canaryFor('podinfo');
    await workloads.scaleToZero(canary);
    expect((await get<Deployment>(RESOURCES.deployments, 'podinfo'))?.spec.replicas).toBe(0);
    const before = writes();
    await workloads.scaleToZero(canary);
    expect(writes()).toBe(before);
  });

  it('given a target at zero, when scaleFromZero runs, then the target gets the primary replicas', async () => {
    const canary = await canaryFor('podinfo');
    await workloads.scaleFromZero(canary);
    expect((await get<Deployment>(RESOURCES.deployments, 'podinfo'))?.spec.replicas).toBe(2);
  });

  it('given a ConfigMap change, when revision() is read, then trackedConfigs changes and specHash does not', async () => {
    const canary = await canaryFor('podinfo');
    const before = await workloads.revision(canary);
    expect(Object.keys(before.trackedConfigs).sort()).toEqual(['configmap/app-config', 'secret/app-secret']);
    await client.mergePatch(RESOURCES.configMaps, NS, 'app-config', { data: { color: 'green' } });
    const after = await workloads.revision(canary);
    expect(after.specHash).toBe(before.specHash);
    expect(after.trackedConfigs['configmap/app-config']).not.toBe(
      before.trackedConfigs['configmap/app-config'],
    );
    expect(after.trackedConfigs['secret/app-secret']).toBe(before.trackedConfigs['secret/app-secret']);
  });

  it('given a new image, when promote runs, then the primary rolls to it with the new config data, and a second promote changes nothing', async () => {
    const canary = await canaryFor('podinfo');
    const revisionBefore = await workloads.revision(canary);
    await client.mergePatch(RESOURCES.deployments, NS, 'podinfo', {
      spec: { template: { spec: { containers: [{ name: 'app', image: 'podinfo:6.1.0' }] } } },
    });
    expect((await workloads.revision(canary)).specHash).not.toBe(revisionBefore.specHash);
    const oldPrimary = await get<Deployment>(RESOURCES.deployments, 'podinfo-primary');

    await workloads.promote(canary);

    const promoted = await get<Deployment>(RESOURCES.deployments, 'podinfo-primary');
    expect(promoted?.spec.template.spec.containers[0]?.image).toBe('podinfo:6.1.0');
    expect(promoted?.spec.template.spec.volumes?.[0]?.configMap?.name).toBe('app-config-primary');
    expect(promoted?.spec.template.metadata?.annotations?.['flagger-id']).not.toBe(
      oldPrimary?.spec.template.metadata?.annotations?.['flagger-id'],
    );
    expect((await get<ConfigMap>(RESOURCES.configMaps, 'app-config-primary'))?.data).toEqual({
      color: 'green',
    });

    const settled = await eventually(
      () => get<Deployment>(RESOURCES.deployments, 'podinfo-primary'),
      (object) => ready(object, 2),
      30_000,
      'primary rolled out',
    );
    expect(settled?.metadata.generation).toBe(promoted?.metadata.generation);

    const writesBefore = writes();
    await workloads.promote(canary);
    const again = await get<Deployment>(RESOURCES.deployments, 'podinfo-primary');
    // No write, and the same spec (the controller-manager may still update the status, so the
    // resourceVersion is no measure of what we did).
    expect(writes()).toBe(writesBefore);
    expect(again?.metadata.generation).toBe(settled?.metadata.generation);
    expect(await workloads.primaryReadiness(canary)).toEqual({ ready: true });
  });

  it('given a target scaled to zero and a primary at 2, when restoreTarget runs, then the target is back at 2 replicas and ready', async () => {
    const canary = await canaryFor('podinfo', { revertOnDeletion: true });
    await workloads.scaleToZero(canary);
    await workloads.restoreTarget(canary);
    const target = await get<Deployment>(RESOURCES.deployments, 'podinfo');
    expect(target?.spec.replicas).toBe(2);
    expect(ready(target, 2)).toBe(true);
  });

  it('given pods that never get ready and a short progress deadline, when canaryReadiness is polled, then it ends non-retriable', async () => {
    const stuck = deployment('stuck', { replicas: 1, annotations: { [NEVER_READY_ANNOTATION]: 'true' } });
    stuck.spec.progressDeadlineSeconds = 3;
    await client.apply(RESOURCES.deployments, stuck);
    const canary = await canaryFor('stuck', { progressDeadlineSeconds: 3 });
    const first = await workloads.canaryReadiness(canary);
    expect(first).toMatchObject({ ready: false, retriable: true });
    const last = await eventually(
      () => workloads.canaryReadiness(canary),
      (readiness) => !readiness.ready && !readiness.retriable,
      40_000,
      'non-retriable readiness',
    );
    expect(last).toMatchObject({ ready: false, retriable: false });
  });
});

describe('KubernetesWorkloads with a HorizontalPodAutoscaler', () => {
  it('given an HPA on the target, when ensurePrimary and promote run, then <hpa>-primary scales <t>-primary and follows the target HPA from promotion', async () => {
    await client.apply(RESOURCES.deployments, deployment('scaled', { replicas: 1 }));
    const hpa: HorizontalPodAutoscaler = {
      metadata: { name: 'scaled', namespace: NS },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled' },
        minReplicas: 2,
        maxReplicas: 4,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
          },
        ],
      },
    };
    await client.apply(RESOURCES.horizontalPodAutoscalers, hpa);
    const canary = await canaryFor('scaled', {
      autoscalerRef: {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        name: 'scaled',
        primaryScalerReplicas: { minReplicas: 3 },
      },
    });

    await workloads.ensurePrimary(canary);
    const primary = await get<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscalers, 'scaled-primary');
    expect(primary?.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled-primary' },
      minReplicas: 3,
      maxReplicas: 4,
      metrics: hpa.spec.metrics,
    });
    expect(primary?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'scaled' });

    await client.mergePatch(RESOURCES.horizontalPodAutoscalers, NS, 'scaled', { spec: { maxReplicas: 6 } });
    await workloads.ensurePrimary(canary);
    expect(
      (await get<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscalers, 'scaled-primary'))?.spec
        .maxReplicas,
    ).toBe(4);
    await workloads.promote(canary);
    expect(
      (await get<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscalers, 'scaled-primary'))?.spec
        .maxReplicas,
    ).toBe(6);

    // scaleFromZero with an HPA: the target HPA's minReplicas (2 > 1).
    await workloads.scaleToZero(canary);
    await workloads.scaleFromZero(canary);
    expect((await get<Deployment>(RESOURCES.deployments, 'scaled'))?.spec.replicas).toBe(2);
  });
});

describe("KubernetesWorkloads with a KEDA ScaledObject (KEDA's own CRD)", () => {
  it("given a ScaledObject on the target, then <so>-primary scales <t>-primary with queries pointed at it, and the target's is paused exactly while the target is at zero", async () => {
    await installMeshCrds(client, 'keda');
    await client.apply(RESOURCES.deployments, deployment('keda', { replicas: 1 }));
    const scaledObject: ScaledObject = {
      metadata: { name: 'keda', namespace: NS },
      spec: {
        scaleTargetRef: { name: 'keda' },
        minReplicaCount: 2,
        maxReplicaCount: 4,
        triggers: [
          {
            type: 'prometheus',
            name: 'rps',
            metadata: {
              serverAddress: 'http://prometheus.monitoring:9090',
              query: 'sum(rate(http_requests_total{deployment="keda"}[1m]))',
              threshold: '10',
            },
          },
        ],
      },
    };
    await client.apply(RESOURCES.scaledObjects, scaledObject);
    const canary = await canaryFor('keda', {
      autoscalerRef: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'keda' },
    });

    await workloads.ensurePrimary(canary);
    const primary = await get<ScaledObject>(RESOURCES.scaledObjects, 'keda-primary');
    expect(primary?.spec).toMatchObject({
      scaleTargetRef: { name: 'keda-primary' },
      minReplicaCount: 2,
      maxReplicaCount: 4,
    });
    expect(primary?.spec.triggers[0]?.metadata?.query).toBe(
      'sum(rate(http_requests_total{deployment="keda-primary"}[1m]))',
    );
    expect(primary?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'keda' });

    await workloads.scaleToZero(canary);
    const paused = await get<ScaledObject>(RESOURCES.scaledObjects, 'keda');
    expect(paused?.metadata.annotations?.['autoscaling.keda.sh/paused-replicas']).toBe('0');
    expect((await get<Deployment>(RESOURCES.deployments, 'keda'))?.spec.replicas).toBe(0);

    await client.mergePatch(RESOURCES.scaledObjects, NS, 'keda', { spec: { maxReplicaCount: 7 } });
    await workloads.promote(canary);
    expect((await get<ScaledObject>(RESOURCES.scaledObjects, 'keda-primary'))?.spec.maxReplicaCount).toBe(7);
    expect(
      (await get<ScaledObject>(RESOURCES.scaledObjects, 'keda-primary'))?.metadata.annotations?.[
        'autoscaling.keda.sh/paused-replicas'
      ],
    ).toBeUndefined();

    // ScaleFromZero: KEDA resumed first, then the ScaledObject's minReplicaCount (2 > 1).
    await workloads.scaleFromZero(canary);
    const resumed = await get<ScaledObject>(RESOURCES.scaledObjects, 'keda');
    expect(resumed?.metadata.annotations?.['autoscaling.keda.sh/paused-replicas']).toBeUndefined();
    expect((await get<Deployment>(RESOURCES.deployments, 'keda'))?.spec.replicas).toBe(2);
  }, 300_000);
});

describe('KubernetesWorkloads on a DaemonSet', () => {
  it("given a DaemonSet, when scaled to zero and back, then Flagger's nodeSelector comes and goes without a new revision", async () => {
    const daemonSet: DaemonSet = {
      metadata: { name: 'agent', namespace: NS, labels: { app: 'agent' } },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
        },
      },
    };
    await client.apply(RESOURCES.daemonSets, daemonSet);
    const canary = await canaryFor('agent', {
      targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent' },
    });

    await workloads.ensurePrimary(canary);
    const primary = await get<DaemonSet>(RESOURCES.daemonSets, 'agent-primary');
    expect(primary?.spec.selector).toEqual({ matchLabels: { app: 'agent-primary' } });
    await eventually(
      () => workloads.primaryReadiness(canary),
      (r) => r.ready,
      30_000,
      'primary DaemonSet ready',
    );

    const before = await workloads.revision(canary);
    await workloads.scaleToZero(canary);
    expect((await get<DaemonSet>(RESOURCES.daemonSets, 'agent'))?.spec.template.spec.nodeSelector).toEqual({
      'flagger.app/scale-to-zero': 'true',
    });
    expect((await workloads.revision(canary)).specHash).toBe(before.specHash);
    await eventually(
      () => get<DaemonSet>(RESOURCES.daemonSets, 'agent'),
      (object) => object?.status?.desiredNumberScheduled === 0,
      30_000,
      'no agent pods scheduled',
    );

    await workloads.scaleFromZero(canary);
    expect(
      (await get<DaemonSet>(RESOURCES.daemonSets, 'agent'))?.spec.template.spec.nodeSelector,
    ).toBeUndefined();
    await eventually(
      () => workloads.canaryReadiness(canary),
      (r) => r.ready,
      30_000,
      'target DaemonSet ready',
    );
    expect((await get<DaemonSet>(RESOURCES.daemonSets, 'agent'))?.status?.desiredNumberScheduled).toBe(
      cluster.nodeNames.length,
    );
  });
});

describe('KubernetesWorkloads on a Service target', () => {
  it('given a Service target, when ensurePrimary and promote run, then -canary follows every reconcile and -primary only promotion', async () => {
    await client.apply(RESOURCES.services, {
      metadata: {
        name: 'backend',
        namespace: NS,
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      },
      spec: { selector: { app: 'backend' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    const canary = await canaryFor('backend', {
      targetRef: { apiVersion: 'v1', kind: 'Service', name: 'backend' },
    });
    const target = await get<Service>(RESOURCES.services, 'backend');

    await workloads.ensurePrimary(canary);
    const canaryCopy = await get<Service>(RESOURCES.services, 'backend-canary');
    expect(canaryCopy?.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 8080 });
    expect(canaryCopy?.spec?.clusterIP).not.toBe(target?.spec?.clusterIP);
    expect(
      canaryCopy?.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'],
    ).toBeUndefined();
    expect(canaryCopy?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Canary', name: 'backend' });
    expect(await get<Service>(RESOURCES.services, 'backend-primary')).toBeDefined();

    const before = writes();
    await workloads.ensurePrimary(canary);
    expect(writes()).toBe(before);

    await client.mergePatch(RESOURCES.services, NS, 'backend', {
      spec: { ports: [{ name: 'http', port: 80, targetPort: 9090 }] },
    });
    await workloads.ensurePrimary(canary);
    expect((await get<Service>(RESOURCES.services, 'backend-canary'))?.spec?.ports?.[0]?.['targetPort']).toBe(
      9090,
    );
    expect(
      (await get<Service>(RESOURCES.services, 'backend-primary'))?.spec?.ports?.[0]?.['targetPort'],
    ).toBe(8080);

    await workloads.promote(canary);
    expect(
      (await get<Service>(RESOURCES.services, 'backend-primary'))?.spec?.ports?.[0]?.['targetPort'],
    ).toBe(9090);
    expect(await workloads.primaryReadiness(canary)).toEqual({ ready: true });
  });
});
