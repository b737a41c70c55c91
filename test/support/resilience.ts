/**
 * What the controller resilience suites (test/cluster/controller-sigkill, apiserver-restart,
 * leader-failover) share: one canary per strategy the controller supports, whose checks pass or
 * fail on purpose, and the steps of a user's release (a new image, then waiting for the verdict).
 */
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment, podinfoIngress } from './canary-fixtures.js';
import { ensureNamespace, eventually } from './kube.js';
import { canarySeriesIn, type Series } from './mesh-exporter.js';
import type { RolloutRecorder } from './rollout-recorder.js';

export const FIRST_IMAGE = 'ghcr.io/stefanprodan/podinfo:6.0.0';

export type CanaryResource = KubeObject & {
  status?: { phase?: string; lastAppliedSpec?: string; canaryWeight?: number; iterations?: number };
};
export type DeploymentResource = KubeObject & {
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
};

export interface Scenario {
  readonly namespace: string;
  /** nginx canary (weights), nginx A/B (header match), kubernetes blue/green (iterations). */
  readonly strategy: 'canary' | 'A/B' | 'blue/green';
  /** The phase its checks lead to: the success rate is 95 %, checked against min 90 or min 99. */
  readonly expect: 'Succeeded' | 'Failed';
}

/** The built-in request-success-rate series each scenario's check reads (see mesh-exporter.ts). */
export function seriesFor(scenarios: readonly Scenario[]): Series[] {
  return scenarios.flatMap((scenario) =>
    canarySeriesIn(scenario.strategy === 'blue/green' ? 'http' : 'nginx', scenario.namespace),
  );
}

/**
 * The R-suites break the API server, the controller or the leader, not rollouts: on a loaded machine,
 * repeated outages can hold a primary's rollout past Kubernetes' 60 s default, which would be a
 * (correct) failed promotion, not what these suites measure. Their Deployments and Canaries get room.
 */
const RESILIENCE_PROGRESS_DEADLINE_SECONDS = 600;

export function canaryFor(scenario: Scenario, interval = '1s'): KubeObject {
  const metrics = [
    {
      name: 'request-success-rate',
      interval: '1m',
      thresholdRange: { min: scenario.expect === 'Succeeded' ? 90 : 99 },
    },
  ];
  const common = { interval, threshold: 2, metrics };
  const progressDeadlineSeconds = RESILIENCE_PROGRESS_DEADLINE_SECONDS;
  switch (scenario.strategy) {
    case 'canary':
      return canary({
        namespace: scenario.namespace,
        provider: 'nginx',
        progressDeadlineSeconds,
        analysis: { ...common, stepWeight: 20, maxWeight: 60 },
      });
    case 'A/B':
      return canary({
        namespace: scenario.namespace,
        provider: 'nginx',
        progressDeadlineSeconds,
        analysis: { ...common, iterations: 3, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
      });
    case 'blue/green':
      return canary({
        namespace: scenario.namespace,
        provider: 'kubernetes',
        progressDeadlineSeconds,
        analysis: { ...common, iterations: 3 },
      });
  }
}

/** The namespace, the podinfo Deployment (and Ingress for nginx) and the Canary. */
export async function createScenario(client: KubeClient, scenario: Scenario, interval = '1s'): Promise<void> {
  await ensureNamespace(client, scenario.namespace);
  await client.create(
    RESOURCES.deployments,
    podinfoDeployment(scenario.namespace, { progressDeadlineSeconds: RESILIENCE_PROGRESS_DEADLINE_SECONDS }),
  );
  if (scenario.strategy !== 'blue/green')
    await client.create(RESOURCES.ingresses, podinfoIngress(scenario.namespace));
  await client.apply(RESOURCES.canaries, canaryFor(scenario, interval));
}

export const readCanary = (client: KubeClient, namespace: string): Promise<CanaryResource | undefined> =>
  client.get<CanaryResource>(RESOURCES.canaries, namespace, 'podinfo');

export const readDeployment = (
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<DeploymentResource | undefined> =>
  client.get<DeploymentResource>(RESOURCES.deployments, namespace, name);

export const imageOf = (deployment: DeploymentResource | undefined): string | undefined =>
  deployment?.spec.template.spec.containers[0]?.image;

/** A new revision, as a user releases one: the target's image changes. Returns the revision analysed before. */
export async function release(client: KubeClient, namespace: string, image: string): Promise<string> {
  const before = (await readCanary(client, namespace))?.status?.lastAppliedSpec ?? '';
  const target = (await readDeployment(client, namespace, 'podinfo'))!;
  const containers = target.spec.template.spec.containers.map((container) => ({ ...container, image }));
  await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
    spec: { template: { spec: { containers } } },
  });
  return before;
}

