/**
 * The keptn metric provider against a real kube-apiserver: Keptn's metrics.keptn.sh CRDs
 * (test/fixtures/keptn/crds.yaml, schemas that keep every field) are installed, KeptnMetrics get
 * a status value, and the test plays Keptn's metrics operator for Analyses: it watches for the
 * Analysis the provider creates, checks what was asked, and writes the verdict into its status.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  Watch,
  loadAllYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../../src/metrics/errors.js';
import { KeptnProvider } from '../../src/metrics/providers/keptn.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';

const repository = join(import.meta.dirname, '..', '..');
const GROUP = 'metrics.keptn.sh';
const settings = { source: 'MetricTemplate istio-system/keptn', interval: '1m' };

let cluster: TestCluster;
let kubeConfig: KubeConfig;
let objects: CustomObjectsApi;
let core: CoreV1Api;

async function waitEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (
      crd.status?.conditions?.some(
        (condition) => condition.type === 'Established' && condition.status === 'True',
      )
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} never became Established`);
}

let namespaceCounter = 0;
async function createNamespace(prefix: string): Promise<string> {
  namespaceCounter += 1;
  const name = `${prefix}-${namespaceCounter}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

async function createKeptnMetric(
  namespace: string,
  name: string,
  status?: Record<string, unknown>,
): Promise<void> {
  const target = { group: GROUP, version: 'v1', namespace, plural: 'keptnmetrics' };
  await objects.createNamespacedCustomObject({
    ...target,
    body: {
      apiVersion: `${GROUP}/v1`,
      kind: 'KeptnMetric',
      metadata: { name, namespace },
      spec: {
        provider: { name: 'my-prometheus-keptn-provider' },
        query:
          "histogram_quantile(0.8, sum by(le) (rate(http_server_request_latency_seconds_bucket{status_code='200'}[5m])))",
        fetchIntervalSeconds: 10,
      },
    },
  });
  if (status === undefined) return;
  const stored = await objects.getNamespacedCustomObject({ ...target, name });
  await objects.replaceNamespacedCustomObjectStatus({ ...target, name, body: { ...stored, status } });
}

interface Analysis {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generateName?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/**
 * Keptn's metrics operator, as far as the provider can tell: every new Analysis in `namespace`
 * goes Progressing, then Completed with the verdict `decide` gives (or stays as it is when
 * `decide` returns undefined).
 */
async function playKeptnOperator(
  namespace: string,
  decide: (analysis: Analysis) => boolean | undefined,
): Promise<{ seen: Analysis[]; stop: () => void }> {
  const seen: Analysis[] = [];
  const target = { group: GROUP, version: 'v1', namespace, plural: 'analyses' };
  const writeStatus = async (name: string, status: Record<string, unknown>): Promise<void> => {
    const stored = await objects.getNamespacedCustomObject({ ...target, name });
    await objects.replaceNamespacedCustomObjectStatus({ ...target, name, body: { ...stored, status } });
  };
  // List, then watch from the list's resourceVersion: nothing created in between is missed.
  const list = (await objects.listNamespacedCustomObject(target)) as {
    metadata: { resourceVersion: string };
  };
  const controller = await new Watch(kubeConfig).watch(
    `/apis/${GROUP}/v1/namespaces/${namespace}/analyses`,
    { resourceVersion: list.metadata.resourceVersion },
    (phase, object: Analysis) => {
      if (phase !== 'ADDED') return;
      seen.push(object);
      const pass = decide(object);
      if (pass === undefined) return;
      void (async () => {
        await writeStatus(object.metadata.name, { state: 'Progressing' });
        await new Promise((resolve) => setTimeout(resolve, 600));
        await writeStatus(object.metadata.name, {
          state: 'Completed',
          pass,
          warning: false,
          raw: JSON.stringify({ totalScore: pass ? 2 : 0, maximumScore: 2 }),
        });
      })().catch((error: unknown) => console.error('[keptn operator stand-in]', error));
    },
    () => undefined,
  );
  return { seen, stop: () => controller.abort() };
}

