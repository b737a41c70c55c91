/**
 * Controller settings that shape the objects Vireo generates (flags of `vireo controller`, named
 * as Flagger's), and the helpers every generator shares: the selector label of a target, label
 * filtering by prefix, the owner reference to a Canary.
 */
import type { Canary } from '../../api/schema/canary.js';
import { VireoError } from '../../shared/errors.js';
import type { OwnerReference } from './client.js';

export interface KubernetesPlatformOptions {
  /** --selector-labels: the first of these found in the target's selector is "the" label. */
  readonly selectorLabels: readonly string[];
  /** --include-label-prefix: object labels copied to generated objects; "*" copies all. */
  readonly includeLabelPrefix: readonly string[];
  /** --enable-config-tracking: copy referenced ConfigMaps/Secrets to `-primary` and track them. */
  readonly enableConfigTracking: boolean;
  /** --ingress-annotations-prefix for the nginx router. */
  readonly ingressAnnotationsPrefix: string;
  /** --ingress-class: `spec.ingressClassName` of the contour router's HTTPProxy; unset writes none. */
  readonly ingressClass?: string;
}

export const DEFAULT_PLATFORM_OPTIONS: KubernetesPlatformOptions = {
  selectorLabels: ['app', 'name', 'app.kubernetes.io/name'],
  includeLabelPrefix: [],
  enableConfigTracking: true,
  ingressAnnotationsPrefix: 'nginx.ingress.kubernetes.io',
};

export class TargetSelectorError extends VireoError {
  constructor(message: string) {
    super('E_TARGET_SELECTOR', message);
  }
}

export interface SelectorLabel {
  readonly label: string;
  readonly value: string;
}

/** The target's selector label and value (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers, docs/flagger-compatibility.md#31-services), or an error naming what to add. */
export function selectorLabelOf(
  kind: string,
  name: string,
  matchLabels: Readonly<Record<string, string>> | undefined,
  selectorLabels: readonly string[],
): SelectorLabel {
  for (const label of selectorLabels) {
    const value = matchLabels?.[label];
    if (value !== undefined && value !== '') return { label, value };
  }
  throw new TargetSelectorError(
    `${kind} ${name}: spec.selector.matchLabels has none of the selector labels ${selectorLabels.map((label) => `"${label}"`).join(', ')}; add one of them (with the same value on the pod template), or start the controller with --selector-labels naming the label it uses`,
  );
}

/** Labels whose key starts with one of `prefixes` ("*" keeps all, none keeps none). */
export function labelsWithPrefix(
  labels: Readonly<Record<string, string>> | undefined,
  prefixes: readonly string[],
): Record<string, string> {
  if (labels === undefined) return {};
  if (prefixes.includes('*')) return { ...labels };
  return Object.fromEntries(
    Object.entries(labels).filter(([key]) =>
      prefixes.some((prefix) => prefix !== '' && key.startsWith(prefix)),
    ),
  );
}

/** The controller owner reference every generated object carries (garbage-collected with the Canary). */
export function canaryOwnerReference(canary: Canary): OwnerReference {
  const uid = (canary.metadata as { uid?: string }).uid;
  if (uid === undefined) {
    throw new VireoError(
      'E_CANARY_UID',
      `Canary ${canary.metadata.name} has no metadata.uid: it was not read from the API server`,
    );
  }
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    name: canary.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
