/**
 * Our generated CRDs on a real kube-apiserver: it accepts them as structural schemas, serves
 * every Flagger documentation example through them, prunes exactly what `vireo validate` calls an
 * unknown field, keeps status in its subresource and prints Flagger's columns.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startTestCluster, type TestCluster } from '../support/cluster.js';

const repository = join(import.meta.dirname, '..', '..');
const PLURALS: Record<string, string> = {
  Canary: 'canaries',
  MetricTemplate: 'metrictemplates',
  AlertProvider: 'alertproviders',
};
/** Flagger docs mistakes: an apiVersion no CRD serves (see test/fixtures/flagger/README.md). */
const KNOWN_DOCS_MISTAKES = new Set(['metrics-7.yaml']);

let cluster: TestCluster;
let kubeConfig: KubeConfig;
let objectsApi: CustomObjectsApi;
const namespaces = new Set<string>(['default']);

async function ensureNamespace(name: string): Promise<void> {
  if (namespaces.has(name)) return;
  namespaces.add(name);
  try {
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (cause) {
    if ((cause as { code?: number }).code !== 409) throw cause;
  }
}

async function waitEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (
      crd.status?.conditions?.some(
        (condition) => condition.type === 'Established' && condition.status === 'True',
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} never became Established`);
}

/** GET with the admin credentials; `accept` chooses the representation (a Table for printer columns). */
async function getJson<T>(path: string, accept = 'application/json'): Promise<T> {
  const options: Record<string, unknown> = { method: 'GET', headers: { accept } };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise<T>((resolve, reject) => {
    const req = request(new URL(path, cluster.server), options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Table {
  columnDefinitions: { name: string; priority: number }[];
  rows: { cells: unknown[] }[];
}

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  objectsApi = kubeConfig.makeApiClient(CustomObjectsApi);
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const file of readdirSync(join(repository, 'crds')).filter((name) =>
    name.endsWith('.flagger.app.yaml'),
  )) {
    // loadYaml maps `x-kubernetes-*` keys onto client-node's models; a plain parsed object would
    // lose them in serialization and the API server would refuse targetPort's untyped schema.
    const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(join(repository, 'crds', file), 'utf8'));
    await extensions.createCustomResourceDefinition({ body: crd });
    await waitEstablished(extensions, crd.metadata!.name!);
  }
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('crds/ on a real kube-apiserver', () => {
  it("serves every complete example of Flagger's documentation", async () => {
    const directory = join(repository, 'test', 'fixtures', 'flagger', 'docs');
    let created = 0;
    for (const file of readdirSync(directory).filter((name) => !KNOWN_DOCS_MISTAKES.has(name))) {
      for (const document of parseAllDocuments(readFileSync(join(directory, file), 'utf8'))) {
        const object = document.toJS() as {
          kind?: string;
          apiVersion?: string;
          metadata: { name: string; namespace?: string };
        } | null;
        if (
          object === null ||
          object.apiVersion !== 'flagger.app/v1beta1' ||
          PLURALS[object.kind ?? ''] === undefined
        )
          continue;
        const namespace = object.metadata.namespace ?? 'default';
        await ensureNamespace(namespace);
        const name = `${object.metadata.name}-${created}`;
        const body = { ...object, metadata: { ...object.metadata, name, namespace } };
        await expect(
          objectsApi.createNamespacedCustomObject({
            group: 'flagger.app',
            version: 'v1beta1',
            namespace,
            plural: PLURALS[object.kind!]!,
            body,
          }),
          `${file}: ${object.kind}/${object.metadata.name}`,
        ).resolves.toBeDefined();
        created += 1;
      }
    }
    expect(created).toBeGreaterThan(100);
  });

  it('prunes the field that validate reports in seed 004, and keeps the rest', async () => {
    const canary = parse(
      readFileSync(join(repository, 'test', 'fixtures', 'seeds', '004', 'podinfo-canary.yaml'), 'utf8'),
    ) as {
      metadata: { namespace: string };
    };
    await ensureNamespace(canary.metadata.namespace);
    await objectsApi.createNamespacedCustomObject({
      group: 'flagger.app',
      version: 'v1beta1',
      namespace: 'test',
      plural: 'canaries',
      body: canary,
    });
    const stored = (await objectsApi.getNamespacedCustomObject({
      group: 'flagger.app',
      version: 'v1beta1',
      namespace: 'test',
      plural: 'canaries',
      name: 'podinfo',
    })) as {
      spec: { analysis: { metrics: { thresholdRange: Record<string, unknown> }[]; stepWeight: number } };
    };
    expect(stored.spec.analysis.metrics.map((metric) => metric.thresholdRange)).toEqual([
      { min: 99 },
      { max: 0.5 },
    ]);
    expect(stored.spec.analysis.stepWeight).toBe(5);
  });

  it("writes status only through the status subresource and prints Flagger's columns", async () => {
    await ensureNamespace('columns');
    const canary = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'web', namespace: 'columns' },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        service: { port: 80 },
        analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
      },
      status: { phase: 'Progressing' },
    };
    const target = {
      group: 'flagger.app',
      version: 'v1beta1',
      namespace: 'columns',
      plural: 'canaries',
      name: 'web',
    };
    const created = (await objectsApi.createNamespacedCustomObject({ ...target, body: canary })) as {
      status?: unknown;
    };
    expect(created.status).toBeUndefined();
    await objectsApi.replaceNamespacedCustomObjectStatus({
      ...target,
      body: {
        ...(await objectsApi.getNamespacedCustomObject(target)),
        status: {
          phase: 'Progressing',
          canaryWeight: 20,
          failedChecks: 1,
          lastTransitionTime: '2026-11-23T10:00:00Z',
        },
      },
    });
    const table = await getJson<Table>(
      '/apis/flagger.app/v1beta1/namespaces/columns/canaries',
      'application/json;as=Table;g=meta.k8s.io;v=v1',
    );
    const columns = table.columnDefinitions.map(
      (column) => `${column.name}${column.priority > 0 ? '*' : ''}`,
    );
    expect(columns).toEqual([
      'Name',
      'Status',
      'Weight',
      'Suspended*',
      'FailedChecks*',
      'Interval*',
      'Mirror*',
      'StepWeight*',
      'StepWeights*',
      'MaxWeight*',
      'LastTransitionTime',
    ]);
    expect(table.rows[0]!.cells.slice(0, 3)).toEqual(['web', 'Progressing', '20']);
  });

  it('is listed under the short names and the "all" category in discovery', async () => {
    const resources = await getJson<{
      resources: { name: string; shortNames?: string[]; categories?: string[] }[];
    }>('/apis/flagger.app/v1beta1');
    const canaries = resources.resources.find((resource) => resource.name === 'canaries');
    expect(canaries).toMatchObject({ shortNames: ['cn'], categories: ['all'] });
  });
});
