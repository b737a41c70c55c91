/**
 * `vireo controller`, the built binary, against the real test control plane (kube-apiserver,
 * kube-controller-manager rolling Deployments out, kwok making pods Ready), with a real
 * Prometheus for the built-in checks and local HTTP servers for webhooks and Slack. Each
 * scenario is a Flagger user's: apply a Deployment and a Canary, change the image, watch.
 * The scenarios run concurrently in their own namespaces against one controller, then the
 * controller is killed in the middle of an analysis and restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { microTime, type Lease } from '../../src/platforms/kubernetes/leader-election.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment, podinfoIngress } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { adminClient, ensureNamespace, eventually, installCrds } from '../support/kube.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

type Canary = KubeObject & {
  status?: {
    phase?: string;
    canaryWeight?: number;
    iterations?: number;
    failedChecks?: number;
    conditions?: { type: string; status: string; reason: string }[];
  };
};
type Deployment = KubeObject & {
  spec: { replicas?: number; template: { spec: { containers: { image: string; envFrom?: unknown[] }[] } } };
  status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
};
type Service = KubeObject & {
  spec: { selector?: Record<string, string>; ports?: { name?: string; port: number }[] };
};
type Ingress = KubeObject & {
  spec: { rules: { http: { paths: { backend: { service: { name: string } } }[] } }[] };
};

const NGINX = 'nginx.ingress.kubernetes.io';

let cluster: TestCluster;
let client: KubeClient;
let controller: ControllerProcess;
let exporter: MeshExporter;
let prometheus: TestPrometheus;
let okHook: RecordingServer;
let slack: RecordingServer;

beforeAll(async () => {
  [cluster, exporter, okHook, slack] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    startMeshExporter(),
    startRecordingServer(),
    startRecordingServer(),
  ]);
  prometheus = await startPrometheus({ targets: [exporter.target] });
  client = await adminClient(cluster);
  await installCrds(client);
  await prometheus.waitForScrapes(2);
  controller = await startControllerProcess(cluster.kubeconfigPath, [
    '--metrics-server',
    prometheus.url,
    '--include-label-prefix',
    'app.kubernetes.io',
  ]);
}, 240_000);

afterAll(async () => {
  if (controller !== undefined) {
    const code = await controller.stop('SIGTERM');
    if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
  }
  await client?.close();
  await Promise.allSettled([prometheus?.stop(), exporter?.close(), okHook?.close(), slack?.close()]);
  await cluster?.stop();
}, 60_000);

// ---- helpers ------------------------------------------------------------------------------------

const readCanary = (namespace: string, name = 'podinfo') =>
  client.get<Canary>(RESOURCES.canaries, namespace, name);
const readDeployment = (namespace: string, name: string) =>
  client.get<Deployment>(RESOURCES.deployments, namespace, name);
const readService = (namespace: string, name: string) =>
  client.get<Service>(RESOURCES.services, namespace, name);
const readIngress = (namespace: string, name: string) =>
  client.get<Ingress>(RESOURCES.ingresses, namespace, name);

async function waitForPhase(
  namespace: string,
  phases: string[],
  timeoutMs = 90_000,
  name = 'podinfo',
): Promise<Canary> {
  try {
    return (await eventually(
      () => readCanary(namespace, name),
      (current) => phases.includes(current?.status?.phase ?? ''),
      timeoutMs,
      `canary ${name}.${namespace} in ${phases.join('|')}`,
    ))!;
  } catch (error) {
    console.error(controller.tail(80));
    throw error;
  }
}

async function setImage(namespace: string, image: string, name = 'podinfo'): Promise<void> {
  const current = (await readDeployment(namespace, name))!;
  const containers = current.spec.template.spec.containers.map((container) => ({ ...container, image }));
  await client.mergePatch(RESOURCES.deployments, namespace, name, {
    spec: { template: { spec: { containers } } },
  });
}

/** Samples `read` every 100 ms until `done`, returning every distinct value seen in order. */
async function observe<T>(
  read: () => Promise<T>,
  done: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await read();
    if (seen.length === 0 || JSON.stringify(seen.at(-1)) !== JSON.stringify(value)) seen.push(value);
    if (await done()) return seen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`observation timed out; seen ${JSON.stringify(seen)}\n${controller.tail(40)}`);
}

