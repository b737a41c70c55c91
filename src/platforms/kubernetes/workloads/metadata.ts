/** Names, annotation keys and metadata filters every generated object shares (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers, docs/flagger-compatibility.md#29-target-kinds). */
import type { Canary } from '../../../api/schema/canary.js';
import type { OwnerReference } from '../client.js';

export const PRIMARY_SUFFIX = '-primary';
export const CANARY_SUFFIX = '-canary';
/** Pod-template annotation whose change forces the primary's rollout. */
export const FLAGGER_ID_ANNOTATION = 'flagger-id';
/** Flagger's DaemonSet "scale to zero": a nodeSelector no Node matches. */
export const SCALE_TO_ZERO_NODE_SELECTOR = 'flagger.app/scale-to-zero';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

export const primaryName = (name: string): string => `${name}${PRIMARY_SUFFIX}`;
export const namespaceOf = (canary: Canary): string => canary.metadata.namespace ?? 'default';

/**
 * Annotations copied from a target to its primary. Flux's keys would make Flux prune or adopt
 * the copy; kubectl's last-applied and the Deployment controller's revision belong to the
 * original object and would mislead `kubectl apply` and `rollout history` on the copy.
 */
export const isCopiedAnnotation = (key: string): boolean =>
  !key.includes('toolkit.fluxcd.io') &&
  key !== LAST_APPLIED_ANNOTATION &&
  !key.startsWith('deployment.kubernetes.io/');

export function copiedAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations ?? {}).filter(([key]) => isCopiedAnnotation(key)));
}

/** The owners of a copy: the Canary as controller, the original's other owners demoted. */
export function copyOwners(
  canaryOwner: OwnerReference,
  sourceOwners: readonly OwnerReference[] | undefined,
): OwnerReference[] {
  return [
    canaryOwner,
    ...(sourceOwners ?? [])
      .filter((owner) => owner.uid !== canaryOwner.uid)
      .map((owner) => ({ ...owner, controller: false })),
  ];
}