async function analysesIn(namespace: string): Promise<Analysis[]> {
  const list = (await objects.listNamespacedCustomObject({
    group: GROUP,
    version: 'v1',
    namespace,
    plural: 'analyses',
  })) as { items: Analysis[] };
  return list.items;
}

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  objects = kubeConfig.makeApiClient(CustomObjectsApi);
  core = kubeConfig.makeApiClient(CoreV1Api);
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  // loadAllYaml keeps the x-kubernetes-* keys that a plain YAML parse would lose in serialization.
  const crds = loadAllYaml(
    readFileSync(join(repository, 'test', 'fixtures', 'keptn', 'crds.yaml'), 'utf8'),
  ) as V1CustomResourceDefinition[];
  for (const crd of crds) {
    await extensions.createCustomResourceDefinition({ body: crd });
    await waitEstablished(extensions, crd.metadata!.name!);
  }
  // Established is not the end: the new resources' watch caches answer 429 "storage is
  // (re)initializing" for a moment, and a list then would fail a test for the cluster's sake.
  for (const plural of ['keptnmetrics', 'analyses']) {
    await waitServed(() => objects.listClusterCustomObject({ group: GROUP, version: 'v1', plural }));
  }
}, 300_000);

async function waitServed(list: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    try {
      await list();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('custom resources never became listable');
}

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('keptn provider on a real kube-apiserver', () => {
  it('is online once metrics.keptn.sh is served', async () => {
    expect(await new KeptnProvider(settings, { kubeConfig }).isOnline()).toBe(true);
  });

  it("reads a KeptnMetric's status.value, with Flagger's documented query", async () => {
    const namespace = await createNamespace('keptnmetric');
    await createKeptnMetric(namespace, 'response-time', {
      value: '0.873',
      rawValue: 'MC44NzM=',
      lastUpdated: '2026-11-23T20:40:00Z',
    });
    const provider = new KeptnProvider(settings, { kubeConfig });
    expect(await provider.queryValue(`keptnmetric/${namespace}/response-time/2m/reporter=destination`)).toBe(
      0.873,
    );
  });

  it('says so when a KeptnMetric has no value yet, or does not exist', async () => {
    const namespace = await createNamespace('pending');
    await createKeptnMetric(namespace, 'not-fetched');
    const provider = new KeptnProvider(settings, { kubeConfig });
    await expect(provider.queryValue(`keptnmetric/${namespace}/not-fetched`)).rejects.toThrow(
      new NoValuesFoundError(
        `keptn: no values found (KeptnMetric ${namespace}/not-fetched has no status.value yet): is the canary receiving traffic, and does the query select its series?`,
      ),
    );
    await expect(provider.queryValue(`keptnmetric/${namespace}/missing`)).rejects.toThrow(
      `keptn: reading KeptnMetric ${namespace}/missing failed with HTTP 404: keptnmetrics.metrics.keptn.sh "missing" not found: check the namespace and the name in the query`,
    );
  });

  it('creates an Analysis, returns 1 when Keptn says it passed, and deletes it', async () => {
    const namespace = await createNamespace('analysis-pass');
    const operator = await playKeptnOperator(namespace, () => true);
    try {
      const provider = new KeptnProvider(settings, { kubeConfig, pollIntervalMs: 100 });
      expect(
        await provider.queryValue(
          `analysis/${namespace}/podinfo-slo/5m/workload=podinfo;namespace=${namespace}`,
        ),
      ).toBe(1);
    } finally {
      operator.stop();
    }
    expect(operator.seen).toHaveLength(1);
    const [analysis] = operator.seen;
    expect(analysis?.apiVersion).toBe(`${GROUP}/v1`);
    expect(analysis?.metadata.name).toMatch(/^podinfo-slo-[a-z0-9]{5}$/);
    expect(analysis?.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'vireo' });
    expect(analysis?.spec).toEqual({
      analysisDefinition: { name: 'podinfo-slo' },
      timeframe: { recent: '5m' },
      args: { workload: 'podinfo', namespace },
    });
    expect(await analysesIn(namespace)).toEqual([]);
  });

  it('returns 0 when Keptn says the Analysis failed', async () => {
    const namespace = await createNamespace('analysis-fail');
    const operator = await playKeptnOperator(namespace, () => false);
    try {
      const provider = new KeptnProvider(settings, { kubeConfig, pollIntervalMs: 100 });
      expect(await provider.queryValue(`analysis/${namespace}/podinfo-slo`)).toBe(0);
    } finally {
      operator.stop();
    }
    expect(operator.seen[0]?.spec).toEqual({
      analysisDefinition: { name: 'podinfo-slo' },
      timeframe: { recent: '1m' },
      args: {},
    });
    expect(await analysesIn(namespace)).toEqual([]);
  });

  it('gives up when no operator completes the Analysis, and still deletes it', async () => {
    const namespace = await createNamespace('analysis-stuck');
    const operator = await playKeptnOperator(namespace, () => undefined);
    try {
      const provider = new KeptnProvider(settings, { kubeConfig, timeoutMs: 1_500, pollIntervalMs: 100 });
      const error = (await provider
        .queryValue(`analysis/${namespace}/podinfo-slo/5m`)
        .catch((caught: unknown) => caught)) as Error;
      expect(error).toBeInstanceOf(MetricQueryError);
      expect(error.message).toMatch(
        new RegExp(
          `^keptn: Analysis ${namespace}/podinfo-slo-[a-z0-9]{5} did not complete within 1500 ms \\(state: not started\\): is Keptn's metrics operator running`,
        ),
      );
    } finally {
      operator.stop();
    }
    expect(operator.seen).toHaveLength(1);
    expect(await analysesIn(namespace)).toEqual([]);
  });

  it('refuses a malformed query with the expected format, before touching the cluster', async () => {
    const provider = new KeptnProvider(settings, { kubeConfig });
    await expect(provider.queryValue('analysis/ns')).rejects.toBeInstanceOf(MetricProviderConfigError);
  });

  it('tells a ServiceAccount without RBAC which rights it needs', async () => {
    const namespace = await createNamespace('rbac');
    await createKeptnMetric(namespace, 'response-time', { value: '1' });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'vireo' } } });
    // Discovery is allowed to everyone; reading KeptnMetrics is not.
    const token = await cluster.tokenFor(namespace, 'vireo');
    const restricted = new KubeConfig();
    restricted.loadFromOptions({
      clusters: [{ ...kubeConfig.getCurrentCluster()!, name: 'test' }],
      users: [{ name: 'vireo', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'vireo' }],
      currentContext: 'test',
    });
    const provider = new KeptnProvider(settings, { kubeConfig: restricted });
    const error = (await provider
      .queryValue(`keptnmetric/${namespace}/response-time`)
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.status).toBe(403);
    expect(error.message).toContain(
      `keptnmetrics.metrics.keptn.sh "response-time" is forbidden: User "system:serviceaccount:${namespace}:vireo" cannot get resource "keptnmetrics"`,
    );
    expect(error.message).toContain(
      'grant Vireo get/create/delete on metrics.keptn.sh keptnmetrics and analyses',
    );
    expect(error.message).not.toContain(token);

    // With the rights Flagger's ClusterRole gives for Keptn, the same ServiceAccount reads it.
    const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'keptn-metrics' },
        rules: [
          {
            apiGroups: [GROUP],
            resources: ['keptnmetrics', 'analyses'],
            verbs: ['get', 'list', 'watch', 'create', 'delete'],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'keptn-metrics' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'keptn-metrics' },
        subjects: [{ kind: 'ServiceAccount', name: 'vireo', namespace }],
      },
    });
    await expect
      .poll(() => provider.queryValue(`keptnmetric/${namespace}/response-time`).catch(() => 'denied'), {
        timeout: 10_000,
      })
      .toBe(1);
  });
});
