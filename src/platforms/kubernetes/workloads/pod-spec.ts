/**
 * The primary's pod template (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers): the target's, with tracked configs pointing at
 * their `-primary` copies and every selector that picks the target's pods picking the primary's.
 */
import type { SelectorLabel } from '../options.js';
import { clone } from './compare.js';
import { FLAGGER_ID_ANNOTATION, primaryName } from './metadata.js';
import type { Container, LabelSelector, LocalRef, PodSpec, PodTemplateSpec } from './types.js';

export interface PrimaryRewrite {
  /** Names of the tracked ConfigMaps and Secrets (the ones that have a `-primary` copy). */
  readonly configMaps: ReadonlySet<string>;
  readonly secrets: ReadonlySet<string>;
  /** The target's selector label and value. */
  readonly selector: SelectorLabel;
}

function renameRef(ref: LocalRef | undefined, tracked: ReadonlySet<string>): void {
  if (ref?.name !== undefined && tracked.has(ref.name)) ref.name = primaryName(ref.name);
}

function rewriteContainer(container: Container, rewrite: PrimaryRewrite): void {
  for (const env of container.env ?? []) {
    renameRef(env.valueFrom?.configMapKeyRef, rewrite.configMaps);
    renameRef(env.valueFrom?.secretKeyRef, rewrite.secrets);
  }
  for (const source of container.envFrom ?? []) {
    renameRef(source.configMapRef, rewrite.configMaps);
    renameRef(source.secretRef, rewrite.secrets);
  }
}

/** A selector-label value naming the target's pods now names the primary's. */
function rewriteSelector(selector: LabelSelector | undefined, { label, value }: SelectorLabel): void {
  if (selector === undefined) return;
  if (selector.matchLabels?.[label] === value) selector.matchLabels[label] = primaryName(value);
  for (const requirement of selector.matchExpressions ?? []) {
    if (requirement.key !== label || requirement.values === undefined) continue;
    requirement.values = requirement.values.map((item) => (item === value ? primaryName(item) : item));
  }
}

/** A rewritten deep copy; the input is left untouched. */
export function primaryPodSpec(spec: PodSpec, rewrite: PrimaryRewrite): PodSpec {
  const copy = clone(spec);
  for (const volume of copy.volumes ?? []) {
    renameRef(volume.configMap, rewrite.configMaps);
    const secret = volume.secret;
    if (secret?.secretName !== undefined && rewrite.secrets.has(secret.secretName)) {
      secret.secretName = primaryName(secret.secretName);
    }
    for (const source of volume.projected?.sources ?? []) {
      renameRef(source.configMap, rewrite.configMaps);
      renameRef(source.secret, rewrite.secrets);
    }
  }
  for (const container of [...(copy.initContainers ?? []), ...copy.containers]) {
    rewriteContainer(container, rewrite);
  }
  for (const constraint of copy.topologySpreadConstraints ?? []) {
    rewriteSelector(constraint.labelSelector, rewrite.selector);
  }
  const antiAffinity = copy.affinity?.podAntiAffinity;
  for (const term of antiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    rewriteSelector(term.labelSelector, rewrite.selector);
  }
  for (const weighted of antiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    rewriteSelector(weighted.podAffinityTerm.labelSelector, rewrite.selector);
  }
  return copy;
}

/**
 * The primary's pod template without `flagger-id`: the selector label gets the primary's value,
 * the rest of the metadata and the rewritten spec come from the target.
 */
export function primaryPodTemplate(template: PodTemplateSpec, rewrite: PrimaryRewrite): PodTemplateSpec {
  const metadata = clone(template.metadata ?? {});
  metadata.labels = { ...metadata.labels, [rewrite.selector.label]: primaryName(rewrite.selector.value) };
  const annotations = { ...metadata.annotations };
  delete annotations[FLAGGER_ID_ANNOTATION];
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  else delete metadata.annotations;
  return { ...clone(template), metadata, spec: primaryPodSpec(template.spec, rewrite) };
}

/** The template with `flagger-id` removed, for comparing a live primary with what it should run. */
export function withoutFlaggerId(template: PodTemplateSpec): PodTemplateSpec {
  const copy = clone(template);
  const annotations = { ...copy.metadata?.annotations };
  delete annotations[FLAGGER_ID_ANNOTATION];
  if (copy.metadata !== undefined) {
    if (Object.keys(annotations).length > 0) copy.metadata.annotations = annotations;
    else delete copy.metadata.annotations;
  }
  return copy;
}

export function withFlaggerId(template: PodTemplateSpec, flaggerId: string): PodTemplateSpec {
  const metadata = { ...template.metadata };
  metadata.annotations = { ...metadata.annotations, [FLAGGER_ID_ANNOTATION]: flaggerId };
  return { ...template, metadata };
}
