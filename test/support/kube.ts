/**
 * The controller's own client on a test cluster, with Vireo's CRDs installed and namespaces made
 * on demand: the common start of every test that drives src/platforms/kubernetes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { KubeClient, type KubeObject } from '../../src/platforms/kubernetes/client.js';
import { isAlreadyExists } from '../../src/platforms/kubernetes/errors.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';
import { startTestCluster, type TestCluster } from './cluster.js';
import { kubeConfigWithToken } from './kubeconfig.js';

const repository = join(import.meta.dirname, '..', '..');

/** CustomResourceDefinitions: only tests install them; the controller never writes one. */
/** A resource type the controller itself does not touch (resources.ts lists those), for tests to read. */
export const testResource = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
): ResourceType => ({ group, version, plural, kind, namespaced });

export const SERVICE_ACCOUNTS = testResource('', 'v1', 'serviceaccounts', 'ServiceAccount', true);
export const CLUSTER_ROLES = testResource(
  'rbac.authorization.k8s.io',
  'v1',
  'clusterroles',
  'ClusterRole',
  false,
);

export const CRDS: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
};

export function adminKubeConfig(cluster: TestCluster): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  return kubeConfig;
}

export async function adminClient(cluster: TestCluster): Promise<KubeClient> {
  return KubeClient.fromKubeConfig(adminKubeConfig(cluster));
}

/** Applies crds/*.yaml and waits until the API serves canaries. */
export async function installCrds(client: KubeClient): Promise<void> {
  for (const file of readdirSync(join(repository, 'crds')).filter((name) =>
    name.endsWith('.flagger.app.yaml'),
  )) {
    const crd = parse(readFileSync(join(repository, 'crds', file), 'utf8')) as KubeObject;
    await client.apply(CRDS, crd);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.list(RESOURCES.canaries, 'default');
      await client.list(RESOURCES.metricTemplates, 'default');
      await client.list(RESOURCES.alertProviders, 'default');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create(RESOURCES.namespaces, { metadata: { name } });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

/** Polls `read` until `accept` holds, or fails with the last value seen after `timeoutMs`. */
export async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not reached after ${timeoutMs} ms; last value: ${JSON.stringify(last)?.slice(0, 2000)}${lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface KubeTest {
  readonly cluster: TestCluster;
  /** Admin client (system:masters). */
  readonly client: KubeClient;
  /** Closes the client and stops the cluster. */
  stop(): Promise<void>;
}

/** A test cluster with an admin client, Vireo's CRDs (unless `crds: false`) and the namespaces given. */
export async function startKubeTest(
  options: { crds?: boolean; namespaces?: readonly string[] } = {},
): Promise<KubeTest> {
  const cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  const client = await adminClient(cluster);
  if (options.crds !== false) await installCrds(client);
  for (const namespace of options.namespaces ?? []) await ensureNamespace(client, namespace);
  return {
    cluster,
    client,
    stop: async () => {
      await client.close();
      await cluster.stop();
    },
  };
}

export const ROLES = testResource('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true);
export const ROLE_BINDINGS = testResource(
  'rbac.authorization.k8s.io',
  'v1',
  'rolebindings',
  'RoleBinding',
  true,
);

/** A ServiceAccount `name` in `namespace` allowed only `rules` there (a Role and its binding); its token. */
export async function restrictedUserToken(
  cluster: TestCluster,
  client: KubeClient,
  namespace: string,
  name: string,
  rules: object[],
): Promise<string> {
  await client.create(SERVICE_ACCOUNTS, { metadata: { name, namespace } });
  await client.create(ROLES, { metadata: { name, namespace }, rules });
  await client.create(ROLE_BINDINGS, {
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  return cluster.tokenFor(namespace, name);
}

/** That user's kubeconfig, written to `directory` (mode 0600): the CLI run as them. */
export async function restrictedUserKubeconfig(
  cluster: TestCluster,
  client: KubeClient,
  namespace: string,
  name: string,
  rules: object[],
  directory: string,
): Promise<string> {
  const token = await restrictedUserToken(cluster, client, namespace, name, rules);
  const file = join(directory, `${name}.kubeconfig`);
  await writeFile(file, kubeConfigWithToken(adminKubeConfig(cluster), token).exportConfig(), { mode: 0o600 });
  return file;
}
