/**
 * The engine's Workloads port for local mode. A canary's target is a Workload (a process set
 * named `<namespace>.<target>`), its primary a second set `<namespace>.<target>-primary` running
 * the last promoted spec. As on Kubernetes: the target is scaled to zero between analyses,
 * scaled up when a new revision appears, and promotion copies its spec to the primary.
 *
 * Unlike a Deployment, the target's processes do not change by themselves when the manifest
 * does: they run the revision under analysis (`status.lastAppliedSpec`), recorded as the
 * state's `canarySpec`. When the engine restarts the analysis for a newer revision, the target
 * moves to it before its next readiness check, and promotion copies `canarySpec`, the spec that
 * was analysed, never whatever the manifest says by then (docs/local/workloads.md).
 */
import type { Canary } from '../../api/schema/canary.js';
import { keyOf, type Readiness, type TargetRevision, type Workloads } from '../../engine/ports.js';
import { VireoError } from '../../shared/errors.js';
import type { WorkloadSpec } from './workload-spec.js';
import { workloadSpecHash } from './workload-spec.js';
import { WorkloadSpawnError, type ProcessSupervisor } from './supervisor.js';
import type { CanaryState, LocalStateStore } from './state.js';

/** The Workload specs of the current manifests, by `<namespace>/<name>`. */
export interface WorkloadCatalog {
  spec(namespace: string, name: string): WorkloadSpec | undefined;
}

/** Promotion found no spec whose hash is the analysed revision's: nothing unanalysed is promoted. */
export class RevisionNotAnalysedError extends VireoError {
  constructor(message: string) {
    super('E_REVISION_NOT_ANALYSED', message);
  }
}

const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
const RESUME_READY_TIMEOUT_MS = 30_000;

export const targetSetName = (canary: Canary): string =>
  `${keyOf(canary).namespace}.${canary.spec.targetRef.name}`;
export const primarySetName = (canary: Canary): string => `${targetSetName(canary)}-primary`;

/** The primary runs beside the target, so it cannot share the Workload's fixed ports: it takes free ones. */
function primaryCopy(spec: WorkloadSpec, set: string, replicas = spec.replicas): WorkloadSpec {
  const copy: { -readonly [K in keyof WorkloadSpec]: WorkloadSpec[K] } = { ...spec, name: set, replicas };
  delete copy.port;
  return copy;
}

export class LocalWorkloads implements Workloads {
  /** When each set last started to change, for the progress deadline. */
  private readonly changedAt = new Map<string, number>();

  constructor(
    private readonly deps: {
      readonly supervisor: ProcessSupervisor;
      readonly catalog: WorkloadCatalog;
      readonly state: LocalStateStore;
      /** Epoch ms, on the same (possibly accelerated) clock as the engine. */
      readonly now: () => number;
    },
  ) {}

  async ensurePrimary(canary: Canary): Promise<void> {
    const state = this.deps.state.get(keyOf(canary));
    const spec = state.primarySpec ?? this.targetSpec(canary);
    if (state.primarySpec === undefined) {
      await this.deps.state.change(keyOf(canary), (entry) => {
        entry.primarySpec = spec;
      });
    }
    await this.applySet(primarySetName(canary), primaryCopy(spec, primarySetName(canary)));
  }

  primaryReadiness(canary: Canary): Promise<Readiness> {
    return Promise.resolve(this.readinessOf(canary, primarySetName(canary)));
  }

  /** Ready when the target's processes run the revision under analysis and are all ready. */
  async canaryReadiness(canary: Canary): Promise<Readiness> {
    const moving = await this.followAnalysedRevision(canary);
    return moving ?? this.readinessOf(canary, targetSetName(canary));
  }

  async scaleToZero(canary: Canary): Promise<void> {
    await this.deps.state.change(keyOf(canary), (entry) => {
      entry.targetScaledToZero = true;
    });
    await this.applySet(targetSetName(canary), { ...this.targetSpec(canary), replicas: 0 });
  }

  /** A new revision starts: the target runs the manifest's spec, which becomes the one under analysis. */
  async scaleFromZero(canary: Canary): Promise<void> {
    const spec = this.targetSpec(canary);
    await this.deps.state.change(keyOf(canary), (entry) => {
      entry.targetScaledToZero = false;
      this.recordCanarySpec(entry, spec);
    });
    await this.applySet(targetSetName(canary), spec);
  }

  /** Copies the analysed spec (never a newer one from the manifest) to the primary. */
  async promote(canary: Canary): Promise<void> {
    const spec = this.analysedSpec(canary);
    await this.deps.state.change(keyOf(canary), (entry) => {
      entry.primarySpec = { ...spec, replicas: Math.max(1, spec.replicas) };
    });
    await this.applySet(
      primarySetName(canary),
      primaryCopy(spec, primarySetName(canary), Math.max(1, spec.replicas)),
    );
  }

  revision(canary: Canary): Promise<TargetRevision> {
    // The hash covers what the processes run, not how many: scaling is not a new revision.
    return Promise.resolve({ specHash: workloadSpecHash(this.targetSpec(canary)), trackedConfigs: {} });
  }

  async restoreTarget(canary: Canary): Promise<void> {
    await this.scaleFromZero(canary);
  }

