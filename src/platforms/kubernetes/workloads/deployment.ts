/** Deployment targets (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers): replicas scale the target, an HPA or a KEDA ScaledObject may scale the primary. */
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness } from '../../../engine/ports.js';
import { RESOURCES } from '../resources.js';
import { autoscalerOf } from './autoscalers.js';
import { namespaceOf } from './metadata.js';
import { PodWorkload } from './pod-workload.js';
import { deploymentReadiness, type ReadinessSettings } from './readiness.js';
import { podTemplateHash } from './revision.js';
import type { Deployment, PodTemplateSpec } from './types.js';

export class DeploymentWorkload extends PodWorkload<Deployment> {
  protected readonly resource = RESOURCES.deployments;
  protected readonly kind = 'Deployment';

  protected async copiedSpec(
    canary: Canary,
    target: Deployment,
    primary: Deployment | undefined,
  ): Promise<Partial<Deployment['spec']>> {
    const { progressDeadlineSeconds, minReadySeconds, revisionHistoryLimit, strategy } = target.spec;
    const copied: Partial<Deployment['spec']> = {
      progressDeadlineSeconds,
      minReadySeconds,
      revisionHistoryLimit,
      strategy,
    };
    const targetReplicas = target.spec.replicas ?? 1;
    if (primary === undefined) {
      copied.replicas = targetReplicas > 0 ? targetReplicas : 1;
    } else if (autoscalerOf(canary) === undefined && targetReplicas > 0) {
      // With an autoscaler the primary's replicas are its own; a target at zero has nothing to give.
      copied.replicas = targetReplicas;
    }
    return Promise.resolve(copied);
  }

  protected templateOf(target: Deployment): PodTemplateSpec {
    return target.spec.template;
  }

  protected readiness(_canary: Canary, deployment: Deployment, settings: ReadinessSettings): Readiness {
    return deploymentReadiness(deployment, settings);
  }

  protected templateHash(template: PodTemplateSpec): string {
    return podTemplateHash(template);
  }

  protected async reconcileAutoscaler(canary: Canary, update: boolean): Promise<void> {
    await autoscalerOf(canary)?.reconcilePrimary(this.context, canary, { update });
  }

  /** The target's autoscaler is paused first, so it does not scale the target back up. */
  async scaleToZero(canary: Canary): Promise<void> {
    await autoscalerOf(canary)?.pauseTarget(this.context, canary);
    const target = await this.readTargetFromServer(canary);
    if ((target.spec.replicas ?? 1) === 0) return;
    await this.setReplicas(canary, 0);
  }

  async scaleFromZero(canary: Canary): Promise<void> {
    await autoscalerOf(canary)?.resumeTarget(this.context, canary);
    const target = await this.readTargetFromServer(canary);
    if ((target.spec.replicas ?? 1) > 0) return;
    await this.setReplicas(canary, await this.replicasFromZero(canary));
  }

  async restoreTarget(canary: Canary): Promise<void> {
    await autoscalerOf(canary)?.resumeTarget(this.context, canary);
    const target = await this.readTarget(canary);
    const primary = await this.readPrimary(canary);
    const replicas = primary?.spec.replicas ?? (await this.replicasFromZero(canary));
    let generation = 0;
    if ((target.spec.replicas ?? 1) !== replicas) {
      const written = await this.setReplicas(canary, replicas);
      generation = written.metadata.generation ?? 0;
    }
    await this.waitUntilReady(canary, generation);
  }

  /** docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers ScaleFromZero, for a target at zero. */
  private async replicasFromZero(canary: Canary): Promise<number> {
    const autoscaler = autoscalerOf(canary);
    if (autoscaler === undefined) {
      const primary = await this.readPrimary(canary);
      const replicas = primary?.spec.replicas ?? 1;
      return replicas > 0 ? replicas : 1;
    }
    const minimum = (await autoscaler.minReplicas(this.context, canary)) ?? 1;
    return minimum > 1 ? minimum : 1;
  }

  private setReplicas(canary: Canary, replicas: number): Promise<Deployment> {
    return this.context.client.mergePatch<Deployment>(
      this.resource,
      namespaceOf(canary),
      canary.spec.targetRef.name,
      { spec: { replicas } },
    );
  }
}
