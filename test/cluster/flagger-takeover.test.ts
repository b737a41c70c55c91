/**
 * Replacing Flagger (issue "Drop-in in fact", docs/migrating-from-flagger.md): canaries whose
 * status Flagger wrote are taken over by `vireo controller` without acting on them. The statuses
 * are brought to each phase by a first controller, which is then stopped; their revision fields
 * are rewritten as Flagger writes them (its hash format, engine/takeover.ts), and a second
 * controller starts on them, as a user's new Vireo after `kubectl scale deploy/flagger --replicas 0`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment, podinfoIngress } from '../support/canary-fixtures.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { adminClient, ensureNamespace, eventually, installCrds } from '../support/kube.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

type Canary = KubeObject & {
  status?: {
    phase?: string;
    canaryWeight?: number;
    iterations?: number;
    failedChecks?: number;
    lastAppliedSpec?: string;
    lastPromotedSpec?: string;
  };
};
type Deployment = KubeObject & {
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
};
type Event = KubeObject & { message: string; reason: string; count?: number };

const NGINX = 'nginx.ingress.kubernetes.io';
const V1 = 'ghcr.io/stefanprodan/podinfo:6.0.0';
const V2 = 'ghcr.io/stefanprodan/podinfo:6.0.1';
const V3 = 'ghcr.io/stefanprodan/podinfo:6.0.2';

/** Flagger's hash format: decimal digits mapped onto its alphabet (engine/takeover.ts). */
const FLAGGER_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const flaggerHash = (value: number): string =>
  [...String(value)].map((digit) => FLAGGER_ALPHABET[digit.charCodeAt(0) % 27]).join('');

let cluster: TestCluster;
let client: KubeClient;
let controller: ControllerProcess | undefined;
let hooks: RecordingServer;

beforeAll(async () => {
  [cluster, hooks] = await Promise.all([
    startTestCluster({ log: (line) => console.log(`[test-cluster] ${line}`) }),
    // Every hook of namespace takeover-failed refuses: its analysis fails.
    startRecordingServer((request) =>
      request.path.startsWith('/takeover-failed/')
        ? { status: 500, body: 'no' }
        : { status: 200, body: 'ok' },
    ),
  ]);
  client = await adminClient(cluster);
  await installCrds(client);
}, 240_000);

afterAll(async () => {
  await controller?.stop('SIGTERM');
  await client?.close();
  await hooks?.close();
  await cluster?.stop();
}, 60_000);

const readCanary = (namespace: string) => client.get<Canary>(RESOURCES.canaries, namespace, 'podinfo');
const readDeployment = (namespace: string, name = 'podinfo') =>
  client.get<Deployment>(RESOURCES.deployments, namespace, name);
const canaryWeightAnnotation = async (namespace: string) =>
  (await client.get<KubeObject>(RESOURCES.ingresses, namespace, 'podinfo-canary'))?.metadata.annotations?.[
    `${NGINX}/canary-weight`
  ];

async function waitForPhase(namespace: string, phases: string[], timeoutMs = 120_000): Promise<Canary> {
  try {
    return (await eventually(
      () => readCanary(namespace),
      (current) => phases.includes(current?.status?.phase ?? ''),
      timeoutMs,
      `canary podinfo.${namespace} in ${phases.join('|')}`,
    ))!;
  } catch (error) {
    console.error(controller?.tail(80));
    throw error;
  }
}

async function setImage(namespace: string, image: string): Promise<void> {
  const current = (await readDeployment(namespace))!;
  const containers = current.spec.template.spec.containers.map((container) => ({ ...container, image }));
  await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
    spec: { template: { spec: { containers } } },
  });
}

/** Every Event count whose message starts with `prefix`, in `namespace`. */
async function eventCount(namespace: string, prefix: string): Promise<number> {
  const events = await client.list<Event>(RESOURCES.events, namespace);
  return events.items
    .filter((event) => event.message.startsWith(prefix))
    .reduce((sum, event) => sum + (event.count ?? 1), 0);
}

const hookCalls = (namespace: string, type?: string) =>
  hooks.requests.filter((request) => request.path.startsWith(`/${namespace}/${type ?? ''}`)).length;