async function given(
  namespace: string,
  options: { ingress?: boolean; configMap?: string } = {},
): Promise<void> {
  await ensureNamespace(client, namespace);
  await client.create(
    RESOURCES.deployments,
    podinfoDeployment(namespace, options.configMap === undefined ? {} : { configMap: options.configMap }),
  );
  if (options.ingress === true) await client.create(RESOURCES.ingresses, podinfoIngress(namespace));
}

const phaseOf = async (namespace: string) => (await readCanary(namespace))?.status?.phase ?? '';

// ---- scenarios ----------------------------------------------------------------------------------

describe.concurrent('vireo controller on a real cluster', () => {
  it('given a Deployment and an nginx Canary, when the controller initializes it, then the primary, three Services and the canary Ingress exist and the target is scaled to zero; when the image changes, then the Ingress weight steps up and the canary is promoted', async () => {
    const namespace = 'nginx-canary';
    await given(namespace, { ingress: true });
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'nginx',
        analysis: {
          interval: '2s',
          threshold: 2,
          stepWeight: 20,
          maxWeight: 60,
          webhooks: [{ name: 'acceptance', type: 'rollout', url: okHook.url }],
        },
      }),
    );
    const initialized = await waitForPhase(namespace, ['Initialized']);
    expect(initialized.status?.conditions?.find((condition) => condition.type === 'Promoted')).toMatchObject({
      status: 'True',
      reason: 'Initialized',
    });
    const primary = (await readDeployment(namespace, 'podinfo-primary'))!;
    expect(primary.metadata.labels).toMatchObject({
      app: 'podinfo-primary',
      'app.kubernetes.io/name': 'podinfo',
    });
    expect(primary.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Canary',
      name: 'podinfo',
      controller: true,
    });
    expect(primary.status?.readyReplicas).toBe(2);
    expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);
    expect((await readService(namespace, 'podinfo'))?.spec.selector).toEqual({ app: 'podinfo-primary' });
    expect((await readService(namespace, 'podinfo-primary'))?.spec.selector).toEqual({
      app: 'podinfo-primary',
    });
    expect((await readService(namespace, 'podinfo-canary'))?.spec.selector).toEqual({ app: 'podinfo' });
    const canaryIngress = (await readIngress(namespace, 'podinfo-canary'))!;
    expect(canaryIngress.metadata.annotations).toMatchObject({
      [`${NGINX}/canary`]: 'true',
      [`${NGINX}/canary-weight`]: '0',
    });
    expect(canaryIngress.spec.rules[0]?.http.paths[0]?.backend.service.name).toBe('podinfo-canary');

    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const weights = await observe(
      async () =>
        (await readIngress(namespace, 'podinfo-canary'))?.metadata.annotations?.[`${NGINX}/canary-weight`],
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    // Every step of the analysis was served by the Ingress, in order, then traffic went back to the primary.
    const steps = weights.filter((weight) => weight !== '0');
    expect(steps).toEqual(['20', '40', '60']);
    expect(weights.at(-1)).toBe('0');
    const promoted = (await readDeployment(namespace, 'podinfo-primary'))!;
    expect(promoted.spec.template.spec.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
    expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);
    expect(okHook.requests.some((request) => request.body.includes('"namespace":"nginx-canary"'))).toBe(true);
  });

  it('given an nginx Canary whose built-in success-rate check fails on a real Prometheus, when the image changes, then it halts, rolls back after two failed checks, scales the canary to zero and alerts Slack', async () => {
    // The mesh exporter serves nginx series for ingress test/podinfo with a 95% success rate.
    const namespace = 'test';
    await given(namespace, { ingress: true });
    await client.apply(RESOURCES.alertProviders, {
      metadata: { name: 'on-call', namespace },
      spec: { type: 'slack', channel: 'deploys', address: slack.url },
    });
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'nginx',
        analysis: {
          interval: '2s',
          threshold: 2,
          stepWeight: 20,
          maxWeight: 60,
          metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
          alerts: [{ name: 'on-call', severity: 'info', providerRef: { name: 'on-call' } }],
        },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const failed = await waitForPhase(namespace, ['Failed', 'Succeeded']);
    expect(failed.status?.phase).toBe('Failed');
    expect(failed.status?.canaryWeight).toBe(0);
    expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);
    expect(
      (await readIngress(namespace, 'podinfo-canary'))?.metadata.annotations?.[`${NGINX}/canary-weight`],
    ).toBe('0');
    // The primary kept the old version.
    expect(
      (await readDeployment(namespace, 'podinfo-primary'))?.spec.template.spec.containers[0]?.image,
    ).toBe('ghcr.io/stefanprodan/podinfo:6.0.0');
    const events = await client.list<KubeObject & { message: string; reason: string; type: string }>(
      RESOURCES.events,
      namespace,
    );
    const messages = events.items.filter((event) => event.reason === 'Synced').map((event) => event.message);
    expect(
      messages.filter((message) =>
        /^Halt podinfo\.test advancement success rate 95\.00% < 99%$/.test(message),
      ).length,
    ).toBeGreaterThanOrEqual(1);
    expect(messages).toContain('Rolling back podinfo.test failed checks threshold reached 2');
    // Flagger's provider check while initializing, against the real Prometheus (issue 22 item 4).
    expect(messages).toContain('all the metrics providers are available!');
    expect(messages.filter((message) => message.startsWith('Error checking metric providers'))).toEqual([]);
    await eventually(
      () => Promise.resolve(slack.requests.map((request) => request.body)),
      (bodies) => bodies.some((body) => body.includes('Failed checks threshold reached 2')),
      10_000,
      'the rollback alert on Slack',
    );
  });

  it('given an nginx Canary with an A/B match on a header, when the image changes, then the canary Ingress routes by that header during the analysis and the canary is promoted', async () => {
    const namespace = 'ab-testing';
    await given(namespace, { ingress: true });
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'nginx',
        analysis: {
          interval: '2s',
          threshold: 2,
          iterations: 3,
          match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
        },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const seen = await observe(
      async () => {
        const annotations = (await readIngress(namespace, 'podinfo-canary'))?.metadata.annotations ?? {};
        return {
          header: annotations[`${NGINX}/canary-by-header`],
          value: annotations[`${NGINX}/canary-by-header-value`],
          weight: annotations[`${NGINX}/canary-weight`],
        };
      },
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    // nginx cannot combine a weight with a header match: the header alone decides (docs/flagger-compatibility.md#32-routers).
    expect(seen.some((sample) => sample.header === 'x-canary' && sample.value === 'insider')).toBe(true);
    expect(seen.at(-1)).toEqual({ header: undefined, value: undefined, weight: '0' });
    expect(
      (await readDeployment(namespace, 'podinfo-primary'))?.spec.template.spec.containers[0]?.image,
    ).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
  });

  it('given a blue/green Canary with the kubernetes provider, when the image changes, then it runs its iterations with the apex Service on the primary, and promotes', async () => {
    const namespace = 'blue-green';
    await given(namespace);
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'kubernetes',
        analysis: { interval: '2s', threshold: 2, iterations: 3 },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const seen = await observe(
      async () => {
        const current = await readCanary(namespace);
        const apex = await readService(namespace, 'podinfo');
        return {
          phase: current?.status?.phase,
          iterations: current?.status?.iterations,
          apex: apex?.spec.selector?.['app'],
        };
      },
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    expect(seen.map((sample) => sample.apex).every((selector) => selector === 'podinfo-primary')).toBe(true);
    expect(Math.max(...seen.map((sample) => sample.iterations ?? 0))).toBeGreaterThanOrEqual(2);
    expect(seen.some((sample) => sample.phase === 'Progressing')).toBe(true);
    expect(
      (await readDeployment(namespace, 'podinfo-primary'))?.spec.template.spec.containers[0]?.image,
    ).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
    expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);
  });

  it('given a Deployment that reads a ConfigMap, when only the ConfigMap changes, then an analysis starts and the primary gets the new data through its -primary copy', async () => {
    const namespace = 'config-tracking';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.configMaps, {
      metadata: { name: 'podinfo-config', namespace },
      data: { COLOR: 'blue' },
    });
    await given(namespace, { configMap: 'podinfo-config' });
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'kubernetes',
        analysis: { interval: '2s', threshold: 2, iterations: 2 },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    const copy = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.configMaps,
      namespace,
      'podinfo-config-primary',
    );
    expect(copy?.data).toEqual({ COLOR: 'blue' });
    const primary = (await readDeployment(namespace, 'podinfo-primary'))!;
    expect(primary.spec.template.spec.containers[0]?.envFrom).toEqual([
      { configMapRef: { name: 'podinfo-config-primary' } },
    ]);

    await client.mergePatch(RESOURCES.configMaps, namespace, 'podinfo-config', { data: { COLOR: 'green' } });
    await waitForPhase(namespace, ['Progressing']);
    await waitForPhase(namespace, ['Succeeded']);
    const updated = await client.get<KubeObject & { data: Record<string, string> }>(
      RESOURCES.configMaps,
      namespace,
      'podinfo-config-primary',
    );
    expect(updated?.data).toEqual({ COLOR: 'green' });
  });

  it("given a Canary whose pre-rollout webhook answers 500, when the image changes, then it halts with the hook's answer, rolls back, and the primary keeps the old version", async () => {
    const namespace = 'failing-hook';
    const failingHook = await startRecordingServer(() => ({ status: 500, body: 'acceptance tests failed' }));
    try {
      await given(namespace);
      await client.apply(
        RESOURCES.canaries,
        canary({
          namespace,
          provider: 'kubernetes',
          analysis: {
            interval: '2s',
            threshold: 2,
            iterations: 3,
            webhooks: [{ name: 'acceptance', type: 'pre-rollout', url: failingHook.url }],
          },
        }),
      );
      await waitForPhase(namespace, ['Initialized']);
      await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
      const failed = await waitForPhase(namespace, ['Failed', 'Succeeded']);
      expect(failed.status?.phase).toBe('Failed');
      expect(failingHook.requests.length).toBeGreaterThanOrEqual(2);
      const events = await client.list<KubeObject & { message: string }>(RESOURCES.events, namespace);
      // The event carries the hook's status and answer, so "why did it halt?" is answered in place.
      expect(
        events.items.some((event) =>
          /^Halt podinfo\.failing-hook advancement pre-rollout check acceptance failed .*500.*acceptance tests failed$/.test(
            event.message,
          ),
        ),
      ).toBe(true);
      expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);
      expect(
        (await readDeployment(namespace, 'podinfo-primary'))?.spec.template.spec.containers[0]?.image,
      ).toBe('ghcr.io/stefanprodan/podinfo:6.0.0');
    } finally {
      await failingHook.close();
    }
  });

  it('given a DaemonSet target, when it is initialized and its image changes, then the target is parked off every node and the primary DaemonSet is promoted', async () => {
    const namespace = 'daemonset';
    await ensureNamespace(client, namespace);
    const deployment = podinfoDeployment(namespace) as KubeObject & { spec: Record<string, unknown> };
    const daemonSetSpec = { ...deployment.spec };
    delete daemonSetSpec['replicas'];
    delete daemonSetSpec['progressDeadlineSeconds'];
    await client.create(RESOURCES.daemonSets, { metadata: deployment.metadata, spec: daemonSetSpec });
    const daemonSetCanary = canary({
      namespace,
      provider: 'kubernetes',
      analysis: { interval: '2s', threshold: 2, iterations: 2 },
    });
    (daemonSetCanary['spec'] as { targetRef: { kind: string } }).targetRef.kind = 'DaemonSet';
    await client.apply(RESOURCES.canaries, daemonSetCanary);
    await waitForPhase(namespace, ['Initialized']);
    type DaemonSet = KubeObject & {
      spec: {
        template: { spec: { nodeSelector?: Record<string, string>; containers: { image: string }[] } };
      };
      status?: { numberReady?: number; desiredNumberScheduled?: number };
    };
    const target = (await client.get<DaemonSet>(RESOURCES.daemonSets, namespace, 'podinfo'))!;
    expect(target.spec.template.spec.nodeSelector).toEqual({ 'flagger.app/scale-to-zero': 'true' });
    const primary = await eventually(
      () => client.get<DaemonSet>(RESOURCES.daemonSets, namespace, 'podinfo-primary'),
      (current) => (current?.status?.numberReady ?? 0) === cluster.nodeNames.length,
      30_000,
      'the primary DaemonSet on every node',
    );
    expect(primary?.spec.template.spec.nodeSelector ?? {}).toEqual({});

    const containers = target.spec.template.spec.containers.map((container) => ({
      ...container,
      image: 'ghcr.io/stefanprodan/podinfo:6.0.1',
    }));
    await client.mergePatch(RESOURCES.daemonSets, namespace, 'podinfo', {
      spec: { template: { spec: { containers } } },
    });
    await waitForPhase(namespace, ['Succeeded']);
    const promoted = (await client.get<DaemonSet>(RESOURCES.daemonSets, namespace, 'podinfo-primary'))!;
    expect(promoted.spec.template.spec.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
    expect(
      (await client.get<DaemonSet>(RESOURCES.daemonSets, namespace, 'podinfo'))?.spec.template.spec
        .nodeSelector,
    ).toEqual({
      'flagger.app/scale-to-zero': 'true',
    });
  });

  it('given a Canary the controller cannot run (a local-mode Workload target), when it is applied, then a Warning event names the field and nothing is generated', async () => {
    const namespace = 'invalid';
    await ensureNamespace(client, namespace);
    const invalid = canary({
      namespace,
      provider: 'kubernetes',
      analysis: { interval: '2s', threshold: 2, iterations: 2 },
    });
    (invalid['spec'] as Record<string, unknown>)['targetRef'] = {
      apiVersion: 'local.vireo.dev/v1alpha1',
      kind: 'Workload',
      name: 'podinfo',
    };
    await client.apply(RESOURCES.canaries, invalid);
    const events = await eventually(
      () => client.list<KubeObject & { message: string; type: string }>(RESOURCES.events, namespace),
      (list) => list.items.some((event) => event.type === 'Warning'),
      30_000,
      'a Warning event',
    );
    expect(events.items.map((event) => event.message)).toContainEqual(
      expect.stringMatching(
        /^Invalid canary, not running it: spec\.targetRef\.kind: Workload targets are local processes/,
      ),
    );
    expect((await readCanary(namespace))?.status?.phase ?? '').toBe('');
    expect(await readService(namespace, 'podinfo')).toBeUndefined();
  });

  it('given a Canary with revertOnDeletion, when it is deleted, then the target gets its replicas back and the Canary goes away', async () => {
    const namespace = 'revert';
    await given(namespace);
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'kubernetes',
        revertOnDeletion: true,
        analysis: { interval: '2s', threshold: 2, iterations: 2 },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    expect((await readCanary(namespace))?.metadata.finalizers).toContain('finalizer.flagger.app');
    expect((await readDeployment(namespace, 'podinfo'))?.spec.replicas).toBe(0);

    await client.delete(RESOURCES.canaries, namespace, 'podinfo');
    await eventually(
      () => readCanary(namespace),
      (current) => current === undefined,
      60_000,
      'the Canary deleted',
    );
    const target = (await readDeployment(namespace, 'podinfo'))!;
    expect(target.spec.replicas).toBe(2);
    await eventually(
      () => readDeployment(namespace, 'podinfo'),
      (current) => current?.status?.readyReplicas === 2,
      30_000,
      'the target ready again',
    );
  });
});

