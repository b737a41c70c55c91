/**
 * The engine's Workloads port on Kubernetes. Reads go through the injected ObjectReader (the
 * controller's watch caches), writes through the KubeClient, and every method compares before it
 * writes, so a steady-state tick sends no request at all.
 *
 *   const workloads = new KubernetesWorkloads({ client, reader, options, logger });
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness, TargetRevision, Workloads } from '../../../engine/ports.js';
import type { KubeClient } from '../client.js';
import type { KubernetesPlatformOptions } from '../options.js';
import type { ObjectReader } from '../reader.js';
import {
  RESTORE_BACKOFF,
  type RestoreBackoff,
  type WorkloadContext,
  type WorkloadLogger,
} from './context.js';
import { createWorkloads, targetKindOf, type TargetKind } from './factory.js';

export { UnsupportedTargetError, WorkloadNotFoundError, ConfigNotFoundError } from './errors.js';
export { UnsupportedAutoscalerError, TargetNotRestoredError } from './errors.js';

export interface KubernetesWorkloadsDependencies {
  readonly client: KubeClient;
  readonly reader: ObjectReader;
  readonly options: KubernetesPlatformOptions;
  readonly logger?: WorkloadLogger;
  /** revertOnDeletion's wait for the target (default 3 s ×2, 4 checks); tests shorten it. */
  readonly restoreBackoff?: RestoreBackoff;
}

export class KubernetesWorkloads implements Workloads {
  private readonly context: WorkloadContext;
  private readonly byKind = new Map<TargetKind, Workloads>();

  constructor(dependencies: KubernetesWorkloadsDependencies) {
    this.context = {
      client: dependencies.client,
      reader: dependencies.reader,
      options: dependencies.options,
      logger: dependencies.logger,
      now: () => new Date(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      restoreBackoff: dependencies.restoreBackoff ?? RESTORE_BACKOFF,
    };
  }

  ensurePrimary(canary: Canary): Promise<void> {
    return this.of(canary).ensurePrimary(canary);
  }

  primaryReadiness(canary: Canary): Promise<Readiness> {
    return this.of(canary).primaryReadiness(canary);
  }

  canaryReadiness(canary: Canary): Promise<Readiness> {
    return this.of(canary).canaryReadiness(canary);
  }

  scaleToZero(canary: Canary): Promise<void> {
    return this.of(canary).scaleToZero(canary);
  }

  scaleFromZero(canary: Canary): Promise<void> {
    return this.of(canary).scaleFromZero(canary);
  }

  promote(canary: Canary): Promise<void> {
    return this.of(canary).promote(canary);
  }

  revision(canary: Canary): Promise<TargetRevision> {
    return this.of(canary).revision(canary);
  }

  restoreTarget(canary: Canary): Promise<void> {
    return this.of(canary).restoreTarget(canary);
  }

  private of(canary: Canary): Workloads {
    const kind = targetKindOf(canary);
    let workloads = this.byKind.get(kind);
    if (workloads === undefined) {
      workloads = createWorkloads(kind, this.context);
      this.byKind.set(kind, workloads);
    }
    return workloads;
  }
}
