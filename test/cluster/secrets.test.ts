/**
 * `vireo metrics query` and `vireo alert test` read the Secrets their manifests name from a real
 * cluster through a kubeconfig, and explain an RBAC refusal.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { KubernetesSecretReader } from '../../src/secrets/kubernetes-secret-reader.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';
import { recordingServers } from '../support/recording-server.js';
import { fakeIo } from '../support/fake-io.js';

let cluster: TestCluster;
let kubeConfig: KubeConfig;
let core: CoreV1Api;
const directory = mkdtempSync(join(tmpdir(), 'vireo-secrets-'));

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'monitoring' } } });
  await core.createNamespacedSecret({
    namespace: 'monitoring',
    body: {
      metadata: { name: 'prom-auth' },
      data: { token: Buffer.from('cluster-token').toString('base64') },
    },
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

const server = recordingServers();

function write(name: string, text: string): string {
  const file = join(directory, name);
  writeFileSync(file, text);
  return file;
}

const template = (address: string) => `apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: up, namespace: monitoring}
spec:
  provider: {type: prometheus, address: "${address}", secretRef: {name: prom-auth}}
  query: up
`;

describe('Secrets from a kubeconfig', () => {
  it('metrics query sends the token of the Secret in the cluster', async () => {
    const prometheus = await server(() => ({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }] },
      }),
    }));
    const { io, stderr } = fakeIo();
    const code = await runCli(
      [
        'node',
        'vireo',
        'metrics',
        'query',
        '-f',
        write('t.yaml', template(prometheus.url)),
        '--kubeconfig',
        cluster.kubeconfigPath,
      ],
      io,
    );
    expect(stderr()).toBe('');
    expect(code).toBe(0);
    expect(prometheus.requests[0]?.headers.authorization).toBe('Bearer cluster-token');
  });

  it('alert test reads the webhook address from the Secret in the cluster', async () => {
    const hook = await server(() => ({ status: 200, body: 'ok' }));
    await core.createNamespacedSecret({
      namespace: 'monitoring',
      body: { metadata: { name: 'slack-url' }, stringData: { address: `${hook.url}/services/T/B/X` } },
    });
    const provider = write(
      'p.yaml',
      'apiVersion: flagger.app/v1beta1\nkind: AlertProvider\nmetadata: {name: on-call, namespace: monitoring}\nspec: {type: slack, secretRef: {name: slack-url}}\n',
    );
    const { io, stdout } = fakeIo();
    expect(
      await runCli(
        ['node', 'vireo', 'alert', 'test', '-f', provider, '--kubeconfig', cluster.kubeconfigPath],
        io,
      ),
    ).toBe(0);
    expect(stdout()).toContain('HTTP 200');
    expect(hook.requests[0]?.path).toBe('/services/T/B/X');
  });

  it('a missing Secret is named with the context', async () => {
    const reader = new KubernetesSecretReader(kubeConfig);
    await expect(reader.read('monitoring', 'nope')).rejects.toThrow(
      `Secret monitoring/nope not found (kubeconfig context "${kubeConfig.getCurrentContext()}")`,
    );
  });

  it('an RBAC refusal says which permission is missing', async () => {
    await core.createNamespacedServiceAccount({
      namespace: 'monitoring',
      body: { metadata: { name: 'viewer' } },
    });
    const token = await cluster.tokenFor('monitoring', 'viewer');
    const asViewer = kubeConfigWithToken(kubeConfig, token);
    const path = write('viewer.kubeconfig', asViewer.exportConfig());
    const { io, stderr } = fakeIo();
    const code = await runCli(
      [
        'node',
        'vireo',
        'metrics',
        'query',
        '-f',
        write('t2.yaml', template('http://127.0.0.1:1')),
        '--kubeconfig',
        path,
      ],
      io,
    );
    expect(code).toBe(1);
    expect(stderr()).toContain(
      'cannot read Secret monitoring/prom-auth: HTTP 403: the kubeconfig context "service-account" needs "get" on secrets in monitoring',
    );

    // Granting exactly that permission is enough.
    const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: 'monitoring',
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['prom-auth'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'monitoring',
      body: {
        metadata: { name: 'secret-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'monitoring' }],
      },
    });
    const reader = new KubernetesSecretReader(asViewer);
    await expect
      .poll(() => reader.read('monitoring', 'prom-auth').catch(() => undefined), { timeout: 10_000 })
      .toEqual({
        token: 'cluster-token',
      });
  });
});
