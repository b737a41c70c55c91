/**
 * The contract of a target's autoscaler, and its HorizontalPodAutoscaler member: the primary's
 * `<hpa>-primary` (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers "HPA").
 * Pausing and resuming the target's HPA are no-ops: an HPA leaves a workload at 0 replicas alone.
 * The KEDA member is keda.ts; autoscalers.ts picks one by `autoscalerRef.kind`.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeClient } from '../client.js';
import type { KubernetesPlatformOptions } from '../options.js';
import { canaryOwnerReference, labelsWithPrefix } from '../options.js';
import type { ObjectReader } from '../reader.js';
import { RESOURCES } from '../resources.js';
import { containsDesired } from './compare.js';
import { WorkloadNotFoundError } from './errors.js';
import { copiedAnnotations, namespaceOf, primaryName } from './metadata.js';
import type { HorizontalPodAutoscaler } from './types.js';

export interface AutoscalerDeps {
  readonly client: KubeClient;
  readonly reader: ObjectReader;
  readonly options: KubernetesPlatformOptions;
}

/** What a Deployment target's autoscaler does around the canary's life. */
export interface TargetAutoscaler {
  readonly kind: string;
  /**
   * Creates the primary's copy when absent; with `update`, also brings an existing one in line
   * with the target's (from promotion onwards, so the analysis runs under the promoted scaling).
   */
  reconcilePrimary(deps: AutoscalerDeps, canary: Canary, mode: { update: boolean }): Promise<void>;
  /** Stops the target's autoscaler from scaling the target back up (before it is scaled to zero). */
  pauseTarget(deps: AutoscalerDeps, canary: Canary): Promise<void>;
  /** Lets the target's autoscaler scale it again (before it is scaled up for an analysis). */
  resumeTarget(deps: AutoscalerDeps, canary: Canary): Promise<void>;
  /** The target autoscaler's minimum replicas, for ScaleFromZero. */
  minReplicas(deps: AutoscalerDeps, canary: Canary): Promise<number | undefined>;
}

/** The HPA the canary names, or undefined without an autoscalerRef or with another kind. */
export function hpaNameOf(canary: Canary): string | undefined {
  const ref = canary.spec.autoscalerRef;
  return ref?.kind === 'HorizontalPodAutoscaler' ? ref.name : undefined;
}

export async function readTargetHpa(
  reader: ObjectReader,
  canary: Canary,
  name: string,
): Promise<HorizontalPodAutoscaler> {
  const namespace = namespaceOf(canary);
  const hpa = await reader.get<HorizontalPodAutoscaler>(RESOURCES.horizontalPodAutoscalers, namespace, name);
  if (hpa === undefined) {
    throw new WorkloadNotFoundError(
      `HorizontalPodAutoscaler ${namespace}/${name} named by Canary ${canary.metadata.name} (autoscalerRef) does not exist: create it, or remove autoscalerRef`,
    );
  }
  return hpa;
}

export function primaryHpa(
  target: HorizontalPodAutoscaler,
  canary: Canary,
  options: KubernetesPlatformOptions,
): HorizontalPodAutoscaler {
  const overrides = canary.spec.autoscalerRef?.primaryScalerReplicas;
  const { scaleTargetRef, minReplicas, maxReplicas, metrics, behavior } = target.spec;
  const min = overrides?.minReplicas ?? minReplicas;
  return {
    metadata: {
      name: primaryName(target.metadata.name),
      namespace: target.metadata.namespace ?? namespaceOf(canary),
      labels: labelsWithPrefix(target.metadata.labels, options.includeLabelPrefix),
      annotations: copiedAnnotations(target.metadata.annotations),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      scaleTargetRef: { ...scaleTargetRef, name: primaryName(canary.spec.targetRef.name) },
      ...(min === undefined ? {} : { minReplicas: min }),
      maxReplicas: overrides?.maxReplicas ?? maxReplicas,
      ...(metrics === undefined ? {} : { metrics }),
      ...(behavior === undefined ? {} : { behavior }),
    },
  };
}

function upToDate(live: HorizontalPodAutoscaler, desired: HorizontalPodAutoscaler): boolean {
  return (
    containsDesired(live.spec, desired.spec) &&
    // An HPA whose target HPA dropped its metrics or behavior must drop them too.
    (desired.spec.metrics !== undefined || live.spec.metrics === undefined) &&
    (desired.spec.behavior !== undefined || live.spec.behavior === undefined) &&
    containsDesired(live.metadata.labels ?? {}, desired.metadata.labels) &&
    containsDesired(live.metadata.annotations ?? {}, desired.metadata.annotations)
  );
}

/** Creates `<hpa>-primary` when absent; with `update`, brings it in line with the target's HPA. */
export async function reconcilePrimaryHpa(
  deps: AutoscalerDeps,
  canary: Canary,
  mode: { update: boolean },
): Promise<void> {
  const name = hpaNameOf(canary);
  if (name === undefined) return;
  const target = await readTargetHpa(deps.reader, canary, name);
  const desired = primaryHpa(target, canary, deps.options);
  const live = await deps.reader.get<HorizontalPodAutoscaler>(
    RESOURCES.horizontalPodAutoscalers,
    desired.metadata.namespace ?? namespaceOf(canary),
    desired.metadata.name,
  );
  if (live !== undefined && (!mode.update || upToDate(live, desired))) return;
  await deps.client.apply(RESOURCES.horizontalPodAutoscalers, desired);
}

export const HPA_AUTOSCALER: TargetAutoscaler = {
  kind: 'HorizontalPodAutoscaler',
  reconcilePrimary: reconcilePrimaryHpa,
  pauseTarget: () => Promise.resolve(),
  resumeTarget: () => Promise.resolve(),
  minReplicas: async (deps, canary) => {
    const name = hpaNameOf(canary);
    if (name === undefined) return undefined;
    return (await readTargetHpa(deps.reader, canary, name)).spec.minReplicas;
  },
};
