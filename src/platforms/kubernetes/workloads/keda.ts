/**
 * A KEDA ScaledObject as the target's autoscaler (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers
 * "KEDA"): `<so>-primary` scales `<t>-primary` with the target's settings and triggers, whose
 * queries are pointed at the primary; while the target sits at zero replicas its ScaledObject is
 * paused, or KEDA would scale it straight back up.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { canaryOwnerReference, labelsWithPrefix, type KubernetesPlatformOptions } from '../options.js';
import { RESOURCES } from '../resources.js';
import type { AutoscalerDeps, TargetAutoscaler } from './autoscaler.js';
import { containsDesired } from './compare.js';
import { WorkloadNotFoundError } from './errors.js';
import { copiedAnnotations, namespaceOf, primaryName } from './metadata.js';
import type { ScaledObject, ScaledObjectTrigger } from './types.js';

/** KEDA's own pause: holds the workload at this many replicas and stops scaling it. */
export const PAUSED_REPLICAS_ANNOTATION = 'autoscaling.keda.sh/paused-replicas';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A trigger query pointed at the primary: `<t>` and `<t>-canary` become `<t>-primary` where they
 * stand as whole names (not inside `<t>-primary` or `<t>-other`).
 */
export function primaryQuery(query: string, target: string): string {
  const name = new RegExp(`(?<![\\w.-])${escapeRegExp(target)}(?:-canary)?(?![\\w-])`, 'g');
  return query.replace(name, primaryName(target));
}

function primaryTrigger(trigger: ScaledObjectTrigger, canary: Canary): ScaledObjectTrigger {
  const query = trigger.metadata?.query;
  if (query === undefined) return trigger;
  const override =
    trigger.name === undefined ? undefined : canary.spec.autoscalerRef?.primaryScalerQueries?.[trigger.name];
  return {
    ...trigger,
    metadata: { ...trigger.metadata, query: override ?? primaryQuery(query, canary.spec.targetRef.name) },
  };
}

/** `<so>-primary`: the target's ScaledObject pointed at the primary, never paused, owned by the Canary. */
export function primaryScaledObject(
  target: ScaledObject,
  canary: Canary,
  options: KubernetesPlatformOptions,
): ScaledObject {
  const overrides = canary.spec.autoscalerRef?.primaryScalerReplicas;
  const { scaleTargetRef, advanced, triggers, ...settings } = target.spec;
  const hpaConfig = advanced?.horizontalPodAutoscalerConfig;
  const annotations = copiedAnnotations(target.metadata.annotations);
  delete annotations[PAUSED_REPLICAS_ANNOTATION];
  const minReplicaCount = overrides?.minReplicas ?? settings.minReplicaCount;
  const maxReplicaCount = overrides?.maxReplicas ?? settings.maxReplicaCount;
  return {
    metadata: {
      name: primaryName(target.metadata.name),
      namespace: target.metadata.namespace ?? namespaceOf(canary),
      labels: labelsWithPrefix(target.metadata.labels, options.includeLabelPrefix),
      annotations,
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      ...pick(settings, [
        'pollingInterval',
        'cooldownPeriod',
        'initialCooldownPeriod',
        'idleReplicaCount',
        'fallback',
      ]),
      ...(minReplicaCount === undefined ? {} : { minReplicaCount }),
      ...(maxReplicaCount === undefined ? {} : { maxReplicaCount }),
      scaleTargetRef: { ...scaleTargetRef, name: primaryName(canary.spec.targetRef.name) },
      ...(advanced === undefined
        ? {}
        : {
            advanced: {
              ...advanced,
              ...(hpaConfig?.name === undefined
                ? {}
                : { horizontalPodAutoscalerConfig: { ...hpaConfig, name: primaryName(hpaConfig.name) } }),
            },
          }),
      triggers: triggers.map((trigger) => primaryTrigger(trigger, canary)),
    },
  };
}

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) picked[key] = object[key];
  return picked;
}

function scaledObjectName(canary: Canary): string | undefined {
  const ref = canary.spec.autoscalerRef;
  return ref?.kind === 'ScaledObject' ? ref.name : undefined;
}

async function readTarget(deps: AutoscalerDeps, canary: Canary): Promise<ScaledObject | undefined> {
  const name = scaledObjectName(canary);
  if (name === undefined) return undefined;
  const namespace = namespaceOf(canary);
  const target = await deps.reader.get<ScaledObject>(RESOURCES.scaledObjects, namespace, name);
  if (target === undefined) {
    throw new WorkloadNotFoundError(
      `ScaledObject ${namespace}/${name} named by Canary ${canary.metadata.name} (autoscalerRef) does not exist: create it (KEDA's keda.sh/v1alpha1), or remove autoscalerRef`,
    );
  }
  return target;
}

async function setPaused(deps: AutoscalerDeps, canary: Canary, paused: boolean): Promise<void> {
  const target = await readTarget(deps, canary);
  if (target === undefined) return;
  const current = target.metadata.annotations?.[PAUSED_REPLICAS_ANNOTATION];
  if (paused ? current === '0' : current === undefined) return;
  await deps.client.mergePatch(RESOURCES.scaledObjects, namespaceOf(canary), target.metadata.name, {
    metadata: { annotations: { [PAUSED_REPLICAS_ANNOTATION]: paused ? '0' : null } },
  });
}

export const KEDA_AUTOSCALER: TargetAutoscaler = {
  kind: 'ScaledObject',
  async reconcilePrimary(deps, canary, mode) {
    const target = await readTarget(deps, canary);
    if (target === undefined) return;
    const desired = primaryScaledObject(target, canary, deps.options);
    const live = await deps.reader.get<ScaledObject>(
      RESOURCES.scaledObjects,
      desired.metadata.namespace ?? namespaceOf(canary),
      desired.metadata.name,
    );
    if (
      live !== undefined &&
      (!mode.update ||
        (containsDesired(live.spec, desired.spec) &&
          containsDesired(live.metadata.labels ?? {}, desired.metadata.labels) &&
          containsDesired(live.metadata.annotations ?? {}, desired.metadata.annotations)))
    )
      return;
    await deps.client.apply(RESOURCES.scaledObjects, desired);
  },
  pauseTarget: (deps, canary) => setPaused(deps, canary, true),
  resumeTarget: (deps, canary) => setPaused(deps, canary, false),
  async minReplicas(deps, canary) {
    return (await readTarget(deps, canary))?.spec.minReplicaCount;
  },
};
