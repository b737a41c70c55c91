/**
 * What Deployments and DaemonSets share (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers): the `-primary` copy with its tracked
 * configs, content-idempotent promotion, readiness, the revision hash and revertOnDeletion's wait.
 * The kind-specific parts (scaling, copied spec fields, readiness rules) are the subclasses'.
 */
import { randomUUID } from 'node:crypto';
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness, TargetRevision, Workloads } from '../../../engine/ports.js';
import { backoffDelayMs } from '../../../shared/backoff.js';
import { isFlaggerRevision } from '../../../engine/takeover.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference, labelsWithPrefix, selectorLabelOf } from '../options.js';
import type { ResourceType } from '../resources.js';
import { clone, containsDesired, deepEqual } from './compare.js';
import { syncPrimaryConfigs } from './config-copies.js';
import { readTrackedConfigs, trackedChecksums, trackedNames, type TrackedConfig } from './config-tracking.js';
import type { WorkloadContext } from './context.js';
import { TargetNotRestoredError, WorkloadNotFoundError } from './errors.js';
import {
  copiedAnnotations,
  FLAGGER_ID_ANNOTATION,
  isCopiedAnnotation,
  namespaceOf,
  primaryName,
} from './metadata.js';
import { primaryPodTemplate, withFlaggerId, withoutFlaggerId, type PrimaryRewrite } from './pod-spec.js';
import { readinessSettings, type ReadinessSettings } from './readiness.js';
import type { DaemonSet, Deployment, PodTemplateSpec } from './types.js';

type PodWorkloadObject = Deployment | DaemonSet;

export abstract class PodWorkload<T extends PodWorkloadObject> implements Workloads {
  protected abstract readonly resource: ResourceType;
  protected abstract readonly kind: 'Deployment' | 'DaemonSet';

  constructor(protected readonly context: WorkloadContext) {}

  /** Spec fields other than selector and template copied to the primary (replicas included or not). */
  protected abstract copiedSpec(
    canary: Canary,
    target: T,
    primary: T | undefined,
  ): Promise<Partial<T['spec']>>;
  /** The target's template as the primary should get it (before rewriting). */
  protected abstract templateOf(target: T): PodTemplateSpec;
  protected abstract readiness(canary: Canary, object: T, settings: ReadinessSettings): Readiness;
  protected abstract templateHash(template: PodTemplateSpec): string;
  /** The autoscaler side of ensurePrimary (`update: false`) and promote (`update: true`). */
  protected abstract reconcileAutoscaler(canary: Canary, update: boolean): Promise<void>;

  abstract scaleToZero(canary: Canary): Promise<void>;
  abstract scaleFromZero(canary: Canary): Promise<void>;
  abstract restoreTarget(canary: Canary): Promise<void>;

  async ensurePrimary(canary: Canary): Promise<void> {
    const primary = await this.readPrimary(canary);
    if (primary === undefined) await this.createPrimary(canary, await this.readTarget(canary));
    await this.reconcileAutoscaler(canary, false);
  }

  async promote(canary: Canary): Promise<void> {
    const target = await this.readTarget(canary);
    const primary = await this.readPrimary(canary);
    if (primary === undefined) {
      this.context.logger?.warn(
        { canary: canary.metadata.name, namespace: namespaceOf(canary) },
        `${this.kind} ${primaryName(target.metadata.name)} is missing at promotion; creating it from the target`,
      );
      await this.createPrimary(canary, target);
    } else {
      const { configs, rewrite } = await this.trackedFor(canary, target);
      await syncPrimaryConfigs(this.context, canary, configs);
      await this.updatePrimary(canary, target, primary, rewrite);
    }
    await this.reconcileAutoscaler(canary, true);
  }

  /** Says which workload is not ready as Flagger's events do: "podinfo-primary.test not ready: …". */
  async primaryReadiness(canary: Canary): Promise<Readiness> {
    const name = primaryName(canary.spec.targetRef.name);
    const primary = await this.readPrimary(canary);
    if (primary === undefined) throw this.notFound(canary, name);
    const readiness = this.readiness(
      canary,
      primary,
      readinessSettings(canary, 'primary', this.context.now()),
    );
    return prefixed(readiness, `${name}.${namespaceOf(canary)} not ready: `);
  }