export interface Verdict {
  readonly phase: string;
  readonly revision: string;
  readonly primaryImage: string | undefined;
  readonly targetReplicas: number | undefined;
}

/** Waits until the canary has finished analysing a revision other than `before`. */
export async function verdictAfter(
  client: KubeClient,
  namespace: string,
  before: string,
  timeoutMs: number,
): Promise<Verdict> {
  const done = (await eventually(
    () => readCanary(client, namespace),
    (current) =>
      ['Succeeded', 'Failed'].includes(current?.status?.phase ?? '') &&
      (current?.status?.lastAppliedSpec ?? '') !== before,
    timeoutMs,
    `the analysis of a new revision in ${namespace}`,
  ))!;
  const primary = await readDeployment(client, namespace, 'podinfo-primary');
  const target = await readDeployment(client, namespace, 'podinfo');
  return {
    phase: done.status?.phase ?? '',
    revision: done.status?.lastAppliedSpec ?? '',
    primaryImage: imageOf(primary),
    targetReplicas: target?.spec.replicas,
  };
}

/** Right phase: the expected one, the primary on the new image only after a success, the canary parked. */
export function isRightVerdict(
  scenario: Scenario,
  verdict: Verdict,
  image: string,
  previousImage: string,
): boolean {
  return (
    verdict.phase === scenario.expect &&
    verdict.primaryImage === (scenario.expect === 'Succeeded' ? image : previousImage) &&
    verdict.targetReplicas === 0
  );
}

export async function waitForInitialized(
  client: KubeClient,
  scenarios: readonly Scenario[],
  timeoutMs = 120_000,
): Promise<void> {
  for (const scenario of scenarios) {
    await eventually(
      () => readCanary(client, scenario.namespace),
      (current) => current?.status?.phase === 'Initialized',
      timeoutMs,
      `${scenario.namespace} Initialized`,
    );
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How many times the controller announced a promotion in `namespace`: the `Copying … template
 * spec` and `Promotion completed!` Events, counts included (a repeated message bumps its Event's
 * count). A kill can lose an announcement, never add one: more than the revisions promoted means
 * a promotion step ran twice.
 */
export async function promotionAnnouncements(
  client: KubeClient,
  namespace: string,
): Promise<{ copies: number; completions: number }> {
  const events = await client.list<KubeObject & { message?: string; count?: number }>(
    RESOURCES.events,
    namespace,
  );
  let copies = 0;
  let completions = 0;
  for (const event of events.items) {
    const count = event.count ?? 1;
    if (event.message?.startsWith('Copying ') === true) copies += count;
    if (event.message?.startsWith('Promotion completed!') === true) completions += count;
  }
  return { copies, completions };
}

/** Waits until `recorder` holds every change up to each scenario's Canary as the API server has it now. */
export async function waitForRecorderCatchUp(
  client: KubeClient,
  recorder: Pick<RolloutRecorder, 'events'>,
  scenarios: readonly Scenario[],
): Promise<void> {
  await eventually(
    async () => {
      const events = recorder.events();
      const finals = await Promise.all(scenarios.map((scenario) => readCanary(client, scenario.namespace)));
      return finals.every((final) =>
        events.some(
          (event) =>
            event.resource === 'canaries' && event.rv >= Number(final?.metadata.resourceVersion ?? 0),
        ),
      );
    },
    Boolean,
    30_000,
    'the recorder caught up',
  );
}

/**
 * The scenarios whose promotions were announced more often than revisions were promoted
 * (`promoted(scenario)`): a promotion step ran twice. Each entry says the counts.
 */
export async function promotionsAnnouncedTwice(
  client: KubeClient,
  scenarios: readonly Scenario[],
  promoted: (scenario: Scenario) => number,
): Promise<string[]> {
  const problems: string[] = [];
  for (const scenario of scenarios) {
    const count = promoted(scenario);
    const announced = await promotionAnnouncements(client, scenario.namespace);
    if (announced.copies > count || announced.completions > count)
      problems.push(
        `${scenario.namespace}: ${count} promoted, ${announced.copies} "Copying" and ${announced.completions} "Promotion completed" events`,
      );
  }
  return problems;
}
