/**
 * docs/migrating-from-flagger.md, step by step, on a real kube-apiserver. The cluster "runs
 * Flagger": a Helm release named flagger (test/fixtures/flagger-release: a Deployment named
 * flagger, Flagger's values, the CRDs as release templates with helm.sh/resource-policy: keep as
 * Flagger's chart renders them) and a Canary whose status carries a Flagger-style revision hash.
 * kwok runs no containers, so Vireo's controller runs out of the cluster with the installed
 * release's arguments, Secret and ServiceAccount token, as in vireo-install.test.ts.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type KubeClient, type KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { helm, LOADTESTER_CHART, REPOSITORY, VIREO_CHART } from '../support/helm.js';
import { adminClient, adminKubeConfig, CRDS, ensureNamespace, eventually } from '../support/kube.js';
import { kubeConfigWithToken } from '../support/kubeconfig.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

const KUBECTL = join(
  process.env['VIREO_KUBE_BIN_DIR'] ?? join(REPOSITORY, '.cache', 'kube', 'bin'),
  'kubectl',
);
const FLAGGER_NAMESPACE = 'flagger-system';
const APPS = 'apps';
/** The shape of Flagger's status.lastAppliedSpec: a short hash of the pod template. */
const FLAGGER_REVISION_HASH = '5d86d844f4';

type Canary = KubeObject & {
  status?: { phase?: string; lastAppliedSpec?: string; lastPromotedSpec?: string };
};
type Deployment = KubeObject & { spec: any; status?: { replicas?: number; availableReplicas?: number } };

let cluster: TestCluster;
let client: KubeClient;
let slack: RecordingServer;
let controller: ControllerProcess | undefined;
const work = mkdtempSync(join(tmpdir(), 'vireo-migration-'));

const kubectl = async (...args: string[]): Promise<string> =>
  (await promisify(execFile)(KUBECTL, ['--kubeconfig', cluster.kubeconfigPath, ...args], { cwd: REPOSITORY }))
    .stdout;
const helmHere = (...args: string[]): Promise<string> =>
  helm([...args, '--kubeconfig', cluster.kubeconfigPath]);
const readCanary = (): Promise<Canary | undefined> => client.get<Canary>(RESOURCES.canaries, APPS, 'podinfo');

beforeAll(async () => {
  cluster = await startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) });
  client = await adminClient(cluster);
  slack = await startRecordingServer();
}, 180_000);

afterAll(async () => {
  await controller?.stop('SIGTERM');
  await slack?.close();
  await client?.close();
  await cluster?.stop();
}, 60_000);

describe('a cluster running Flagger', () => {
  it('has a flagger release with its CRDs, a Canary Flagger initialized, and Slack configured in its values', async () => {
    // The stand-in release, with the CRDs as templates of the release (crd.create=true).
    const chart = join(work, 'flagger');
    cpSync(join(REPOSITORY, 'test', 'fixtures', 'flagger-release'), chart, { recursive: true });
    mkdirSync(join(chart, 'crd-files'));
    for (const file of readdirSync(join(REPOSITORY, 'crds')).filter((name) =>
      name.endsWith('.flagger.app.yaml'),
    ))
      cpSync(join(REPOSITORY, 'crds', file), join(chart, 'crd-files', file));
    await helmHere(
      'upgrade',
      '-i',
      'flagger',
      chart,
      '--namespace',
      FLAGGER_NAMESPACE,
      '--create-namespace',
      '--set',
      'crd.create=true',
      '--set',
      'meshProvider=kubernetes',
      '--set',
      `slack.url=${slack.url}/services/T/B/X`,
      '--set',
      'slack.channel=deployments',
    );
    await eventually(
      () => client.get<Deployment>(RESOURCES.deployments, FLAGGER_NAMESPACE, 'flagger'),
      (deployment) => deployment?.status?.availableReplicas === 1,
      90_000,
      'the flagger Deployment available',
    );

    // A canary that Flagger initialized: Vireo's own controller stands in for Flagger's work, then
    // its revision hashes are replaced with Flagger's format.
    await ensureNamespace(client, APPS);
    await client.create(RESOURCES.deployments, podinfoDeployment(APPS));
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace: APPS,
        provider: 'kubernetes',
        analysis: { interval: '2s', threshold: 2, iterations: 2 },
      }),
    );
    const standIn = await startControllerProcess(cluster.kubeconfigPath);
    try {
      await eventually(
        readCanary,
        (current) => current?.status?.phase === 'Initialized',
        60_000,
        'initialized',
      );
    } finally {
      await standIn.stop('SIGTERM');
    }
    await client.mergePatch(
      RESOURCES.canaries,
      APPS,
      'podinfo',
      { status: { lastAppliedSpec: FLAGGER_REVISION_HASH, lastPromotedSpec: FLAGGER_REVISION_HASH } },
      'status',
    );
    expect((await readCanary())?.status).toMatchObject({
      phase: 'Initialized',
      lastAppliedSpec: FLAGGER_REVISION_HASH,
    });
  });
});