describe('vireo controller restarts', () => {
  it('given a canary in the middle of its analysis, when the controller is killed and started again, then it continues from the stored weight and promotes once', async () => {
    const namespace = 'restart';
    await given(namespace, { ingress: true });
    await client.apply(
      RESOURCES.canaries,
      canary({
        namespace,
        provider: 'nginx',
        analysis: { interval: '3s', threshold: 2, stepWeight: 20, maxWeight: 80 },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    const primaryGeneration = (await readDeployment(namespace, 'podinfo-primary'))!.metadata.generation!;
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    await eventually(
      () => readCanary(namespace),
      (current) => (current?.status?.canaryWeight ?? 0) >= 40,
      60_000,
      'weight 40',
    );

    const code = await controller.stop('SIGKILL');
    expect(code).toBeNull();
    const weightAtCrash = (await readCanary(namespace))!.status!.canaryWeight!;
    controller = await startControllerProcess(cluster.kubeconfigPath, ['--metrics-server', prometheus.url]);

    const seen = await observe(
      async () => {
        const current = await readCanary(namespace);
        return { phase: current?.status?.phase, weight: current?.status?.canaryWeight ?? 0 };
      },
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    // No re-initialization and no restart of the analysis: the weight only goes up until promotion.
    expect(seen.map((sample) => sample.phase)).not.toContain('Initialized');
    const progressing = seen
      .filter((sample) => sample.phase === 'Progressing')
      .map((sample) => sample.weight);
    expect(progressing[0]).toBeGreaterThanOrEqual(weightAtCrash);
    expect(progressing).toEqual([...progressing].sort((a, b) => a - b));
    // Promoted exactly once: one spec change of the primary.
    const primary = (await readDeployment(namespace, 'podinfo-primary'))!;
    expect(primary.metadata.generation).toBe(primaryGeneration + 1);
    expect(primary.spec.template.spec.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
  });

  it('given a controller leading through its Lease, when another holder takes the Lease, then it stops all work and exits 1', async () => {
    const namespace = 'quiet';
    await ensureNamespace(client, namespace);
    const leader = await startControllerProcess(cluster.kubeconfigPath, [
      '--namespace',
      namespace,
      '--enable-leader-election',
    ]);
    try {
      const lease = (await eventually(
        () => client.get<Lease>(RESOURCES.leases, namespace, 'vireo-leader-election'),
        (current) => (current?.spec?.holderIdentity ?? '') !== '',
        30_000,
        'the Lease held',
      ))!;
      await client.replace(RESOURCES.leases, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: 'another-replica',
          renewTime: microTime(new Date()),
          leaseDurationSeconds: 60,
        },
      });
      const code = await Promise.race([
        leader.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 30_000)),
      ]);
      expect(code).toBe(1);
      expect(leader.logs.some((line) => String(line['msg']).includes('leadership lost'))).toBe(true);
    } finally {
      await leader.stop('SIGKILL');
    }
  });

  it("serves /healthz and Flagger's metrics on --port", async () => {
    const health = await fetch(`http://127.0.0.1:${controller.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('OK');
    const metrics = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
    expect(metrics).toMatch(/flagger_info\{version="[^"]+",mesh_provider="istio"\} 1/);
    expect(metrics).toMatch(/flagger_canary_total\{namespace="restart"\} 1/);
    expect(metrics).toMatch(/vireo_watch_events_total\{resource="canaries.flagger.app",event="added"\} \d+/);
  });
});
