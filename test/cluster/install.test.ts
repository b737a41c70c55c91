/**
 * The install manifests on a real kube-apiserver: `kubectl apply -k kustomize/base` creates what
 * the controller needs, the ServiceAccount's RBAC allows exactly what the controller does and
 * nothing dangerous (asked through SubjectAccessReview, and tried with the ServiceAccount's own
 * token), the controller running under that token completes a canary, and the overlays render
 * with their arguments.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type KubeObject } from '../../src/platforms/kubernetes/client.js';
import { LeaderElector, type Lease } from '../../src/platforms/kubernetes/leader-election.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess } from '../support/controller-process.js';
import {
  adminClient,
  adminKubeConfig,
  CLUSTER_ROLES,
  CRDS,
  ensureNamespace,
  eventually,
  SERVICE_ACCOUNTS,
  testResource,
} from '../support/kube.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';

const REPOSITORY = join(import.meta.dirname, '..', '..');
const KUBECTL = join(
  process.env['VIREO_KUBE_BIN_DIR'] ?? join(REPOSITORY, '.cache', 'kube', 'bin'),
  'kubectl',
);
const SERVICE_ACCOUNT = 'system:serviceaccount:vireo-system:vireo';

// Kinds only this test reads; resources.ts lists what the controller itself touches.
const SUBJECT_ACCESS_REVIEWS = testResource(
  'authorization.k8s.io',
  'v1',
  'subjectaccessreviews',
  'SubjectAccessReview',
  false,
);
const CLUSTER_ROLE_BINDINGS = testResource(
  'rbac.authorization.k8s.io',
  'v1',
  'clusterrolebindings',
  'ClusterRoleBinding',
  false,
);
const ROLES = testResource('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true);
const ROLE_BINDINGS = testResource('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true);
const NODES = testResource('', 'v1', 'nodes', 'Node', false);

let cluster: TestCluster;
let client: KubeClient;

const kubectl = async (...args: string[]): Promise<string> => {
  const { stdout } = await promisify(execFile)(KUBECTL, args, {
    cwd: REPOSITORY,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
};

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  client = await adminClient(cluster);
}, 180_000);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
}, 60_000);

interface Access {
  readonly verb: string;
  readonly group?: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Omitted: all namespaces (or a cluster-scoped resource). */
  readonly namespace?: string;
}

async function allowed(access: Access): Promise<boolean> {
  const review = await client.create<KubeObject & { status?: { allowed?: boolean } }>(
    SUBJECT_ACCESS_REVIEWS,
    {
      metadata: {} as KubeObject['metadata'],
      spec: {
        user: SERVICE_ACCOUNT,
        // The groups a ServiceAccount token carries, so bindings to them count too.
        groups: ['system:serviceaccounts', 'system:serviceaccounts:vireo-system', 'system:authenticated'],
        resourceAttributes: {
          verb: access.verb,
          group: access.group ?? '',
          resource: access.resource,
          ...(access.subresource === undefined ? {} : { subresource: access.subresource }),
          ...(access.namespace === undefined ? {} : { namespace: access.namespace }),
        },
      },
    },
  );
  return review.status?.allowed === true;
}

const describeAccess = (access: Access): string =>
  `${access.verb} ${access.resource}${access.subresource === undefined ? '' : `/${access.subresource}`}` +
  `${access.group ? `.${access.group}` : ''}${access.namespace === undefined ? '' : ` in ${access.namespace}`}`;

/** Every access whose answer differs from `expected`, so a failure names them all at once. */
async function mismatches(accesses: readonly Access[], expected: boolean): Promise<string[]> {
  const answers = await Promise.all(accesses.map(allowed));
  return accesses.filter((_, index) => answers[index] !== expected).map(describeAccess);
}

const flagger = 'flagger.app';

