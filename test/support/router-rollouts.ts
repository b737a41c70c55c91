/**
 * A Flagger user's rollouts through `vireo controller` (the built binary) for any router: a
 * Deployment and a Canary applied, the image changed, and the canary weight the router's own
 * object says observed at every step until promotion, or until the rollback a failing webhook
 * causes. The router test files give the provider and how to read the weight from its object.
 */
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { podinfoDeployment } from './canary-fixtures.js';
import type { ControllerProcess } from './controller-process.js';
import { ensureNamespace, eventually } from './kube.js';

type CanaryObject = KubeObject & { status?: { phase?: string } };
type Deployment = KubeObject & {
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
};

export interface RolloutWorld {
  readonly client: KubeClient;
  readonly controller: ControllerProcess;
}

export interface RolloutCase {
  readonly namespace: string;
  readonly provider: string;
  /** The canary weight in force, read from the router's own object (undefined while it does not exist). */
  readonly canaryWeight: () => Promise<number | undefined>;
  /** A rollout webhook URL answering each analysis step. */
  readonly webhookUrl: string;
  /** Objects to apply before the Canary (a root HTTPProxy, for example). */
  readonly before?: () => Promise<void>;
  /** More Canary spec fields (spec.ingressRef, spec.routeRef, a spec.service of its own...). */
  readonly spec?: Record<string, unknown>;
  /** The analysis, instead of 20 % steps up to 60 % (an A/B canary's iterations and match). */
  readonly analysis?: Record<string, unknown>;
  /** Another target than Deployment podinfo (a Knative Service), created by `before`. */
  readonly targetRef?: { readonly apiVersion: string; readonly kind: string; readonly name: string };
  /** How the target's image changes, for a target other than Deployment podinfo. */
  readonly changeImage?: (image: string) => Promise<void>;
}

export async function phaseOf(client: KubeClient, namespace: string): Promise<string> {
  return (await client.get<CanaryObject>(RESOURCES.canaries, namespace, 'podinfo'))?.status?.phase ?? '';
}

export async function waitForPhase(world: RolloutWorld, namespace: string, phases: string[]): Promise<void> {
  try {
    await eventually(
      () => phaseOf(world.client, namespace),
      (phase) => phases.includes(phase),
      180_000,
      `canary podinfo.${namespace} in ${phases.join('|')}`,
    );
  } catch (error) {
    console.error(world.controller.tail(80));
    throw error;
  }
}

/** Deployment podinfo and a Canary (stepping 20 % to 60 % unless the case says), initialized by the controller. */
export async function givenInitializedCanary(world: RolloutWorld, rollout: RolloutCase): Promise<void> {
  const { client } = world;
  await ensureNamespace(client, rollout.namespace);
  if (rollout.targetRef === undefined)
    await client.create(RESOURCES.deployments, podinfoDeployment(rollout.namespace));
  await rollout.before?.();
  await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace: rollout.namespace },
    spec: {
      provider: rollout.provider,
      targetRef: rollout.targetRef ?? { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      progressDeadlineSeconds: 60,
      ...(rollout.targetRef === undefined ? { service: { port: 80, targetPort: 9898 } } : {}),
      ...rollout.spec,
      analysis: {
        interval: '2s',
        threshold: 2,
        ...(rollout.analysis ?? { stepWeight: 20, maxWeight: 60 }),
        webhooks: [{ name: 'acceptance', type: 'rollout', url: rollout.webhookUrl }],
      },
    },
  });
  await waitForPhase(world, rollout.namespace, ['Initialized']);
}

/** Changes the image and returns every distinct canary weight seen until the phase is one of `until`. */
export async function rollOut(
  world: RolloutWorld,
  rollout: RolloutCase,
  image: string,
  until: string[],
): Promise<(number | undefined)[]> {
  const { client } = world;
  if (rollout.changeImage !== undefined) {
    await rollout.changeImage(image);
  } else {
    const current = (await client.get<Deployment>(RESOURCES.deployments, rollout.namespace, 'podinfo'))!;
    const containers = current.spec.template.spec.containers.map((container) => ({ ...container, image }));
    await client.mergePatch(RESOURCES.deployments, rollout.namespace, 'podinfo', {
      spec: { template: { spec: { containers } } },
    });
  }
  const seen: (number | undefined)[] = [];
  const deadline = Date.now() + 180_000;
  // Waits for the outcome, sampling the weight all along: every step shows up in the object.
  for (;;) {
    const weight = await rollout.canaryWeight();
    if (seen.length === 0 || seen.at(-1) !== weight) seen.push(weight);
    if (until.includes(await phaseOf(client, rollout.namespace))) {
      seen.push(await rollout.canaryWeight());
      return seen.filter((value, index) => index === 0 || seen[index - 1] !== value);
    }
    if (Date.now() > deadline) {
      console.error(world.controller.tail(80));
      throw new Error(
        `canary podinfo.${rollout.namespace} did not reach ${until.join('|')}; weights seen ${JSON.stringify(seen)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function primaryImage(client: KubeClient, namespace: string): Promise<string | undefined> {
  const primary = await client.get<Deployment>(RESOURCES.deployments, namespace, 'podinfo-primary');
  return primary?.spec.template.spec.containers[0]?.image;
}
