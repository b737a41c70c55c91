/**
 * The sync handler (docs/flagger-compatibility.md#0-process-model, docs/flagger-compatibility.md#15-validation-when-a-canary-is-synced, docs/flagger-compatibility.md#210-revert-on-deletion): what happens when a Canary is added, its spec
 * changes, or it is being deleted. It validates, keeps the revertOnDeletion finalizer in step
 * with the spec, runs the finalization on deletion, marks a new canary Initializing, and tells
 * the scheduler whether the canary should tick.
 */
import type { Canary } from '../../api/schema/canary.js';
import { analysisIntervalMs, analysisOf } from '../../engine/settings.js';
import { formatKey, keyOf, type EventSink, type StatusStore } from '../../engine/ports.js';
import { withPhase } from '../../engine/status.js';
import type { LogWriter } from '../../shared/logger.js';
import { formatPath } from '../../validate/path.js';
import { checkCanary } from '../../validate/semantics/canary.js';
import type { KubeClient, KubeObject } from './client.js';
import { isNotFound } from './errors.js';
import { RESOURCES } from './resources.js';

/** Flagger's finalizer name, so canaries created under Flagger keep being finalized. */
export const CANARY_FINALIZER = 'finalizer.flagger.app';

export type CanaryObject = Canary & KubeObject;

export type SyncOutcome =
  /** Tick every `intervalMs`. */
  | { readonly schedule: true; readonly intervalMs: number }
  /** Do not tick (invalid, being deleted, gone); `reason` is logged. */
  | { readonly schedule: false; readonly reason: string };

export interface SyncDependencies {
  readonly client: KubeClient;
  /** The controller's --mesh-provider: canaries without spec.provider are validated against its router. */
  readonly meshProvider: string;
  readonly status: StatusStore;
  readonly events: EventSink;
  readonly finalize: (canary: CanaryObject) => Promise<void>;
  readonly now: () => Date;
  /** The shortest interval a job ticks at (Flagger: 10 s; lower only on test clusters). */
  readonly minIntervalMs?: number;
  readonly logger: Pick<LogWriter, 'info' | 'warn'>;
}

export class CanarySync {
  /** Generation whose validation errors were already reported, by canary uid. */
  private readonly reportedInvalid = new Map<string, number>();

  constructor(private readonly deps: SyncDependencies) {}

  async sync(canary: CanaryObject): Promise<SyncOutcome> {
    const name = formatKey(keyOf(canary));
    if (canary.metadata.deletionTimestamp !== undefined) return this.deleting(canary);

    const problems = this.validate(canary);
    if (problems !== undefined) return { schedule: false, reason: problems };

    await this.keepFinalizer(canary);
    if (canary.status?.conditions === undefined || canary.status.conditions.length === 0) {
      await this.deps.status.update(keyOf(canary), (status) =>
        status.conditions !== undefined && status.conditions.length > 0
          ? status
          : withPhase(status, {
              phase: 'Initializing',
              kind: canary.spec.targetRef.kind,
              now: this.deps.now(),
              specIterations: analysisOf(canary.spec)?.iterations ?? 0,
            }),
      );
      this.deps.logger.info(
        { canary: name },
        `New ${canary.spec.targetRef.kind} detected, starting initialization.`,
      );
    }
    return {
      schedule: true,
      intervalMs: analysisIntervalMs(analysisOf(canary.spec)?.interval, this.deps.minIntervalMs),
    };
  }

  /** Semantic errors the CRD schema cannot express, reported once per generation. */
  private validate(canary: CanaryObject): string | undefined {
    const errors = checkCanary(canary as unknown as Record<string, unknown>, {
      meshProvider: this.deps.meshProvider,
    }).filter((finding) => finding.severity === 'error');
    if (canary.spec.targetRef.kind === 'Workload') {
      errors.push({
        severity: 'error',
        path: ['spec', 'targetRef', 'kind'],
        message:
          'Workload targets are local processes run by `vireo local apply`; on Kubernetes use a Deployment, DaemonSet or Service',
      });
    }
    const uid = canary.metadata.uid ?? canary.metadata.name;
    if (errors.length === 0) {
      this.reportedInvalid.delete(uid);
      return undefined;
    }
    const text = errors.map((finding) => `${formatPath(finding.path)}: ${finding.message}`).join('; ');
    const generation = canary.metadata.generation ?? 0;
    if (this.reportedInvalid.get(uid) !== generation) {
      this.reportedInvalid.set(uid, generation);
      void this.deps.events.emit(canary, 'Warning', `Invalid canary, not running it: ${text}`);
      this.deps.logger.warn({ canary: formatKey(keyOf(canary)) }, `invalid canary: ${text}`);
    }
    return `invalid: ${text}`;
  }

  /** revertOnDeletion adds the finalizer; removing the field removes it (docs/flagger-compatibility.md#210-revert-on-deletion). */
  private async keepFinalizer(canary: CanaryObject): Promise<void> {
    const finalizers = canary.metadata.finalizers ?? [];
    const wanted = canary.spec.revertOnDeletion === true;
    const present = finalizers.includes(CANARY_FINALIZER);
    if (wanted === present) return;
    const next = wanted
      ? [...finalizers, CANARY_FINALIZER]
      : finalizers.filter((item) => item !== CANARY_FINALIZER);
    await this.patchFinalizers(canary, next);
  }

  private async deleting(canary: CanaryObject): Promise<SyncOutcome> {
    const finalizers = canary.metadata.finalizers ?? [];
    if (!finalizers.includes(CANARY_FINALIZER)) return { schedule: false, reason: 'being deleted' };
    await this.deps.finalize(canary);
    await this.patchFinalizers(
      canary,
      finalizers.filter((item) => item !== CANARY_FINALIZER),
    );
    return { schedule: false, reason: 'finalized and deleted' };
  }

  /** A merge patch with the resourceVersion read, so a concurrent change is not overwritten. */
  private async patchFinalizers(canary: CanaryObject, finalizers: string[]): Promise<void> {
    try {
      await this.deps.client.mergePatch(RESOURCES.canaries, canary.metadata.namespace, canary.metadata.name, {
        metadata: { finalizers, resourceVersion: canary.metadata.resourceVersion },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
