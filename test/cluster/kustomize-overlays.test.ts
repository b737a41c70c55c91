/**
 * The provider overlays under kustomize/, as Flagger lays them out: each renders with kubectl's
 * kustomize, differs from the base only in the controller's arguments, and applies on a real
 * kube-apiserver (each one in turn, over the previous one, as a user switching providers would).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { adminClient } from '../support/kube.js';

const repository = join(import.meta.dirname, '..', '..');
const KUBECTL = join(
  process.env['VIREO_KUBE_BIN_DIR'] ?? join(repository, '.cache', 'kube', 'bin'),
  'kubectl',
);
const { version } = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as { version: string };

/** Provider and metrics server of each overlay (Flagger's overlays, docs/install.md). */
/** Each overlay's provider and metrics server, and any flag it adds (contour's ingress class, as Flagger's overlay). */
const OVERLAYS: Record<string, { provider: string; metricsServer: string; extra?: string[] }> = {
  istio: { provider: 'istio', metricsServer: 'http://prometheus.istio-system:9090' },
  linkerd: { provider: 'gatewayapi:v1beta1', metricsServer: 'http://prometheus.linkerd-viz:9090' },
  appmesh: { provider: 'appmesh', metricsServer: 'http://appmesh-prometheus.appmesh-system:9090' },
  contour: {
    provider: 'contour',
    metricsServer: 'http://prometheus.vireo-system:9090',
    extra: ['--ingress-class=contour'],
  },
  kuma: { provider: 'kuma', metricsServer: 'http://prometheus-server.mesh-observability:80' },
  gatewayapi: { provider: 'gatewayapi:v1', metricsServer: 'http://prometheus.vireo-system:9090' },
  nginx: { provider: 'nginx', metricsServer: 'http://prometheus.ingress-nginx:9090' },
  kubernetes: { provider: 'kubernetes', metricsServer: 'http://prometheus.vireo-system:9090' },
  knative: { provider: 'knative', metricsServer: 'http://prometheus.vireo-system:9090' },
  apisix: { provider: 'apisix', metricsServer: 'http://prometheus.vireo-system:9090' },
};

const kubectl = async (...args: string[]): Promise<string> =>
  (await promisify(execFile)(KUBECTL, args, { cwd: repository, maxBuffer: 16 * 1024 * 1024 })).stdout;

const render = async (overlay: string): Promise<KubeObject[]> =>
  parseAllDocuments(await kubectl('kustomize', `kustomize/${overlay}`)).map(
    (document) => document.toJS() as KubeObject,
  );

type Deployment = KubeObject & {
  spec: { template: { spec: { containers: { image: string; args: string[] }[] } } };
};
const deploymentOf = (objects: KubeObject[]): Deployment =>
  objects.find((object) => object.kind === 'Deployment') as Deployment;
const withoutArgs = (objects: KubeObject[]): unknown =>
  objects.map((object) =>
    object.kind === 'Deployment'
      ? JSON.parse(JSON.stringify(object).replace(/"args":\[[^\]]*\]/, '"args":[]'))
      : object,
  );

describe('kustomize overlays', () => {
  let cluster: TestCluster;
  let client: KubeClient;

  beforeAll(async () => {
    cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
    client = await adminClient(cluster);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
  }, 60_000);

  it('has exactly the providers of Flagger, plus the base', () => {
    const directories = readdirSync(join(repository, 'kustomize'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(directories).toEqual(['base', ...Object.keys(OVERLAYS)].sort());
  });

  it.each(Object.entries(OVERLAYS))(
    'kustomize/%s renders the base with its provider and metrics server, and applies',
    async (overlay, { provider, metricsServer, extra = [] }) => {
      const base = await render('base');
      const rendered = await render(overlay);
      expect(withoutArgs(rendered)).toEqual(withoutArgs(base));
      const container = deploymentOf(rendered).spec.template.spec.containers[0]!;
      expect(container.image).toBe(`ghcr.io/vireo-dev/vireo:${version}`);
      expect(container.args).toEqual([
        'controller',
        '--log-level=info',
        `--mesh-provider=${provider}`,
        ...extra,
        `--metrics-server=${metricsServer}`,
        '--include-label-prefix=app.kubernetes.io',
        '--port=8080',
      ]);

      await kubectl(
        '--kubeconfig',
        cluster.kubeconfigPath,
        'apply',
        '--server-side',
        '-k',
        `kustomize/${overlay}`,
      );
      const live = await client.get<Deployment>(RESOURCES.deployments, 'vireo-system', 'vireo');
      expect(live?.spec.template.spec.containers[0]?.args).toEqual(container.args);
    },
  );
});