  /** "canary deployment podinfo.test not ready: …", as Flagger's events say it. */
  async canaryReadiness(canary: Canary): Promise<Readiness> {
    const target = await this.readTarget(canary);
    const readiness = this.readiness(canary, target, readinessSettings(canary, 'canary', this.context.now()));
    return prefixed(
      readiness,
      `canary ${this.kind.toLowerCase()} ${canary.spec.targetRef.name}.${namespaceOf(canary)} not ready: `,
    );
  }

  async revision(canary: Canary): Promise<TargetRevision> {
    const target = await this.readTarget(canary);
    const { configs, rewrite } = await this.trackedFor(canary, target);
    const revision = {
      specHash: this.templateHash(target.spec.template),
      trackedConfigs: trackedChecksums(configs),
    };
    // Only a status Flagger wrote needs to know (engine/takeover.ts); other ticks skip the read.
    if (!isFlaggerRevision(canary.status?.lastAppliedSpec)) return revision;
    const primary = await this.readPrimary(canary);
    const primaryRunsTarget =
      primary !== undefined &&
      deepEqual(
        withoutFlaggerId(primary.spec.template),
        primaryPodTemplate(this.templateOf(target), rewrite),
      );
    return { ...revision, primaryRunsTarget };
  }

  // ---- shared pieces ----------------------------------------------------------------------------

  protected async readTarget(canary: Canary): Promise<T> {
    const name = canary.spec.targetRef.name;
    const target = await this.context.reader.get<T>(this.resource, namespaceOf(canary), name);
    if (target === undefined) throw this.notFound(canary, name);
    return target;
  }

  /**
   * The target as the API server has it, for the scale decisions: a cached copy that lags (a
   * Deployment watch broken by an API server restart) would skip a scale-down the canary needs,
   * leaving a failed canary running, or skip a scale-up and analyse a canary with no pods.
   */
  protected async readTargetFromServer(canary: Canary): Promise<T> {
    const name = canary.spec.targetRef.name;
    const target = await this.context.client.get<T>(this.resource, namespaceOf(canary), name);
    if (target === undefined) throw this.notFound(canary, name);
    return target;
  }

  protected readPrimary(canary: Canary): Promise<T | undefined> {
    return this.context.reader.get<T>(
      this.resource,
      namespaceOf(canary),
      primaryName(canary.spec.targetRef.name),
    );
  }

  protected notFound(canary: Canary, name: string): WorkloadNotFoundError {
    const isPrimary = name !== canary.spec.targetRef.name;
    return new WorkloadNotFoundError(
      isPrimary
        ? `${this.kind} ${namespaceOf(canary)}/${name} (the primary of Canary ${canary.metadata.name}) does not exist yet; it is created on the next reconcile`
        : `${this.kind} ${namespaceOf(canary)}/${name} named by Canary ${canary.metadata.name} (spec.targetRef) does not exist: create it, or fix spec.targetRef`,
    );
  }

  private async trackedFor(
    canary: Canary,
    target: T,
  ): Promise<{ configs: TrackedConfig[]; rewrite: PrimaryRewrite }> {
    const selector = selectorLabelOf(
      this.kind,
      target.metadata.name,
      target.spec.selector.matchLabels,
      this.context.options.selectorLabels,
    );
    const configs = this.context.options.enableConfigTracking
      ? await readTrackedConfigs(
          this.context.reader,
          namespaceOf(canary),
          target.spec.template.spec,
          `${this.kind} ${namespaceOf(canary)}/${target.metadata.name}`,
        )
      : [];
    return { configs, rewrite: { ...trackedNames(configs), selector } };
  }

  private primaryMetadata(target: T, rewrite: PrimaryRewrite) {
    return {
      labels: {
        ...labelsWithPrefix(target.metadata.labels, this.context.options.includeLabelPrefix),
        [rewrite.selector.label]: primaryName(rewrite.selector.value),
      },
      annotations: copiedAnnotations(target.metadata.annotations),
    };
  }