describe('kustomize/base', () => {
  it('applies with kubectl apply -k and creates the namespace, CRDs, ServiceAccount, RBAC and Deployment', async () => {
    await kubectl('--kubeconfig', cluster.kubeconfigPath, 'apply', '-k', 'kustomize/base');

    expect(await client.get(RESOURCES.namespaces, undefined, 'vireo-system')).toBeDefined();
    for (const crd of ['canaries.flagger.app', 'metrictemplates.flagger.app', 'alertproviders.flagger.app']) {
      expect(await client.get(CRDS, undefined, crd), crd).toBeDefined();
    }
    expect(await client.get(SERVICE_ACCOUNTS, 'vireo-system', 'vireo')).toBeDefined();
    expect(await client.get(CLUSTER_ROLE_BINDINGS, undefined, 'vireo')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'vireo' },
      subjects: [{ kind: 'ServiceAccount', name: 'vireo', namespace: 'vireo-system' }],
    });
    expect(await client.get(ROLES, 'vireo-system', 'vireo-leader-election')).toBeDefined();
    expect(await client.get(ROLE_BINDINGS, 'vireo-system', 'vireo-leader-election')).toMatchObject({
      subjects: [{ kind: 'ServiceAccount', name: 'vireo', namespace: 'vireo-system' }],
    });

    const role = await client.get<
      KubeObject & { rules: { verbs: string[]; resources: string[]; apiGroups: string[] }[] }
    >(CLUSTER_ROLES, undefined, 'vireo');
    const everything = role!.rules.flatMap((rule) => [...rule.verbs, ...rule.resources, ...rule.apiGroups]);
    expect(everything).not.toContain('*');
    expect(role!.rules.flatMap((rule) => rule.verbs)).not.toContain('delete');

    const deployment = await client.get<KubeObject & { spec: any }>(
      RESOURCES.deployments,
      'vireo-system',
      'vireo',
    );
    expect(deployment?.spec.replicas).toBe(1);
    expect(deployment?.spec.strategy.type).toBe('Recreate');
    const pod = deployment?.spec.template.spec;
    expect(pod.serviceAccountName).toBe('vireo');
    expect(pod.containers[0].image).toBe('ghcr.io/vireo-dev/vireo:0.1.0');
    expect(pod.containers[0].args).toEqual([
      'controller',
      '--log-level=info',
      '--mesh-provider=kubernetes',
      '--include-label-prefix=app.kubernetes.io',
      '--port=8080',
    ]);
    expect(pod.containers[0].securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
  });

  it("gets a pod admitted under the namespace's restricted Pod Security profile", async () => {
    // The ReplicaSet only gets a pod if admission accepts its security context (kwok then runs it).
    await eventually(
      () =>
        client.get<KubeObject & { status?: { availableReplicas?: number } }>(
          RESOURCES.deployments,
          'vireo-system',
          'vireo',
        ),
      (deployment) => deployment?.status?.availableReplicas === 1,
      60_000,
      'the vireo Deployment available',
    );
  });

  it('lets the ServiceAccount do everything the controller does', async () => {
    const needed: Access[] = [
      ...['get', 'list', 'watch'].flatMap((verb) =>
        ['canaries', 'metrictemplates', 'alertproviders'].map((resource) => ({
          verb,
          group: flagger,
          resource,
        })),
      ),
      { verb: 'patch', group: flagger, resource: 'canaries', namespace: 'test' },
      { verb: 'update', group: flagger, resource: 'canaries', namespace: 'test' },
      { verb: 'update', group: flagger, resource: 'canaries', subresource: 'status', namespace: 'test' },
      { verb: 'patch', group: flagger, resource: 'canaries', subresource: 'status', namespace: 'test' },
      { verb: 'update', group: flagger, resource: 'canaries', subresource: 'finalizers', namespace: 'test' },
      ...['get', 'list', 'watch', 'create', 'update', 'patch'].flatMap((verb) => [
        { verb, group: 'apps', resource: 'deployments', namespace: 'test' },
        { verb, group: 'apps', resource: 'daemonsets', namespace: 'test' },
        { verb, resource: 'services', namespace: 'test' },
        { verb, resource: 'configmaps', namespace: 'test' },
        { verb, resource: 'secrets', namespace: 'test' },
        { verb, group: 'autoscaling', resource: 'horizontalpodautoscalers', namespace: 'test' },
        { verb, group: 'networking.k8s.io', resource: 'ingresses', namespace: 'test' },
      ]),
      // Informers list and watch across all namespaces.
      { verb: 'watch', group: 'apps', resource: 'deployments' },
      { verb: 'list', resource: 'secrets' },
      { verb: 'create', resource: 'events', namespace: 'test' },
      { verb: 'patch', resource: 'events', namespace: 'test' },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'vireo-system' },
      { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 'vireo-system' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'vireo-system' },
    ];
    expect(await mismatches(needed, true)).toEqual([]);
  });

  it('refuses the ServiceAccount anything dangerous or unneeded', async () => {
    const refused: Access[] = [
      ...['secrets', 'configmaps', 'services'].map((resource) => ({
        verb: 'delete',
        resource,
        namespace: 'test',
      })),
      { verb: 'deletecollection', resource: 'secrets', namespace: 'test' },
      { verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'test' },
      { verb: 'delete', group: flagger, resource: 'canaries', namespace: 'test' },
      { verb: 'create', group: flagger, resource: 'canaries', namespace: 'test' },
      { verb: '*', resource: 'secrets', namespace: 'test' },
      { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'test' },
      { verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'test' },
      { verb: 'create', resource: 'pods', namespace: 'test' },
      { verb: 'get', resource: 'pods', namespace: 'test' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system' },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'default' },
      { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', namespace: 'vireo-system' },
      { verb: 'list', group: 'coordination.k8s.io', resource: 'leases', namespace: 'vireo-system' },
      { verb: 'get', resource: 'nodes' },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'update', resource: 'serviceaccounts', namespace: 'vireo-system' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'test' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
      { verb: 'impersonate', resource: 'users' },
      { verb: 'get', resource: 'events', namespace: 'test' },
    ];
    expect(await mismatches(refused, false)).toEqual([]);
  });

  it("works with the ServiceAccount's own token: leads on its Lease, and is forbidden elsewhere", async () => {
    const token = await cluster.tokenFor('vireo-system', 'vireo');
    const serviceAccount = await KubeClient.fromKubeConfig(
      kubeConfigWithToken(adminKubeConfig(cluster), token),
    );
    try {
      const elector = new LeaderElector({
        client: serviceAccount,
        namespace: 'vireo-system',
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 500,
      });
      let started = false;
      void elector.run({ onStartedLeading: () => void (started = true), onStoppedLeading: () => undefined });
      await eventually(() => Promise.resolve(started), Boolean, 10_000, 'the ServiceAccount leading');
      expect(await elector.release()).toBe(true);
      const lease = await client.get<Lease>(RESOURCES.leases, 'vireo-system', 'vireo-leader-election');
      expect(lease?.spec?.holderIdentity).toBe('');

      await ensureNamespace(client, 'elsewhere');
      await expect(
        serviceAccount.create(RESOURCES.leases, {
          metadata: { name: 'vireo-leader-election', namespace: 'elsewhere' },
        }),
      ).rejects.toMatchObject({ code: 'E_KUBE_FORBIDDEN' });
      await expect(serviceAccount.get(NODES, undefined, cluster.nodeNames[0]!)).rejects.toMatchObject({
        code: 'E_KUBE_FORBIDDEN',
      });
      await expect(serviceAccount.delete(RESOURCES.secrets, 'elsewhere', 'anything')).rejects.toMatchObject({
        code: 'E_KUBE_FORBIDDEN',
      });
    } finally {
      await serviceAccount.close();
    }
  });
});