function webhooks(namespace: string) {
  return ['pre-rollout', 'rollout', 'post-rollout'].map((type) => ({
    name: type,
    type,
    url: `${hooks.url}/${namespace}/${type}`,
  }));
}

async function given(namespace: string, provider: 'nginx' | 'kubernetes', analysis: Record<string, unknown>) {
  await ensureNamespace(client, namespace);
  await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
  if (provider === 'nginx') await client.create(RESOURCES.ingresses, podinfoIngress(namespace));
  await client.apply(
    RESOURCES.canaries,
    canary({
      namespace,
      provider,
      analysis: { interval: '2s', threshold: 1, ...analysis, webhooks: webhooks(namespace) },
    }),
  );
}

/** Rewrites the revision fields as Flagger would have written them, the rest of the status kept. */
async function asFlaggerWroteIt(namespace: string, seed: number): Promise<Canary> {
  const current = (await readCanary(namespace))!;
  const applied = flaggerHash(3_000_000_000 + seed);
  const promoted =
    current.status?.lastPromotedSpec === current.status?.lastAppliedSpec
      ? applied
      : flaggerHash(2_000_000_000 + seed);
  return client.replaceStatus<Canary>(RESOURCES.canaries, {
    ...current,
    status: { ...current.status, lastAppliedSpec: applied, lastPromotedSpec: promoted },
  });
}