describe('docs/migrating-from-flagger.md', () => {
  const valuesFile = join(work, 'flagger-values.yaml');

  it("step 1: saves Flagger's values with helm get values", async () => {
    writeFileSync(
      valuesFile,
      await helmHere('get', 'values', 'flagger', '--namespace', FLAGGER_NAMESPACE, '-o', 'yaml'),
    );
    expect(
      parse(await helmHere('get', 'values', 'flagger', '-n', FLAGGER_NAMESPACE, '-o', 'yaml')),
    ).toMatchObject({
      meshProvider: 'kubernetes',
      slack: { channel: 'deployments' },
    });
  });

  it('step 2: scales Flagger to zero and waits until no Flagger pod is left', async () => {
    await kubectl('--namespace', FLAGGER_NAMESPACE, 'scale', 'deployment/flagger', '--replicas=0');
    await kubectl(
      '--namespace',
      FLAGGER_NAMESPACE,
      'wait',
      '--for=delete',
      'pod',
      '--selector=app.kubernetes.io/name=flagger',
      '--timeout=120s',
    );
    const flagger = await client.get<Deployment>(RESOURCES.deployments, FLAGGER_NAMESPACE, 'flagger');
    expect(flagger?.spec.replicas).toBe(0);
  });

  it("step 3: replaces Flagger's CRDs with Vireo's, in place (no Canary is deleted)", async () => {
    const before = await readCanary();
    const output = await kubectl(
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(VIREO_CHART, 'crds'),
    );
    expect(output).toContain(
      'customresourcedefinition.apiextensions.k8s.io/canaries.flagger.app serverside-applied',
    );
    expect((await readCanary())?.metadata.uid).toBe(before?.metadata.uid);
  });

  it("step 4: installs Vireo beside it with Flagger's values (--skip-crds: step 3 did them)", async () => {
    const output = await helmHere(
      'upgrade',
      '-i',
      'vireo',
      VIREO_CHART,
      '--namespace',
      FLAGGER_NAMESPACE,
      '-f',
      valuesFile,
      // Step 3 did the CRDs: Helm must neither apply crds/ again (Helm 4 would conflict with
      // kubectl's fields) nor template them (Flagger's release still owns them with crd.create=true).
      '--skip-crds',
      '--set',
      'crd.create=false',
    );
    expect(output).toContain('STATUS: deployed');
    const vireo = await eventually(
      () => client.get<Deployment>(RESOURCES.deployments, FLAGGER_NAMESPACE, 'vireo'),
      (deployment) => deployment?.status?.availableReplicas === 1,
      90_000,
      'the vireo Deployment available',
    );
    const args = vireo!.spec.template.spec.containers[0].args as string[];
    expect(args).toEqual(
      expect.arrayContaining(['--mesh-provider=kubernetes', '--slack-channel=deployments']),
    );
  });

  it('step 5: Vireo takes the existing Canary over as Flagger left it, re-running nothing', async () => {
    const installed = (await client.get<Deployment>(RESOURCES.deployments, FLAGGER_NAMESPACE, 'vireo'))!;
    const container = installed.spec.template.spec.containers[0];
    const secret = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.secrets,
      FLAGGER_NAMESPACE,
      container.envFrom[0].secretRef.name,
    );
    const environment = Object.fromEntries(
      Object.entries(secret!.data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
    );
    const token = await cluster.tokenFor(FLAGGER_NAMESPACE, installed.spec.template.spec.serviceAccountName);
    const kubeconfigPath = join(work, 'vireo-kubeconfig');
    writeFileSync(kubeconfigPath, kubeConfigWithToken(adminKubeConfig(cluster), token).exportConfig(), {
      mode: 0o600,
    });
    const args = (container.args as string[]).filter(
      (arg) => arg !== 'controller' && !arg.startsWith('--port=') && !arg.startsWith('--log-level='),
    );
    controller = await startControllerProcess(kubeconfigPath, args, environment);

    const logged = (text: string): boolean =>
      controller!.logs.some((line) => JSON.stringify(line).includes(text));
    // Flagger's revision hash is recognised: the canary is taken over as it is, nothing re-run.
    await eventually(
      () => Promise.resolve(logged('Took over podinfo.apps from Flagger')),
      Boolean,
      60_000,
      'the takeover',
    ).catch((error: unknown) => {
      console.error(controller!.tail(60));
      throw error;
    });
    const adopted = await eventually(
      readCanary,
      (current) => current?.status?.lastAppliedSpec !== FLAGGER_REVISION_HASH,
      60_000,
      'status in our hash',
    );
    expect(adopted?.status?.phase).toBe('Initialized');
    expect(logged('New revision detected')).toBe(false);
    // A change made afterwards is analysed by Vireo, and its alert goes to Flagger's Slack values.
    const target = (await client.get<Deployment>(RESOURCES.deployments, APPS, 'podinfo'))!;
    const containers = (target.spec.template.spec.containers as { image: string }[]).map((container) => ({
      ...container,
      image: 'ghcr.io/stefanprodan/podinfo:6.0.1',
    }));
    await client.mergePatch(RESOURCES.deployments, APPS, 'podinfo', {
      spec: { template: { spec: { containers } } },
    });
    const settled = await eventually(
      readCanary,
      (current) => current?.status?.phase === 'Succeeded',
      120_000,
      'settled',
    );
    expect(settled?.status?.lastAppliedSpec).not.toBe(FLAGGER_REVISION_HASH);
    expect(logged('New revision detected')).toBe(true);
    // The global Slack notifier came over with Flagger's values (slack.url, slack.channel).
    await eventually(
      () => Promise.resolve(slack.requests.filter((request) => request.path === '/services/T/B/X').length),
      (count) => count > 0,
      60_000,
      "Slack called with Flagger's values",
    );
    expect(controller.logs.filter((line) => /forbidden/i.test(JSON.stringify(line)))).toEqual([]);
  });

  it('step 5, continued: a new revision after the switch is analysed and promoted by Vireo', async () => {
    await client.mergePatch(RESOURCES.deployments, APPS, 'podinfo', {
      spec: { template: { metadata: { annotations: { 'example.com/revision': 'after-migration' } } } },
    });
    await eventually(
      readCanary,
      (current) => current?.status?.phase === 'Progressing',
      60_000,
      'progressing',
    );
    await eventually(readCanary, (current) => current?.status?.phase === 'Succeeded', 120_000, 'promoted');
    const primary = await client.get<Deployment>(RESOURCES.deployments, APPS, 'podinfo-primary');
    expect(primary?.spec.template.metadata.annotations?.['example.com/revision']).toBe('after-migration');
  });

  it('step 6: moves the loadtester; the webhook URL stays, the token Secret holds the header for secretRef', async () => {
    const output = await helmHere(
      'upgrade',
      '-i',
      'flagger-loadtester',
      LOADTESTER_CHART,
      '--namespace',
      'test',
      '--create-namespace',
    );
    expect(output).toContain('STATUS: deployed');
    const service = await client.get<KubeObject & { spec: any }>(
      RESOURCES.services,
      'test',
      'flagger-loadtester',
    );
    expect(service?.spec.ports[0].port).toBe(80);
    const secret = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.secrets,
      'test',
      'flagger-loadtester-token',
    );
    const token = Buffer.from(secret!.data['token']!, 'base64').toString();
    expect(Buffer.from(secret!.data['Authorization']!, 'base64').toString()).toBe(`Bearer ${token}`);
    await eventually(
      () => client.get<Deployment>(RESOURCES.deployments, 'test', 'flagger-loadtester'),
      (deployment) => deployment?.status?.availableReplicas === 1,
      90_000,
      'the loadtester available',
    );
    // An upgrade keeps the token, so webhooks keep working.
    await helmHere(
      'upgrade',
      'flagger-loadtester',
      LOADTESTER_CHART,
      '--namespace',
      'test',
      '--set',
      'logLevel=debug',
    );
    const after = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.secrets,
      'test',
      'flagger-loadtester-token',
    );
    expect(after!.data['token']).toBe(secret!.data['token']);
  });

  it("step 7: uninstalls Flagger's release; the CRDs, the Canary and its primary stay", async () => {
    const canaryBefore = await readCanary();
    const output = await helmHere('uninstall', 'flagger', '--namespace', FLAGGER_NAMESPACE);
    expect(output).toContain('These resources were kept due to the resource policy');
    await eventually(
      () => client.get(RESOURCES.deployments, FLAGGER_NAMESPACE, 'flagger'),
      (deployment) => deployment === undefined,
      30_000,
      'the flagger Deployment removed',
    );
    for (const crd of ['canaries.flagger.app', 'metrictemplates.flagger.app', 'alertproviders.flagger.app'])
      expect(await client.get(CRDS, undefined, crd), crd).toBeDefined();
    expect((await readCanary())?.metadata.uid).toBe(canaryBefore?.metadata.uid);
    expect(await client.get(RESOURCES.deployments, APPS, 'podinfo-primary')).toBeDefined();
    expect(await client.get(RESOURCES.deployments, FLAGGER_NAMESPACE, 'vireo')).toBeDefined();
  });
});
