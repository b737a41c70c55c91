/**
 * Proves that the test control plane (test/support/cluster.ts) behaves like a real cluster for
 * what Vireo relies on: controllers roll Deployments and DaemonSets out, progress deadlines
 * expire, CRD schemas prune, and RBAC denies what was not granted.
 */
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1DaemonSet,
  type V1Deployment,
  type V1PodSpec,
  type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { neverReadyPodAnnotations, startTestCluster, type TestCluster } from '../support/cluster.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';

const ROLLOUT_TIMEOUT_MS = 60_000;

let cluster: TestCluster;
let kubeConfig: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  core = kubeConfig.makeApiClient(CoreV1Api);
  apps = kubeConfig.makeApiClient(AppsV1Api);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

let namespaceCounter = 0;

/** A fresh namespace per test, so tests cannot see each other's objects. */
async function createNamespace(prefix: string): Promise<string> {
  namespaceCounter += 1;
  const name = `${prefix}-${namespaceCounter}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function podSpec(): V1PodSpec {
  // kwok never pulls or runs the image; it only has to be a valid reference.
  return { containers: [{ name: 'app', image: 'registry.example/vireo/podinfo:6.0.0' }] };
}

function podTemplate(app: string, annotations: Record<string, string> = {}): V1PodTemplateSpec {
  return { metadata: { labels: { app }, annotations }, spec: podSpec() };
}

function deployment(
  name: string,
  options: { replicas: number; template: V1PodTemplateSpec; progressDeadlineSeconds?: number },
): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: { app: name } },
      template: options.template,
      ...(options.progressDeadlineSeconds === undefined
        ? {}
        : { progressDeadlineSeconds: options.progressDeadlineSeconds }),
    },
  };
}

function condition(
  conditions: readonly { type: string; status: string; reason?: string }[] | undefined,
  type: string,
): { status: string; reason?: string } | undefined {
  return conditions?.find((candidate) => candidate.type === type);
}

describe('test cluster', () => {
  it('rolls a Deployment out until it is available', async () => {
    const namespace = await createNamespace('rollout');
    await apps.createNamespacedDeployment({
      namespace,
      body: deployment('podinfo', { replicas: 2, template: podTemplate('podinfo') }),
    });

    await vi.waitFor(
      async () => {
        const current = await apps.readNamespacedDeployment({ namespace, name: 'podinfo' });
        expect(current.status?.observedGeneration).toBe(current.metadata?.generation);
        expect(current.status?.updatedReplicas).toBe(2);
        expect(current.status?.readyReplicas).toBe(2);
        expect(current.status?.availableReplicas).toBe(2);
        expect(condition(current.status?.conditions, 'Available')?.status).toBe('True');
      },
      { timeout: ROLLOUT_TIMEOUT_MS, interval: 250 },
    );

    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=podinfo' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.status?.phase).toBe('Running');
      expect(cluster.nodeNames).toContain(pod.spec?.nodeName);
      expect(pod.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('marks a Deployment whose pods never get ready as ProgressDeadlineExceeded', async () => {
    const namespace = await createNamespace('deadline');
    await apps.createNamespacedDeployment({
      namespace,
      body: deployment('stuck', {
        replicas: 1,
        template: podTemplate('stuck', { ...neverReadyPodAnnotations }),
        progressDeadlineSeconds: 10,
      }),
    });

    await vi.waitFor(
      async () => {
        const current = await apps.readNamespacedDeployment({ namespace, name: 'stuck' });
        const progressing = condition(current.status?.conditions, 'Progressing');
        expect(progressing?.status).toBe('False');
        expect(progressing?.reason).toBe('ProgressDeadlineExceeded');
        expect(current.status?.availableReplicas ?? 0).toBe(0);
      },
      { timeout: ROLLOUT_TIMEOUT_MS, interval: 500 },
    );

    // The pod itself runs (as far as kwok pretends) but is never Ready, like a failing probe.
    await vi.waitFor(
      async () => {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=stuck' });
        expect(pods.items).toHaveLength(1);
        expect(pods.items[0]?.status?.phase).toBe('Running');
        expect(condition(pods.items[0]?.status?.conditions, 'Ready')?.status).toBe('False');
      },
      { timeout: 15_000, interval: 250 },
    );
  });

  it('prunes fields that a CRD schema does not declare', async () => {
    const namespace = await createNamespace('crd');
    const group = 'smoke.vireo.test';
    const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    await vi.waitFor(
      async () => {
        const crd = await extensions.readCustomResourceDefinition({ name: `widgets.${group}` });
        expect(condition(crd.status?.conditions, 'Established')?.status).toBe('True');
      },
      { timeout: 30_000, interval: 250 },
    );

    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    // Established can precede the discovery/handler update by a moment: retry the create.
    await vi.waitFor(
      () =>
        custom.createNamespacedCustomObject({
          group,
          version: 'v1',
          namespace,
          plural: 'widgets',
          body: {
            apiVersion: `${group}/v1`,
            kind: 'Widget',
            metadata: { name: 'w1' },
            spec: { size: 3, colour: 'blue' },
          },
        }),
      { timeout: 30_000, interval: 250 },
    );

    const stored = (await custom.getNamespacedCustomObject({
      group,
      version: 'v1',
      namespace,
      plural: 'widgets',
      name: 'w1',
    })) as { spec: Record<string, unknown> };
    expect(stored.spec).toEqual({ size: 3 });
  });

  it('enforces RBAC for a ServiceAccount token', async () => {
    const namespace = await createNamespace('rbac');
    const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'pod-getter' } } });
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'get-pods' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'pod-getter-gets-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'get-pods' },
        subjects: [{ kind: 'ServiceAccount', name: 'pod-getter', namespace }],
      },
    });
    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'target' }, spec: podSpec() } });

    const token = await cluster.tokenFor(namespace, 'pod-getter');
    const asServiceAccount = kubeConfigWithToken(kubeConfig, token);
    const saCore = asServiceAccount.makeApiClient(CoreV1Api);
    const saApps = asServiceAccount.makeApiClient(AppsV1Api);

    // The RBAC authorizer sees new bindings through a watch: allow it a moment.
    const pod = await vi.waitFor(() => saCore.readNamespacedPod({ namespace, name: 'target' }), {
      timeout: 15_000,
      interval: 250,
    });
    expect(pod.metadata?.name).toBe('target');

    await expect(statusOf(saApps.listNamespacedDeployment({ namespace }))).resolves.toBe(403);
    await expect(statusOf(saCore.listNamespacedPod({ namespace }))).resolves.toBe(403);
    await expect(statusOf(saCore.readNamespacedPod({ namespace: 'default', name: 'target' }))).resolves.toBe(
      403,
    );
  });

  it('rolls a DaemonSet out to every kwok node', async () => {
    const namespace = await createNamespace('daemonset');
    const daemonSet: V1DaemonSet = {
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: podTemplate('agent') },
    };
    await apps.createNamespacedDaemonSet({ namespace, body: daemonSet });

    const nodeCount = cluster.nodeNames.length;
    await vi.waitFor(
      async () => {
        const current = await apps.readNamespacedDaemonSet({ namespace, name: 'agent' });
        expect(current.status?.observedGeneration).toBe(current.metadata?.generation);
        expect(current.status?.desiredNumberScheduled).toBe(nodeCount);
        expect(current.status?.updatedNumberScheduled).toBe(nodeCount);
        expect(current.status?.numberReady).toBe(nodeCount);
        expect(current.status?.numberAvailable).toBe(nodeCount);
      },
      { timeout: ROLLOUT_TIMEOUT_MS, interval: 250 },
    );
  });
});

/** The HTTP status the call failed with, or 200 if it succeeded. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}