describe('vireo controller under the installed ServiceAccount', () => {
  it('given kustomize/base applied, when the controller runs with the ServiceAccount token and leader election, then it leads and completes a canary without a forbidden request', async () => {
    const token = await cluster.tokenFor('vireo-system', 'vireo');
    const directory = mkdtempSync(join(tmpdir(), 'vireo-install-'));
    const kubeconfigPath = join(directory, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeConfigWithToken(adminKubeConfig(cluster), token).exportConfig(), {
      mode: 0o600,
    });
    const namespace = 'installed';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'kubernetes',
        analysis: { interval: '2s', threshold: 2, iterations: 2 },
      }),
    );
    const controller = await startControllerProcess(kubeconfigPath, [
      '--enable-leader-election',
      '--leader-election-namespace',
      'vireo-system',
    ]);
    try {
      await eventually(
        () =>
          client.get<KubeObject & { status?: { phase?: string } }>(RESOURCES.canaries, namespace, 'podinfo'),
        (current) => current?.status?.phase === 'Initialized',
        60_000,
        'the canary initialized',
      );
      await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
        spec: { template: { metadata: { annotations: { 'example.com/revision': '2' } } } },
      });
      await eventually(
        () =>
          client.get<KubeObject & { status?: { phase?: string } }>(RESOURCES.canaries, namespace, 'podinfo'),
        (current) => current?.status?.phase === 'Succeeded',
        90_000,
        'the canary promoted',
      ).catch((error: unknown) => {
        console.error(controller.tail(60));
        throw error;
      });
      const lease = await client.get<Lease>(RESOURCES.leases, 'vireo-system', 'vireo-leader-election');
      expect(lease?.spec?.holderIdentity).not.toBe('');
      const forbidden = controller.logs.filter(
        (line) =>
          JSON.stringify(line).includes('E_KUBE_FORBIDDEN') || JSON.stringify(line).includes('forbidden'),
      );
      expect(forbidden).toEqual([]);
    } finally {
      expect(await controller.stop('SIGTERM')).toBe(0);
    }
    // A clean stop hands the Lease back.
    const released = await client.get<Lease>(RESOURCES.leases, 'vireo-system', 'vireo-leader-election');
    expect(released?.spec?.holderIdentity).toBe('');
  });
});

describe('overlays', () => {
  const render = async (overlay: string): Promise<KubeObject[]> =>
    parseAllDocuments(await kubectl('kustomize', overlay)).map((document) => document.toJS() as KubeObject);
  const argsOf = (objects: KubeObject[]): string[] =>
    (objects.find((object) => object.kind === 'Deployment') as any).spec.template.spec.containers[0].args;

  it('kustomize/nginx renders the base with the nginx provider and the ingress-nginx Prometheus', async () => {
    const base = await render('kustomize/base');
    const nginx = await render('kustomize/nginx');
    expect(nginx.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(
      base.map((object) => `${object.kind}/${object.metadata.name}`),
    );
    expect(argsOf(nginx)).toEqual([
      'controller',
      '--log-level=info',
      '--mesh-provider=nginx',
      '--metrics-server=http://prometheus.ingress-nginx:9090',
      '--include-label-prefix=app.kubernetes.io',
      '--port=8080',
    ]);
  });

  it('kustomize/kubernetes renders the base with the kubernetes provider and a metrics server', async () => {
    const args = argsOf(await render('kustomize/kubernetes'));
    expect(args).toContain('--mesh-provider=kubernetes');
    expect(args.filter((arg) => arg.startsWith('--metrics-server='))).toHaveLength(1);
  });
});