  /**
   * A canary never initialized (no promoted spec yet) whose Workload changed since its primary was
   * made starts afresh: a first apply with a mistake (a misspelled command) must not stick once the
   * manifest is corrected, before or after `vireo local down`. Returns whether it was reset.
   */
  async restartUninitialized(canary: Canary): Promise<boolean> {
    const key = keyOf(canary);
    const entry = this.deps.state.peek(key);
    if (entry?.primarySpec === undefined || entry.status.lastPromotedSpec !== undefined) return false;
    const manifest = this.deps.catalog.spec(key.namespace, canary.spec.targetRef.name);
    if (manifest === undefined || workloadSpecHash(manifest) === workloadSpecHash(entry.primarySpec))
      return false;
    await this.deps.state.change(key, (state) => {
      state.status = {};
      state.routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
      delete state.cookies;
      delete state.primarySpec;
      delete state.canarySpec;
      delete state.canarySince;
      state.targetScaledToZero = false;
    });
    for (const set of [primarySetName(canary), targetSetName(canary)]) this.changedAt.delete(set);
    // At once, not at the next tick: what the set reports from now on is about the corrected spec.
    await this.ensurePrimary(canary);
    return true;
  }

  /** Brings back the processes a restarted Vireo lost, from the persisted state. */
  async resume(canary: Canary): Promise<void> {
    const state = this.deps.state.peek(keyOf(canary));
    if (state?.primarySpec !== undefined) {
      await this.applySet(primarySetName(canary), primaryCopy(state.primarySpec, primarySetName(canary)));
    }
    // The revision under analysis, not a newer manifest the engine has not looked at yet.
    const spec = state?.canarySpec ?? this.targetSpec(canary);
    await this.applySet(
      targetSetName(canary),
      state?.targetScaledToZero === true ? { ...spec, replicas: 0 } : spec,
    );
    // Serve the persisted split with live replicas rather than 503s; a set that stays unready is
    // the engine's business (readiness, progress deadline), not a reason to hold the restart.
    await Promise.all(
      [primarySetName(canary), targetSetName(canary)].map((set) =>
        this.deps.supervisor.waitReady(set, RESUME_READY_TIMEOUT_MS).catch(() => undefined),
      ),
    );
  }

  /**
   * After "New revision detected! Restarting analysis" the engine analyses the newer revision
   * (its hash is `status.lastAppliedSpec` now): the target's processes roll to it here, before
   * any check can measure them. Returns the readiness to report while that is not possible.
   */
  private async followAnalysedRevision(canary: Canary): Promise<Readiness | undefined> {
    const key = keyOf(canary);
    const analysed = canary.status?.lastAppliedSpec;
    const entry = this.deps.state.peek(key);
    if (analysed === undefined || entry === undefined || entry.targetScaledToZero) return undefined;
    if (entry.canarySpec !== undefined && workloadSpecHash(entry.canarySpec) === analysed) return undefined;
    const spec = this.targetSpec(canary);
    if (workloadSpecHash(spec) !== analysed) {
      // The manifest moved on again since this tick began: the next tick restarts the analysis.
      return {
        ready: false,
        retriable: true,
        reason: `${targetSetName(canary)}: the Workload changed again; the analysis restarts with its newest revision`,
      };
    }
    await this.deps.state.change(key, (state) => this.recordCanarySpec(state, spec));
    await this.applySet(targetSetName(canary), spec);
    return undefined;
  }

  /** A run of a revision starts: its traffic, and only its, counts from now (runtime.ts). */
  private recordCanarySpec(entry: CanaryState, spec: WorkloadSpec): void {
    entry.canarySpec = spec;
    entry.canarySince = this.deps.now();
  }

  /** The spec whose hash is the analysed revision's (`status.lastAppliedSpec`). */
  private analysedSpec(canary: Canary): WorkloadSpec {
    const analysed = canary.status?.lastAppliedSpec;
    const recorded = this.deps.state.peek(keyOf(canary))?.canarySpec;
    const manifest = this.targetSpec(canary);
    if (analysed === undefined || analysed === '') return recorded ?? manifest;
    for (const candidate of [recorded, manifest]) {
      if (candidate !== undefined && workloadSpecHash(candidate) === analysed) return candidate;
    }
    throw new RevisionNotAnalysedError(
      `${targetSetName(canary)}: the analysed revision ${analysed} is neither the spec the canary ran nor the Workload's current spec; refusing to promote a spec that was not analysed`,
    );
  }

  private targetSpec(canary: Canary): WorkloadSpec {
    const { namespace } = keyOf(canary);
    const spec = this.deps.catalog.spec(namespace, canary.spec.targetRef.name);
    if (spec === undefined) {
      throw new Error(`Workload ${namespace}/${canary.spec.targetRef.name} is not in the applied manifests`);
    }
    return spec;
  }

  /**
   * A command that cannot start is not the engine's error to retry: the set reports it (readiness
   * says why), and the progress deadline, counted from this change, fails the canary with an alert.
   */
  private async applySet(set: string, spec: WorkloadSpec): Promise<void> {
    const before = this.deps.supervisor.status(set)?.specHash;
    if (workloadSpecHash(spec) !== before || !this.changedAt.has(set)) {
      this.changedAt.set(set, this.deps.now());
    }
    try {
      await this.deps.supervisor.apply(set, spec);
    } catch (error) {
      if (!(error instanceof WorkloadSpawnError)) throw error;
    }
  }

  private readinessOf(canary: Canary, set: string): Readiness {
    const status = this.deps.supervisor.status(set);
    if (status === undefined) return { ready: false, retriable: true, reason: `${set} is not running` };
    if (status.ready >= status.desired && !status.rolling) return { ready: true };
    const deadlineSeconds = canary.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
    const started = this.changedAt.get(set) ?? this.deps.now();
    const reason = status.error ?? `${set}: ${status.ready} of ${status.desired} replicas ready`;
    if (this.deps.now() - started > deadlineSeconds * 1000) {
      return {
        ready: false,
        retriable: false,
        reason: `${reason}; progress deadline of ${deadlineSeconds}s exceeded`,
      };
    }
    return { ready: false, retriable: true, reason };
  }
}
