/**
 * DaemonSet targets: a DaemonSet has no replicas, so "zero" is Flagger's nodeSelector that no
 * Node carries, and readiness compares scheduled pods with the desired count.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness } from '../../../engine/ports.js';
import { RESOURCES } from '../resources.js';
import { clone } from './compare.js';
import { namespaceOf, SCALE_TO_ZERO_NODE_SELECTOR } from './metadata.js';
import { PodWorkload } from './pod-workload.js';
import { daemonSetReadiness, type ReadinessSettings } from './readiness.js';
import { daemonSetTemplateHash } from './revision.js';
import type { DaemonSet, PodTemplateSpec } from './types.js';

export class DaemonSetWorkload extends PodWorkload<DaemonSet> {
  protected readonly resource = RESOURCES.daemonSets;
  protected readonly kind = 'DaemonSet';

  protected copiedSpec(_canary: Canary, target: DaemonSet): Promise<Partial<DaemonSet['spec']>> {
    const { minReadySeconds, revisionHistoryLimit, updateStrategy } = target.spec;
    return Promise.resolve({ minReadySeconds, revisionHistoryLimit, updateStrategy });
  }

  /** The primary never inherits the target's "scaled to zero" state. */
  protected templateOf(target: DaemonSet): PodTemplateSpec {
    const template = clone(target.spec.template);
    const nodeSelector = { ...template.spec.nodeSelector };
    delete nodeSelector[SCALE_TO_ZERO_NODE_SELECTOR];
    if (Object.keys(nodeSelector).length > 0) template.spec.nodeSelector = nodeSelector;
    else delete template.spec.nodeSelector;
    return template;
  }

  protected readiness(canary: Canary, daemonSet: DaemonSet, settings: ReadinessSettings): Readiness {
    return daemonSetReadiness(daemonSet, settings, canary.status?.lastTransitionTime);
  }

  protected templateHash(template: PodTemplateSpec): string {
    return daemonSetTemplateHash(template);
  }

  protected reconcileAutoscaler(): Promise<void> {
    return Promise.resolve();
  }

  async scaleToZero(canary: Canary): Promise<void> {
    const target = await this.readTargetFromServer(canary);
    if (target.spec.template.spec.nodeSelector?.[SCALE_TO_ZERO_NODE_SELECTOR] === 'true') return;
    await this.setScaledToZero(canary, true);
  }

  async scaleFromZero(canary: Canary): Promise<void> {
    const target = await this.readTargetFromServer(canary);
    if (target.spec.template.spec.nodeSelector?.[SCALE_TO_ZERO_NODE_SELECTOR] === undefined) return;
    await this.setScaledToZero(canary, false);
  }

  async restoreTarget(canary: Canary): Promise<void> {
    const target = await this.readTarget(canary);
    let generation = 0;
    if (target.spec.template.spec.nodeSelector?.[SCALE_TO_ZERO_NODE_SELECTOR] !== undefined) {
      const written = await this.setScaledToZero(canary, false);
      generation = written.metadata.generation ?? 0;
    }
    await this.waitUntilReady(canary, generation);
  }

  private setScaledToZero(canary: Canary, scaled: boolean): Promise<DaemonSet> {
    return this.context.client.mergePatch<DaemonSet>(
      this.resource,
      namespaceOf(canary),
      canary.spec.targetRef.name,
      {
        spec: {
          template: { spec: { nodeSelector: { [SCALE_TO_ZERO_NODE_SELECTOR]: scaled ? 'true' : null } } },
        },
      },
    );
  }
}