describe('taking over canaries whose status Flagger wrote', () => {
  it('given canaries Flagger left Initialized, Succeeded, Failed and mid-analysis, when vireo controller starts on them, then nothing is re-run, no weight moves, no rejected version scales up, the analysis in flight goes on, and a change made afterwards is analysed', async () => {
    // ---- given: each phase, reached by a first controller -------------------------------------
    controller = await startControllerProcess(cluster.kubeconfigPath);
    await Promise.all([
      given('takeover-initialized', 'kubernetes', { iterations: 2 }),
      given('takeover-succeeded', 'nginx', { stepWeight: 50, maxWeight: 50 }),
      given('takeover-failed', 'kubernetes', { iterations: 3 }),
      given('takeover-progressing', 'nginx', { stepWeight: 10, maxWeight: 50 }),
    ]);
    await Promise.all(
      ['takeover-initialized', 'takeover-succeeded', 'takeover-failed', 'takeover-progressing'].map(
        (namespace) => waitForPhase(namespace, ['Initialized']),
      ),
    );
    await Promise.all([setImage('takeover-succeeded', V2), setImage('takeover-failed', V2)]);
    await Promise.all([
      waitForPhase('takeover-succeeded', ['Succeeded']),
      waitForPhase('takeover-failed', ['Failed']),
    ]);
    // Mid-analysis: stopped once the canary takes 20 % of the traffic.
    await setImage('takeover-progressing', V2);
    await eventually(
      () => canaryWeightAnnotation('takeover-progressing'),
      (weight) => Number(weight ?? '0') >= 20,
      120_000,
      'the progressing canary at 20 %',
    );
    expect(await controller.stop('SIGTERM')).toBe(0);
    controller = undefined;

    const namespaces = [
      'takeover-initialized',
      'takeover-succeeded',
      'takeover-failed',
      'takeover-progressing',
    ];
    const before = new Map<string, { canary: Canary; newRevisions: number; hooks: number }>();
    for (const [index, namespace] of namespaces.entries()) {
      before.set(namespace, {
        canary: await asFlaggerWroteIt(namespace, index),
        newRevisions: await eventCount(namespace, 'New revision detected'),
        hooks: hookCalls(namespace),
      });
    }
    const stoppedAt = before.get('takeover-progressing')!.canary.status!;
    expect(stoppedAt.phase).toBe('Progressing');
    const stoppedWeight = Number(await canaryWeightAnnotation('takeover-progressing'));
    expect(stoppedWeight).toBeGreaterThanOrEqual(20);
    const preRolloutCalls = hookCalls('takeover-progressing', 'pre-rollout');

    // ---- when: vireo controller starts on them -------------------------------------------------
    controller = await startControllerProcess(cluster.kubeconfigPath);
    const running = controller;
    const failedReplicas: (number | undefined)[] = [];
    const progressingWeights: number[] = [];
    // Each adopted status is rewritten once in our hash (at most 7 characters).
    await eventually(
      async () => {
        failedReplicas.push((await readDeployment('takeover-failed'))?.spec.replicas);
        progressingWeights.push(Number((await canaryWeightAnnotation('takeover-progressing')) ?? '0'));
        return Promise.all(
          namespaces.map(async (namespace) => (await readCanary(namespace))?.status?.lastAppliedSpec),
        );
      },
      (hashes) => hashes.every((hash) => hash !== undefined && hash.length <= 7),
      60_000,
      'every status adopted in our hash',
    );
    // The analysis in flight goes on to its promotion; meanwhile, watch the failed canary's target.
    const deadline = Date.now() + 180_000;
    while ((await readCanary('takeover-progressing'))?.status?.phase !== 'Succeeded') {
      failedReplicas.push((await readDeployment('takeover-failed'))?.spec.replicas);
      progressingWeights.push(Number((await canaryWeightAnnotation('takeover-progressing')) ?? '0'));
      if (Date.now() > deadline)
        throw new Error(`the analysis in flight did not finish:\n${running.tail(60)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // ---- then ----------------------------------------------------------------------------------
    for (const namespace of namespaces) {
      const was = before.get(namespace)!;
      const now = (await readCanary(namespace))!;
      expect(await eventCount(namespace, 'New revision detected'), namespace).toBe(was.newRevisions);
      if (namespace !== 'takeover-progressing') {
        expect(now.status?.phase, namespace).toBe(was.canary.status?.phase);
        expect(hookCalls(namespace), `${namespace}: no hook called`).toBe(was.hooks);
      }
    }
    // Succeeded and Initialized: the primary keeps what Flagger promoted; the target stays at zero.
    expect(
      (await readDeployment('takeover-succeeded', 'podinfo-primary'))?.spec.template.spec.containers[0]
        ?.image,
    ).toBe(V2);
    expect((await readDeployment('takeover-succeeded'))?.spec.replicas).toBe(0);
    expect(await canaryWeightAnnotation('takeover-succeeded')).toBe('0');
    expect((await readDeployment('takeover-initialized'))?.spec.replicas).toBe(0);
    // Failed: the rejected version never came back.
    expect(failedReplicas.length).toBeGreaterThan(1);
    expect(failedReplicas.every((replicas) => replicas === 0)).toBe(true);
    expect(
      (await readDeployment('takeover-failed', 'podinfo-primary'))?.spec.template.spec.containers[0]?.image,
    ).toBe(V1);
    // In flight: no restart from 0 %, no second pre-rollout; it went on to the promotion.
    // A restarted analysis would route everything back to the primary (0 %) before reaching 50 %.
    const firstZero = progressingWeights.indexOf(0);
    const beforePromotion = firstZero === -1 ? progressingWeights : progressingWeights.slice(0, firstZero);
    expect(beforePromotion).toContain(50);
    expect(beforePromotion.every((weight) => weight >= stoppedWeight)).toBe(true);
    expect(hookCalls('takeover-progressing', 'pre-rollout')).toBe(preRolloutCalls);
    expect(hookCalls('takeover-progressing', 'post-rollout')).toBeGreaterThan(0);
    expect(
      (await readDeployment('takeover-progressing', 'podinfo-primary'))?.spec.template.spec.containers[0]
        ?.image,
    ).toBe(V2);
    expect(
      running.logs.filter((line) => String(line['msg']).startsWith('Took over podinfo.')).length,
    ).toBeGreaterThanOrEqual(4);

    // ---- and a change made after the takeover is analysed as any other -------------------------
    const hooksBefore = hookCalls('takeover-succeeded');
    await setImage('takeover-succeeded', V3);
    await waitForPhase('takeover-succeeded', ['Progressing']);
    await waitForPhase('takeover-succeeded', ['Succeeded']);
    expect(await eventCount('takeover-succeeded', 'New revision detected')).toBe(
      before.get('takeover-succeeded')!.newRevisions + 1,
    );
    expect(hookCalls('takeover-succeeded')).toBeGreaterThan(hooksBefore);
    expect(
      (await readDeployment('takeover-succeeded', 'podinfo-primary'))?.spec.template.spec.containers[0]
        ?.image,
    ).toBe(V3);
  }, 900_000);
});