  private async createPrimary(canary: Canary, target: T): Promise<void> {
    const { configs, rewrite } = await this.trackedFor(canary, target);
    // Configs first: the primary's pods mount the copies and would not start without them.
    await syncPrimaryConfigs(this.context, canary, configs);
    const primary = {
      metadata: {
        name: primaryName(target.metadata.name),
        namespace: namespaceOf(canary),
        ...this.primaryMetadata(target, rewrite),
        ownerReferences: [canaryOwnerReference(canary)],
      },
      spec: {
        ...(await this.copiedSpec(canary, target, undefined)),
        selector: { matchLabels: { [rewrite.selector.label]: primaryName(rewrite.selector.value) } },
        template: withFlaggerId(primaryPodTemplate(this.templateOf(target), rewrite), randomUUID()),
      },
    } as unknown as T;
    try {
      await this.context.client.create(this.resource, primary);
    } catch (error) {
      // Created by an earlier attempt that the cache has not shown yet: nothing left to do.
      if (!isAlreadyExists(error)) throw error;
    }
  }

  /**
   * Read-modify-write (PUT with the resourceVersion read) rather than server-side apply: with an
   * autoscaler, `replicas` belongs to the HPA, and an apply would either fight it or, by leaving
   * the field out, hand it back to the default of 1. A stale read fails with a conflict and the
   * engine retries on its next tick.
   */
  private async updatePrimary(canary: Canary, target: T, live: T, rewrite: PrimaryRewrite): Promise<void> {
    const metadata = this.primaryMetadata(target, rewrite);
    const spec = await this.copiedSpec(canary, target, live);
    const template = primaryPodTemplate(this.templateOf(target), rewrite);
    const templateChanged = !deepEqual(withoutFlaggerId(live.spec.template), template);
    const unchanged =
      !templateChanged &&
      deepEqual(live.metadata.labels ?? {}, metadata.labels) &&
      deepEqual(copiedAnnotations(live.metadata.annotations), metadata.annotations) &&
      containsDesired(live.spec, spec);
    if (unchanged) return;

    const flaggerId = templateChanged
      ? randomUUID()
      : (live.spec.template.metadata?.annotations?.[FLAGGER_ID_ANNOTATION] ?? randomUUID());
    const updated = clone(live);
    delete (updated.metadata as { managedFields?: unknown }).managedFields;
    updated.metadata.labels = metadata.labels;
    // Annotations the API server's controllers own stay; the rest mirror the target.
    updated.metadata.annotations = {
      ...Object.fromEntries(
        Object.entries(live.metadata.annotations ?? {}).filter(([key]) => !isCopiedAnnotation(key)),
      ),
      ...metadata.annotations,
    };
    Object.assign(updated.spec, spec, { template: withFlaggerId(template, flaggerId) });
    await this.context.client.replace(this.resource, updated);
  }

  /**
   * revertOnDeletion step 4: polls the target until ready. Objects older than `minGeneration`
   * (a cache that has not seen our write yet) count as not ready, never as ready.
   */
  protected async waitUntilReady(canary: Canary, minGeneration: number): Promise<void> {
    const backoff = this.context.restoreBackoff;
    const { steps } = backoff;
    let last = 'the target was not read';
    for (let step = 1; step <= steps; step++) {
      const target = await this.readTarget(canary);
      if ((target.metadata.generation ?? 0) >= minGeneration) {
        const readiness = this.readiness(
          canary,
          target,
          readinessSettings(canary, 'canary', this.context.now()),
        );
        if (readiness.ready) return;
        last = readiness.reason;
        if (!readiness.retriable) break;
      }
      if (step < steps) {
        await this.context.sleep(backoffDelayMs(backoff, step - 1));
      }
    }
    throw new TargetNotRestoredError(
      `${this.kind} ${namespaceOf(canary)}/${canary.spec.targetRef.name} was scaled back for the deletion of Canary ${canary.metadata.name} but is not ready (${last}); retrying`,
    );
  }
}

function prefixed(readiness: Readiness, prefix: string): Readiness {
  return readiness.ready ? readiness : { ...readiness, reason: `${prefix}${readiness.reason}` };
}
